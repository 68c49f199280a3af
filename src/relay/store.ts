// The relay's mailbox store: sealed envelopes by mailbox id, until acknowledged by the owner or expired.
// It holds only mailbox id, envelope, size and times; nothing about who deposited. Two implementations:
// SQLCipher (synchronous=FULL, so a deposit is on disk before it is acknowledged) and in-memory for unit tests.
import { randomBytes } from 'node:crypto'
import type { Database, Migration } from '../store/db.ts'
import { ITEM_ID_BYTES, type MailboxItem, type RefusalReason } from '../wire/mailbox.ts'

export interface StoredItem extends MailboxItem { readonly seq: number }

export type DepositResult =
  | { readonly ok: true, readonly item: StoredItem }
  | { readonly ok: false, readonly reason: RefusalReason, readonly message: string }

export interface DepositQuota {
  readonly maxCount: number
  readonly maxBytes: number
  readonly expiryMs: number
  /** All mailboxes together: deposits into many fresh mailbox ids must not fill the disk either. */
  readonly maxTotalBytes?: number
  /** Quota of a guest deposit (issue 14.2: into a mailbox whose owner has not authenticated recently). Guest
   * envelopes are flagged, so their relay-wide total is kept apart and bounded by guest.maxTotalBytes. */
  readonly guest?: GuestQuota
}

export interface GuestQuota {
  readonly maxCount: number
  readonly maxBytes: number
  readonly expiryMs: number
  /** All guest envelopes together. */
  readonly maxTotalBytes: number
}

/** One envelope to store; guest: deposited into a mailbox with no recent owner (DepositQuota.guest applies). */
export interface DepositEntry { readonly mailboxId: Uint8Array, readonly envelope: Uint8Array, readonly guest?: boolean }

export interface MailboxStore {
  /** Stores the envelope durably, or refuses when the mailbox is over its quota. */
  deposit (mailboxId: Uint8Array, envelope: Uint8Array, now: number, quota: DepositQuota): DepositResult
  /** The same for several envelopes, in order, committed together (group commit: one fsync for all). */
  depositMany (items: readonly DepositEntry[], now: number, quota: DepositQuota): DepositResult[]
  /** The owner authenticated: its mailbox's guest envelopes become ordinary ones (full lifetime from their receipt). */
  promote (mailboxId: Uint8Array, expiryMs: number): number
  /** Bytes held in guest envelopes, all mailboxes together. */
  guestBytes (): number
  /** Items with seq > cursor, oldest first, not expired, at most `limit` items and about `maxBytes` envelope bytes (at least one). */
  page (mailboxId: Uint8Array, cursor: number, limit: number, maxBytes: number, now: number): { items: StoredItem[], more: boolean }
  /** Deletes the listed items of this mailbox only; returns how many were deleted. */
  ack (mailboxId: Uint8Array, ids: readonly Uint8Array[]): number
  /** The same, telling for each id whether it was deleted (the ack answer carries one bit per id). */
  ackEach (mailboxId: Uint8Array, ids: readonly Uint8Array[]): boolean[]
  /** Deletes expired items; returns how many. */
  sweep (now: number): number
  usage (mailboxId: Uint8Array): { count: number, bytes: number }
  close (): void
}

export const RELAY_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'relay identity and envelopes',
    up: `
      CREATE TABLE relay_identity (k INTEGER PRIMARY KEY CHECK (k = 1), private_key BLOB NOT NULL);
      CREATE TABLE envelopes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id BLOB NOT NULL UNIQUE,
        mailbox BLOB NOT NULL,
        envelope BLOB NOT NULL,
        size INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX envelopes_by_mailbox ON envelopes (mailbox, seq);
      CREATE INDEX envelopes_by_expiry ON envelopes (expires_at);
    `
  },
  {
    version: 2,
    name: 'guest envelopes and mailbox owners (issue 14.2)',
    // authed_day: the day (UTC, days since the epoch) of the owner's last authentication, no finer: the relay keeps
    // only what its admission policy needs.
    // A relay upgraded to this version knows no owner yet: mailboxes already holding mail count as owned from
    // the upgrade day, so their offline owners do not fall under the guest lifetime while the relay learns them.
    up: `
      ALTER TABLE envelopes ADD COLUMN guest INTEGER NOT NULL DEFAULT 0;
      CREATE TABLE mailbox_owners (mailbox BLOB PRIMARY KEY, authed_day INTEGER NOT NULL) WITHOUT ROWID;
      INSERT INTO mailbox_owners (mailbox, authed_day) SELECT DISTINCT mailbox, CAST(strftime('%s', 'now') AS INTEGER) / 86400 FROM envelopes;
    `
  },
  {
    // Issue 13 (short invites, src/relay/parked-invites.ts). The blob store (issue 12) is migration 4, in
    // src/relay/blob-store.ts.
    version: 3,
    name: 'parked invites (short invite links)',
    up: `
      CREATE TABLE parked_invites (
        id BLOB PRIMARY KEY,
        sealed BLOB NOT NULL,
        remove_hash BLOB NOT NULL,
        expires_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX parked_invites_by_expiry ON parked_invites (expires_at);
    `
  }
]

function refuseQuota (usage: { count: number, bytes: number }, size: number, quota: DepositQuota, total: number, guestTotal?: number): DepositResult | undefined {
  if (quota.maxTotalBytes !== undefined && total + size > quota.maxTotalBytes) return { ok: false, reason: 'QUOTA_BYTES', message: 'This relay is full; deposit on another relay.' }
  if (guestTotal !== undefined && quota.guest !== undefined) {
    const g = quota.guest
    if (guestTotal + size > g.maxTotalBytes) return { ok: false, reason: 'QUOTA_BYTES', message: 'This relay holds its maximum for mailboxes whose owner has not connected recently; deposit on another relay or retry later.' }
    if (usage.count + 1 > g.maxCount) return { ok: false, reason: 'QUOTA_COUNT', message: `This mailbox's owner has not connected recently; it holds at most ${g.maxCount} envelopes until the owner fetches them.` }
    if (usage.bytes + size > g.maxBytes) return { ok: false, reason: 'QUOTA_BYTES', message: `This mailbox's owner has not connected recently; it holds at most ${g.maxBytes} bytes until the owner fetches them.` }
  }
  if (usage.count + 1 > quota.maxCount) return { ok: false, reason: 'QUOTA_COUNT', message: `This mailbox holds its maximum of ${quota.maxCount} envelopes; the owner must fetch them first.` }
  if (usage.bytes + size > quota.maxBytes) return { ok: false, reason: 'QUOTA_BYTES', message: `This mailbox holds its maximum of ${quota.maxBytes} bytes; the owner must fetch them first.` }
  return undefined
}

type Statement = ReturnType<Database['prepare']>
interface Usage { count: number, bytes: number }

/**
 * Quotas are checked against counters held in memory (read once at start with one GROUP BY, then kept exact on
 * every insert, ack and sweep): no deposit runs a query whose cost grows with the mailbox (a count(*) over a
 * 10,000-row mailbox cost 1.4 ms per deposit). Every statement on the per-envelope path uses an index
 * (test/relay/store.test.ts checks the plans).
 */
export class SqliteMailboxStore implements MailboxStore {
  private readonly db: Database
  /** Bytes held in all mailboxes. */
  private total = 0
  /** Bytes held in guest envelopes. */
  private guestTotal = 0
  /** Count and bytes per mailbox (hex id); a mailbox leaves the map when it empties. */
  private readonly usages = new Map<string, Usage>()
  private readonly insert: Statement
  private readonly pageQuery: Statement
  private readonly deleteOne: Statement
  private readonly sweepQuery: Statement
  private readonly promoteQuery: Statement

  constructor (db: Database) {
    this.db = db
    this.insert = db.prepare('INSERT INTO envelopes (id, mailbox, envelope, size, received_at, expires_at, guest) VALUES (?, ?, ?, ?, ?, ?, ?)')
    this.pageQuery = db.prepare(PAGE_SQL)
    this.deleteOne = db.prepare(ACK_SQL)
    this.sweepQuery = db.prepare(SWEEP_SQL)
    this.promoteQuery = db.prepare(PROMOTE_SQL)
    this.reload()
  }

  /** Reads the counters from the table (at start; after a failed transaction, which may have changed them). */
  private reload (): void {
    this.usages.clear()
    this.total = 0
    const g = this.db.prepare('SELECT coalesce(sum(size), 0) AS b FROM envelopes WHERE guest = 1').get() as { b: number | bigint }
    this.guestTotal = Number(g.b)
    for (const row of this.db.prepare('SELECT mailbox, count(*) AS n, sum(size) AS b FROM envelopes GROUP BY mailbox').all() as Array<{ mailbox: Uint8Array, n: number | bigint, b: number | bigint }>) {
      const u = { count: Number(row.n), bytes: Number(row.b) }
      this.usages.set(hex(row.mailbox), u)
      this.total += u.bytes
    }
  }

  private change (key: string, count: number, bytes: number): void {
    const u = this.usages.get(key) ?? { count: 0, bytes: 0 }
    u.count += count
    u.bytes += bytes
    this.total += bytes
    if (u.count <= 0) this.usages.delete(key)
    else this.usages.set(key, u)
  }

  deposit (mailboxId: Uint8Array, envelope: Uint8Array, now: number, quota: DepositQuota): DepositResult {
    return this.depositMany([{ mailboxId, envelope }], now, quota)[0] as DepositResult
  }

  depositMany (items: readonly DepositEntry[], now: number, quota: DepositQuota): DepositResult[] {
    // Check and insert in one transaction, so two concurrent deposits cannot both squeeze under the quota.
    try {
      return this.db.transaction((): DepositResult[] => items.map(({ mailboxId, envelope, guest = false }): DepositResult => {
        const key = hex(mailboxId)
        const g = guest && quota.guest !== undefined
        const refused = refuseQuota(this.usages.get(key) ?? { count: 0, bytes: 0 }, envelope.length, quota, this.total, g ? this.guestTotal : undefined)
        if (refused !== undefined) return refused
        const id = randomBytes(ITEM_ID_BYTES)
        const expiresAt = now + (g ? (quota.guest).expiryMs : quota.expiryMs)
        const r = this.insert.run([id, Buffer.from(mailboxId), Buffer.from(envelope), envelope.length, now, expiresAt, g ? 1 : 0])
        this.change(key, 1, envelope.length)
        if (g) this.guestTotal += envelope.length
        return { ok: true, item: { seq: r.lastInsertRowid, id: new Uint8Array(id), envelope } }
      }))()
    } catch (err) {
      this.reload() // rolled back: the counters follow the table again
      throw err
    }
  }

  page (mailboxId: Uint8Array, cursor: number, limit: number, maxBytes: number, now: number): { items: StoredItem[], more: boolean } {
    const rows = this.pageQuery.all([Buffer.from(mailboxId), cursor, now, limit + 1]) as Array<{ seq: number | bigint, id: Uint8Array, envelope: Uint8Array }>
    const items: StoredItem[] = []
    let bytes = 0
    for (const row of rows.slice(0, limit)) {
      if (items.length > 0 && bytes + row.envelope.length > maxBytes) break
      items.push({ seq: Number(row.seq), id: new Uint8Array(row.id), envelope: new Uint8Array(row.envelope) })
      bytes += row.envelope.length
    }
    return { items, more: rows.length > items.length }
  }

  ack (mailboxId: Uint8Array, ids: readonly Uint8Array[]): number {
    return this.ackEach(mailboxId, ids).filter(Boolean).length
  }

  ackEach (mailboxId: Uint8Array, ids: readonly Uint8Array[]): boolean[] {
    const mb = Buffer.from(mailboxId)
    const key = hex(mailboxId)
    try {
      const rows = this.db.transaction(() => ids.map((id) => this.deleteOne.get([Buffer.from(id), mb]) as { size: number | bigint, guest: number | bigint } | undefined))()
      for (const row of rows) {
        if (row === undefined) continue
        this.change(key, -1, -Number(row.size))
        if (Number(row.guest) === 1) this.guestTotal -= Number(row.size)
      }
      return rows.map((x) => x !== undefined)
    } catch (err) {
      this.reload()
      throw err
    }
  }

  sweep (now: number): number {
    const rows = this.sweepQuery.all([now]) as Array<{ mailbox: Uint8Array, size: number | bigint, guest: number | bigint }>
    for (const r of rows) {
      this.change(hex(r.mailbox), -1, -Number(r.size))
      if (Number(r.guest) === 1) this.guestTotal -= Number(r.size)
    }
    return rows.length
  }

  promote (mailboxId: Uint8Array, expiryMs: number): number {
    const rows = this.promoteQuery.all([expiryMs, Buffer.from(mailboxId)]) as Array<{ size: number | bigint }>
    for (const r of rows) this.guestTotal -= Number(r.size)
    return rows.length
  }

  guestBytes (): number { return this.guestTotal }

  usage (mailboxId: Uint8Array): { count: number, bytes: number } {
    const u = this.usages.get(hex(mailboxId))
    return { count: u?.count ?? 0, bytes: u?.bytes ?? 0 }
  }

  /** Bytes held in all mailboxes (status, tests). */
  totalBytes (): number { return this.total }
  /** Mailboxes holding at least one envelope (the metrics endpoint's gauge). */
  mailboxCount (): number { return this.usages.size }

  close (): void { this.db.close() }
}

/** The statements of the per-envelope path, exported so a test can check their query plans use an index. */
export const PAGE_SQL = 'SELECT seq, id, envelope FROM envelopes INDEXED BY envelopes_by_mailbox WHERE mailbox = ? AND seq > ? AND expires_at > ? ORDER BY seq LIMIT ?'
export const ACK_SQL = 'DELETE FROM envelopes WHERE id = ? AND mailbox = ? RETURNING size, guest'
export const SWEEP_SQL = 'DELETE FROM envelopes WHERE expires_at <= ? RETURNING mailbox, size, guest'
/** Runs once per owner authentication that follows a guest period; the mailbox index finds the rows. */
export const PROMOTE_SQL = 'UPDATE envelopes INDEXED BY envelopes_by_mailbox SET guest = 0, expires_at = received_at + ? WHERE mailbox = ? AND guest = 1 RETURNING size'

/** Same contract, in memory: for unit tests of the relay logic beside the tests of the real store. */
export class MemoryMailboxStore implements MailboxStore {
  private seq = 0
  private readonly rows: Array<{ seq: number, id: Uint8Array, mailbox: string, envelope: Uint8Array, receivedAt: number, expiresAt: number, guest: boolean }> = []

  deposit (mailboxId: Uint8Array, envelope: Uint8Array, now: number, quota: DepositQuota, guest = false): DepositResult {
    const total = this.rows.reduce((a, r) => a + r.envelope.length, 0)
    const g = guest && quota.guest !== undefined
    const refused = refuseQuota(this.usage(mailboxId), envelope.length, quota, total, g ? this.guestBytes() : undefined)
    if (refused !== undefined) return refused
    const item = { seq: ++this.seq, id: new Uint8Array(randomBytes(ITEM_ID_BYTES)), envelope: envelope.slice() }
    this.rows.push({ ...item, mailbox: hex(mailboxId), receivedAt: now, expiresAt: now + (g ? (quota.guest).expiryMs : quota.expiryMs), guest: g })
    return { ok: true, item }
  }

  depositMany (items: readonly DepositEntry[], now: number, quota: DepositQuota): DepositResult[] {
    return items.map(({ mailboxId, envelope, guest }) => this.deposit(mailboxId, envelope, now, quota, guest))
  }

  promote (mailboxId: Uint8Array, expiryMs: number): number {
    const mb = hex(mailboxId)
    let n = 0
    for (const r of this.rows) if (r.mailbox === mb && r.guest) { r.guest = false; r.expiresAt = r.receivedAt + expiryMs; n++ }
    return n
  }

  guestBytes (): number { return this.rows.reduce((a, r) => a + (r.guest ? r.envelope.length : 0), 0) }

  page (mailboxId: Uint8Array, cursor: number, limit: number, maxBytes: number, now: number): { items: StoredItem[], more: boolean } {
    const mb = hex(mailboxId)
    const all = this.rows.filter((r) => r.mailbox === mb && r.seq > cursor && r.expiresAt > now)
    const items: StoredItem[] = []
    let bytes = 0
    for (const r of all.slice(0, limit)) {
      if (items.length > 0 && bytes + r.envelope.length > maxBytes) break
      items.push({ seq: r.seq, id: r.id, envelope: r.envelope })
      bytes += r.envelope.length
    }
    return { items, more: all.length > items.length }
  }

  ack (mailboxId: Uint8Array, ids: readonly Uint8Array[]): number {
    return this.ackEach(mailboxId, ids).filter(Boolean).length
  }

  ackEach (mailboxId: Uint8Array, ids: readonly Uint8Array[]): boolean[] {
    const mb = hex(mailboxId)
    return ids.map((id) => {
      const i = this.rows.findIndex((r) => r.mailbox === mb && hex(r.id) === hex(id))
      if (i < 0) return false
      this.rows.splice(i, 1)
      return true
    })
  }

  sweep (now: number): number {
    const before = this.rows.length
    for (let i = this.rows.length - 1; i >= 0; i--) if ((this.rows[i]?.expiresAt ?? 0) <= now) this.rows.splice(i, 1)
    return before - this.rows.length
  }

  usage (mailboxId: Uint8Array): { count: number, bytes: number } {
    const mb = hex(mailboxId)
    const mine = this.rows.filter((r) => r.mailbox === mb)
    return { count: mine.length, bytes: mine.reduce((n, r) => n + r.envelope.length, 0) }
  }

  close (): void {}
}

function hex (b: Uint8Array): string { return Buffer.from(b).toString('hex') }
