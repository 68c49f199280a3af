// Relay limits, each with its reason. Overridable per relay (startRelay({ limits })) and in tests.
import { RELAY_MAX_RESERVATIONS } from '../net/libp2p.ts'
import { MAX_ENVELOPE_BYTES } from '../wire/envelope.ts'
import { MAILBOX_RETENTION_MS } from '../wire/mailbox.ts'

export interface RelayLimits {
  /** Largest envelope accepted in a deposit; never above the wire maximum (the largest padding bucket). */
  readonly maxEnvelopeBytes: number
  /** Envelopes one mailbox may hold: a contact offline for weeks at chat rates stays far below it. */
  readonly maxMailboxCount: number
  /** Bytes one mailbox may hold, so one stranger who learned a mailbox id cannot fill the disk. */
  readonly maxMailboxBytes: number
  /** Bytes all mailboxes together may hold: per-mailbox quotas alone let deposits into many fresh
   * mailbox ids fill the disk. 4 GiB is 64 full mailboxes, or a million ordinary 4 KiB envelopes. */
  readonly maxTotalBytes: number
  /** Deposits per connection per minute: a burst of queued messages passes, a flood does not. */
  readonly depositsPerMinutePerConnection: number
  /** How long an unacknowledged envelope is kept (MAILBOX_RETENTION_MS by default). */
  readonly expiryMs: number
  /** How often expired envelopes are swept. */
  readonly sweepIntervalMs: number
  /** Authenticated live sessions per mailbox (a device opens one; a few allow for reconnect races). */
  readonly maxSessionsPerMailbox: number
  /** How long an owner session may leave a new-item notice unanswered (no fetch) before the relay closes it
   * (issue 14.1). A device fetches once it has handled the page in hand (256 items at most), which takes seconds
   * even on an overloaded machine; a session this late has a stuck or paused reader. A paused session costs the
   * relay one notice and one stream meanwhile, so the bound can be generous. */
  readonly sessionNoticeDeadlineMs: number
  /** Circuit-relay v2 reservations. */
  readonly maxReservations: number
}

export const DEFAULT_RELAY_LIMITS: RelayLimits = {
  maxEnvelopeBytes: MAX_ENVELOPE_BYTES,
  maxMailboxCount: 10_000,
  maxMailboxBytes: 64 * 1024 * 1024,
  maxTotalBytes: 4 * 1024 * 1024 * 1024,
  depositsPerMinutePerConnection: 600,
  expiryMs: MAILBOX_RETENTION_MS,
  sweepIntervalMs: 60 * 60 * 1000,
  maxSessionsPerMailbox: 4,
  sessionNoticeDeadlineMs: 300_000,
  maxReservations: RELAY_MAX_RESERVATIONS
}

export function resolveLimits (partial: Partial<RelayLimits> | undefined): RelayLimits {
  const l = { ...DEFAULT_RELAY_LIMITS, ...partial }
  for (const [k, v] of Object.entries(l)) {
    if (!Number.isSafeInteger(v) || v <= 0) throw new RangeError(`limits.${k} must be a positive integer`)
  }
  if (l.maxEnvelopeBytes > MAX_ENVELOPE_BYTES) throw new RangeError(`limits.maxEnvelopeBytes must be at most ${MAX_ENVELOPE_BYTES}`)
  return l
}
