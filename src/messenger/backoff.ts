// Retry timing for the outbox: exponential backoff with full jitter, capped, so that many devices
// retrying after a relay outage do not come back in lockstep.

/** First retry after about this long. */
export const BACKOFF_BASE_MS = 500
/** Never wait longer than this between attempts: a contact coming online should not wait long. */
export const BACKOFF_MAX_MS = 60_000
/** Once a copy sits in a relay mailbox, resending is only insurance against a relay losing it. */
export const STORED_RETRY_MS = 5 * 60_000

/** Delay before attempt number `attempt` (1 = the first retry); `random` in [0, 1). */
export function backoffDelay (attempt: number, random: () => number = Math.random): number {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError('attempt must be an integer >= 1')
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt - 1, 30))
  // Half fixed, half jitter: never retries immediately, never synchronises.
  return Math.round(ceiling / 2 + random() * ceiling / 2)
}
