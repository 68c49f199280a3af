// A deadline for one piece of network work, cancelled when the work ends. AbortSignal.timeout's timer is not:
// it fires seconds after every delivery attempt that finished long before (a DOMException and an abort event
// per message on both devices, CPU that competes with the next message).
import type { Clock } from '../platform/clock.ts'

/** What AbortSignal.timeout aborts with, so callers telling a deadline from a cancel see no difference. */
function timedOut (): DOMException {
  return new DOMException('The operation timed out.', 'TimeoutError')
}

/** Runs `work` with a signal that aborts after `ms` unless `work` has settled by then. */
export async function withDeadline<T> (clock: Clock, ms: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const c = new AbortController()
  const timer = clock.setTimeout(() => { c.abort(timedOut()) }, ms, { unref: true })
  try {
    return await work(c.signal)
  } finally {
    timer.cancel()
  }
}
