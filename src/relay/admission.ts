// Admission policy of the relay against floods from throwaway peer ids (issue 14.2). Peer ids and connections cost
// nothing, so the relay also counts per remote address prefix (IPv4 /24, IPv6 /48), and it gives bulk quota only to
// mailboxes whose owner has authenticated recently (remembered durably in the relay db, by day). Deposits into any
// other mailbox id are "guest" deposits: a small quota, a short lifetime, and a bounded share of the relay.
// Nothing here is logged or stored about who deposited: the per-prefix counters live in memory only.
import type { PeerId } from '@libp2p/interface'
import type { Database } from '../store/db.ts'
import type { DepositStatus } from '../wire/mailbox.ts'
import type { RelayLimits } from './limits.ts'
import type { DepositQuota, MailboxStore } from './store.ts'

const DAY_MS = 24 * 3600 * 1000
const MINUTE_MS = 60_000
const HOUR_MS = 3600_000
/** Buckets of the sliding per-prefix byte window: the window's age is known to 1/30 of it (a day by default). */
const SHARE_BUCKETS = 30
/** Entries a windowed counter keeps before it prunes stale ones (a sweep prunes them too). */
const COUNTER_PRUNE_AT = 10_000

/**
 * The address prefix a remote counts under: 'ip4:a.b.c' (/24), 'ip6:xxxx:xxxx:xxxx' (/48; IPv4-mapped IPv6 counts
 * as IPv4), else the whole first component (a DNS name, a circuit address): never a shared bucket for unknowns.
 * Accepts a multiaddr string or a bare IP.
 */
export function ipPrefix (addr: string): string {
  let kind: string | undefined
  let ip = addr
  const m = /^\/(ip4|ip6)\/([^/]+)/.exec(addr)
  if (m !== null) { kind = m[1]; ip = m[2] as string } else if (addr.startsWith('/')) return `other:${addr.split('/').slice(0, 3).join('/')}`
  if (kind === 'ip4' || (kind === undefined && /^\d+\.\d+\.\d+\.\d+$/.test(ip))) return `ip4:${ip.split('.').slice(0, 3).join('.')}`
  const groups = expandIpv6(ip)
  if (groups === undefined) return `other:${addr}`
  // ::ffff:a.b.c.d is an IPv4 peer seen through a dual-stack socket.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const hi = groups[6] as number
    const lo = groups[7] as number
    return `ip4:${hi >> 8}.${hi & 0xff}.${lo >> 8}`
  }
  return `ip6:${groups.slice(0, 3).map((g) => g.toString(16)).join(':')}`
}

/** The eight 16-bit groups of an IPv6 address (zone dropped, '::' and a trailing dotted IPv4 expanded). */
function expandIpv6 (text: string): number[] | undefined {
  let s = text.split('%')[0] as string
  const v4 = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s)
  if (v4 !== null) {
    const [a, b, c, d] = v4.slice(2).map(Number) as [number, number, number, number]
    s = `${v4[1] as string}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const halves = s.split('::')
  if (halves.length > 2) return undefined
  const part = (h: string): string[] => h === '' ? [] : h.split(':')
  const head = part(halves[0] as string)
  const tail = halves.length === 2 ? part(halves[1] as string) : []
  const fill = 8 - head.length - tail.length
  if (fill < 0 || (halves.length === 1 && fill !== 0)) return undefined
  const all = [...head, ...Array<string>(fill).fill('0'), ...tail]
  const groups = all.map((g) => /^[0-9a-f]{1,4}$/i.test(g) ? parseInt(g, 16) : NaN)
  return groups.some(Number.isNaN) ? undefined : groups
}

/** Events per key in a fixed window (deposit rates, new owners). */
class WindowCounter {
  private readonly m = new Map<string, { start: number, count: number }>()
  constructor (private readonly windowMs: number) {}

  /** Counts one more; false when that is over max (the event is then not counted). */
  take (key: string, now: number, max: number): boolean {
    if (this.m.size > COUNTER_PRUNE_AT) this.prune(now)
    let r = this.m.get(key)
    if (r === undefined || now - r.start >= this.windowMs) {
      r = { start: now, count: 0 }
      this.m.set(key, r)
    }
    if (r.count >= max) return false
    r.count++
    return true
  }

  prune (now: number): void {
    for (const [k, v] of this.m) if (now - v.start >= this.windowMs) this.m.delete(k)
  }
}

/** Bytes per key over a sliding window of SHARE_BUCKETS buckets. */
class ShareCounter {
  private readonly m = new Map<string, Map<number, number>>()
  private readonly bucketMs: number
  constructor (windowMs: number) { this.bucketMs = Math.max(1, Math.floor(windowMs / SHARE_BUCKETS)) }

  used (key: string, now: number): number {
    const buckets = this.m.get(key)
    if (buckets === undefined) return 0
    const oldest = Math.floor(now / this.bucketMs) - SHARE_BUCKETS + 1
    let n = 0
    for (const [slot, bytes] of buckets) {
      if (slot < oldest) buckets.delete(slot)
      else n += bytes
    }
    if (buckets.size === 0) this.m.delete(key)
    return n
  }

  add (key: string, now: number, bytes: number): void {
    if (this.m.size > COUNTER_PRUNE_AT) this.prune(now)
    const slot = Math.floor(now / this.bucketMs)
    const buckets = this.m.get(key) ?? new Map<number, number>()
    buckets.set(slot, (buckets.get(slot) ?? 0) + bytes)
    this.m.set(key, buckets)
  }

  prune (now: number): void {
    for (const k of [...this.m.keys()]) this.used(k, now)
  }
}

/**
 * Which mailboxes have an owner who authenticated within limits.ownerWindowMs: in memory, backed by the relay db's
 * mailbox_owners table (day granularity, written at most once a day per mailbox) so a restart forgets nothing.
 */
export class OwnerBook {
  private readonly days = new Map<string, number>()
  private readonly upsert
  private readonly prune

  constructor (db: Database) {
    for (const row of db.prepare('SELECT mailbox, authed_day FROM mailbox_owners').all() as Array<{ mailbox: Uint8Array, authed_day: number | bigint }>) {
      this.days.set(hex(row.mailbox), Number(row.authed_day))
    }
    this.upsert = db.prepare('INSERT INTO mailbox_owners (mailbox, authed_day) VALUES (?, ?) ON CONFLICT (mailbox) DO UPDATE SET authed_day = excluded.authed_day')
    this.prune = db.prepare('DELETE FROM mailbox_owners WHERE authed_day < ?')
  }

  /** Authenticated on a day whose end is within windowMs of now. */
  isRecent (mailboxId: Uint8Array, now: number, windowMs: number): boolean {
    const day = this.days.get(hex(mailboxId))
    return day !== undefined && (day + 1) * DAY_MS + windowMs > now
  }

  record (mailboxId: Uint8Array, now: number): void {
    const key = hex(mailboxId)
    const day = Math.floor(now / DAY_MS)
    if (this.days.get(key) === day) return
    this.upsert.run([Buffer.from(mailboxId), day])
    this.days.set(key, day)
  }

  /** Forgets owners not seen within windowMs (memory and db); returns how many. */
  sweep (now: number, windowMs: number): number {
    const oldestKept = Math.ceil((now - windowMs) / DAY_MS) - 1
    let n = 0
    for (const [k, day] of this.days) if (day < oldestKept) { this.days.delete(k); n++ }
    this.prune.run([oldestKept])
    return n
  }

  size (): number { return this.days.size }
}

export interface AdmissionOptions {
  readonly db: Database
  readonly store: MailboxStore
  readonly limits: RelayLimits
}

export class Admission {
  readonly owners: OwnerBook
  private readonly l: RelayLimits
  private readonly store: MailboxStore
  private readonly rates = new WindowCounter(MINUTE_MS)
  private readonly newOwners = new WindowCounter(HOUR_MS)
  private readonly shares: ShareCounter
  /** Quota for every deposit: the owned mailbox limits, and the guest ones for guest entries. */
  readonly quota: DepositQuota

  constructor (o: AdmissionOptions) {
    this.l = o.limits
    this.store = o.store
    this.owners = new OwnerBook(o.db)
    this.shares = new ShareCounter(o.limits.prefixWindowMs)
    const l = o.limits
    this.quota = {
      maxCount: l.maxMailboxCount,
      maxBytes: l.maxMailboxBytes,
      maxTotalBytes: l.maxTotalBytes,
      expiryMs: l.expiryMs,
      guest: { maxCount: l.guestMaxMailboxCount, maxBytes: l.guestMaxMailboxBytes, expiryMs: l.guestExpiryMs, maxTotalBytes: Math.floor(l.maxTotalBytes * l.guestTotalPercent / 100) }
    }
  }

  /** A deposit into this mailbox is a guest one (its owner has not authenticated within the window). */
  isGuest (mailboxId: Uint8Array, now: number): boolean {
    return !this.owners.isRecent(mailboxId, now, this.l.ownerWindowMs)
  }

  /**
   * One envelope from this prefix: undefined when admitted, its bytes then counted against the prefix's share at
   * once (so concurrent deposits cannot overshoot it); the caller gives them back with `refund` if the store
   * refuses the envelope. Else the refusal. The rate counts every attempt.
   */
  admit (prefix: string, size: number, now: number): DepositStatus | undefined {
    if (!this.rates.take(prefix, now, this.l.depositsPerMinutePerPrefix)) return 'RATE_LIMITED'
    if (this.shares.used(prefix, now) + size > this.prefixShareBytes()) return 'QUOTA_BYTES'
    this.shares.add(prefix, now, size)
    return undefined
  }

  /** An admitted envelope was not stored after all: its bytes leave the share (same `now` as its admit). */
  refund (prefix: string, size: number, now: number): void { this.shares.add(prefix, now, -size) }

  /** Bytes one prefix may deposit within limits.prefixWindowMs. */
  prefixShareBytes (): number { return Math.floor(this.l.maxTotalBytes * this.l.prefixSharePercent / 100) }

  /**
   * The owner proved its key on a session: remember it (durably), and its guest envelopes get the full lifetime.
   * A mailbox that is not yet a recent owner's counts against the prefix's new-owner rate; over it, the session
   * still works but the mailbox stays a guest one. Returns whether the mailbox is now a recent owner's.
   */
  ownerAuthenticated (mailboxId: Uint8Array, prefix: string, now: number): boolean {
    const fresh = this.isGuest(mailboxId, now)
    if (fresh && !this.newOwners.take(prefix, now, this.l.newOwnersPerHourPerPrefix)) return false
    this.owners.record(mailboxId, now)
    if (fresh) this.store.promote(mailboxId, this.l.expiryMs)
    return true
  }

  /** Periodic: forgets stale owners and counters. */
  sweep (now: number): void {
    this.owners.sweep(now, this.l.ownerWindowMs)
    this.rates.prune(now)
    this.newOwners.prune(now)
    this.shares.prune(now)
  }
}

/**
 * Connection-gater hook for circuit-relay-v2 reservations (its server has only a global maxReservations): a peer
 * with no reservation yet is refused when peers from its address prefix already hold `maxPerPrefix`. A peer
 * refreshing its own reservation is never refused.
 */
/** How long a reservation the gate allowed counts as pending (the server records it right after the gate
 * answers; this only covers requests racing each other). */
const RESERVATION_PENDING_MS = 10_000

export function reservationGate (o: {
  readonly maxPerPrefix: number
  /** The remote address of the peer's (non-circuit) connection, if connected. */
  readonly addrOf: (peer: PeerId) => string | undefined
  /** Current reservations: peer and the address it reserved from. */
  readonly reservations: () => Iterable<[PeerId, { readonly addr: { toString: () => string } }]>
  readonly prefixOf?: ((addr: string) => string) | undefined
  readonly now?: (() => number) | undefined
}): (peer: PeerId) => boolean {
  const prefixOf = o.prefixOf ?? ipPrefix
  const now = o.now ?? Date.now
  // Allowed and not yet seen in the store: requests from one prefix arriving together must not all pass.
  const pending = new Map<string, { prefix: string, at: number }>()
  return (peer) => {
    const addr = o.addrOf(peer)
    if (addr === undefined) return true
    const mine = prefixOf(addr)
    const t = now()
    let held = 0
    for (const [p, r] of o.reservations()) {
      pending.delete(p.toString())
      if (p.equals(peer)) return false
      if (prefixOf(r.addr.toString()) === mine) held++
    }
    for (const [id, v] of pending) {
      if (t - v.at >= RESERVATION_PENDING_MS) pending.delete(id)
      else if (v.prefix === mine && id !== peer.toString()) held++
    }
    if (held >= o.maxPerPrefix) return true
    pending.set(peer.toString(), { prefix: mine, at: t })
    return false
  }
}

function hex (b: Uint8Array): string { return Buffer.from(b).toString('hex') }
