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
  // Issue 14.2: admission against floods from throwaway peer ids (src/relay/admission.ts applies these).
  /** How long an owner's authentication (a mailbox session) makes its mailbox a "recent owner" one, which takes
   * bulk deposits. Devices open sessions on every mailbox they own whenever online, including a new invite's mailbox
   * at once (Messenger.createInvite). Three times the envelope retention: a device away up to 90 days still finds
   * everything deposited in the last 30 days as before; the window's length gives a flooder nothing (an owner
   * session needs the mailbox's key). Away longer, deposits made meanwhile are guest ones (48 h) until it returns. */
  readonly ownerWindowMs: number
  /** Envelopes a mailbox without a recent owner (a "guest" mailbox) may hold: enough for an invite's answer and the
   * first messages to a contact whose device has not connected here yet, far too few to fill a relay. */
  readonly guestMaxMailboxCount: number
  /** Bytes a guest mailbox may hold (64 ordinary 4 KiB envelopes, or 4 of the largest). */
  readonly guestMaxMailboxBytes: number
  /** Lifetime of a guest envelope: a flood into random mailbox ids goes away in two days, not thirty. An owner who
   * authenticates in time promotes its guest envelopes to the full lifetime. */
  readonly guestExpiryMs: number
  /** Share of maxTotalBytes (percent) guest envelopes may hold together: a flood into random mailbox ids leaves the
   * rest to mailboxes whose owners are present. */
  readonly guestTotalPercent: number
  /** Deposits per minute from one IPv4 /24 or IPv6 /48 (all its connections and peer ids together): ten times one
   * connection's rate, for devices behind one NAT; fresh peer ids and connections do not multiply it. */
  readonly depositsPerMinutePerPrefix: number
  /** Share of maxTotalBytes (percent) one prefix may deposit within prefixWindowMs; with the window equal to the
   * retention, one prefix never holds more than this share. Counted in memory only (the relay stores nothing about
   * who deposited), so a restart forgets it. */
  readonly prefixSharePercent: number
  readonly prefixWindowMs: number
  /** New owners (first authentication of a mailbox not already a recent owner's) per hour from one prefix: a device
   * opens one per contact and invite, so thousands per hour is generous; minting owned mailboxes in bulk to escape
   * the guest quota is not. */
  readonly newOwnersPerHourPerPrefix: number
  /** Circuit reservations held by peers from one prefix: 1,024 fresh peer ids from one address would otherwise take
   * every slot. A NAT with this many devices on one relay is unusual; they can use a second relay. */
  readonly maxReservationsPerPrefix: number
  // Issue 12: the blob store (src/relay/blob-store.ts). Blobs live as long as envelopes (expiryMs).
  /** Encrypted bytes one blob (one file) may hold: a 100 MB file (the devices' default limit) with its padding and
   * tags is about 100.1 MB; 128 MiB leaves room for a device configured a little higher. */
  readonly maxBlobBytes: number
  /** Encrypted bytes all blobs together may hold: files are the bulk of a relay's disk, so they get their own
   * budget beside maxTotalBytes (envelopes), and a full blob store never refuses a message. */
  readonly maxBlobTotalBytes: number
  /** Encrypted bytes one uploading peer may park per blobUploadWindowMs (src/relay/blob-rate.ts): ten of the largest
   * files an hour, far above what a person sends, while one sender needs hours, not seconds, to fill the blob store
   * and shut everyone else out. Over it, puts are refused with RATE_LIMITED and the sender uses its other relays. */
  readonly blobUploadBytesPerWindow: number
  /** The same budget per network prefix (ipPrefix, as the mailbox admission counts): fresh peer ids are free, so
   * the per-peer budget alone bounds nothing; four senders' worth lets a few devices behind one NAT upload at once. */
  readonly blobUploadBytesPerPrefixWindow: number
  readonly blobUploadWindowMs: number
  /** Short invites one network prefix (ipPrefix) may park per parkWindowMs (src/relay/parked-invites.ts): a person
   * makes a few invites a day; without it one sender with fresh peer ids fills all MAX_PARKED_INVITES slots in
   * seconds and every other user of the relay loses short links for 30 days. At this rate one prefix needs
   * 10,000 / 60 hours (about a week) to fill them, and refused parks fall back to the full invite link. */
  readonly parkedInvitesPerPrefixWindow: number
  readonly parkWindowMs: number
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
  maxReservations: RELAY_MAX_RESERVATIONS,
  ownerWindowMs: 3 * MAILBOX_RETENTION_MS,
  guestMaxMailboxCount: 64,
  guestMaxMailboxBytes: 256 * 1024,
  guestExpiryMs: 48 * 3600 * 1000,
  guestTotalPercent: 10,
  depositsPerMinutePerPrefix: 6000,
  prefixSharePercent: 10,
  prefixWindowMs: MAILBOX_RETENTION_MS,
  newOwnersPerHourPerPrefix: 2000,
  maxReservationsPerPrefix: 128,
  maxBlobBytes: 128 * 1024 * 1024,
  maxBlobTotalBytes: 8 * 1024 * 1024 * 1024,
  blobUploadBytesPerWindow: 1024 * 1024 * 1024,
  blobUploadBytesPerPrefixWindow: 4 * 1024 * 1024 * 1024,
  blobUploadWindowMs: 3600 * 1000,
  parkedInvitesPerPrefixWindow: 60,
  parkWindowMs: 3600 * 1000
}

export function resolveLimits (partial: Partial<RelayLimits> | undefined): RelayLimits {
  const l = { ...DEFAULT_RELAY_LIMITS, ...partial }
  for (const [k, v] of Object.entries(l)) {
    if (!Number.isSafeInteger(v) || v <= 0) throw new RangeError(`limits.${k} must be a positive integer`)
  }
  if (l.guestTotalPercent > 100 || l.prefixSharePercent > 100) throw new RangeError('limits.guestTotalPercent and limits.prefixSharePercent are percentages (1..100)')
  if (l.maxEnvelopeBytes > MAX_ENVELOPE_BYTES) throw new RangeError(`limits.maxEnvelopeBytes must be at most ${MAX_ENVELOPE_BYTES}`)
  return l
}
