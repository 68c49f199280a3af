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
}

export interface MailboxStore {
  /** Stores the envelope durably, or refuses when the mailbox is over its quota. */
  deposit (mailboxId: Uint8Array, envelope: Uint8Array, now: number, quota: DepositQuota): DepositResult
  /** The same for several envelopes, in order, committed together (group commit: one fsync for all). */
  depositMany (items: ReadonlyArray<{ mailboxId: Uint8Array, envelope: Uint8Array }>, now: number, quota: DepositQuota): DepositResult[]
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
  }
]

function refuseQuota (usage: { count: number, bytes: number }, size: number, quota: DepositQuota, total: number): DepositResult | undefined {
  if (quota.maxTotalBytes !== undefined && total + size > quota.maxTotalBytes) return { ok: false, reason: 'QUOTA_BYTES', message: 'This relay is full; deposit on another relay.' }
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
  /** Count and bytes per mailbox (hex id); a mailbox leaves the map when it empties. */
  private readonly usages = new Map<string, Usage>()
  private readonly insert: Statement
  private readonly pageQuery: Statement
  private readonly deleteOne: Statement
  private readonly sweepQuery: Statement

  constructor (db: Database) {
    this.db = db
    this.insert = db.prepare('INSERT INTO envelopes (id, mailbox, envelope, size, received_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)')
    this.pageQuery = db.prepare(PAGE_SQL)
    this.deleteOne = db.prepare(ACK_SQL)
    this.sweepQuery = db.prepare(SWEEP_SQL)
    this.reload()
  }

  /** Reads the counters from the table (at start; after a failed transaction, which may have changed them). */
  private reload (): void {
    this.usages.clear()
    this.total = 0
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

  depositMany (items: ReadonlyArray<{ mailboxId: Uint8Array, envelope: Uint8Array }>, now: number, quota: DepositQuota): DepositResult[] {
    // Check and insert in one transaction, so two concurrent deposits cannot both squeeze under the quota.
    try {
      return this.db.transaction((): DepositResult[] => items.map(({ mailboxId, envelope }): DepositResult => {
        const key = hex(mailboxId)
        const refused = refuseQuota(this.usages.get(key) ?? { count: 0, bytes: 0 }, envelope.length, quota, this.total)
        if (refused !== undefined) return refused
        const id = randomBytes(ITEM_ID_BYTES)
        const r = this.insert.run([id, Buffer.from(mailboxId), Buffer.from(envelope), envelope.length, now, now + quota.expiryMs])
        this.change(key, 1, envelope.length)
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
      const sizes = this.db.transaction(() => ids.map((id) => this.deleteOne.get([Buffer.from(id), mb])?.size))()
      for (const size of sizes) if (size !== undefined) this.change(key, -1, -Number(size))
      return sizes.map((x) => x !== undefined)
    } catch (err) {
      this.reload()
      throw err
    }
  }

  sweep (now: number): number {
    const rows = this.sweepQuery.all([now]) as Array<{ mailbox: Uint8Array, size: number | bigint }>
    for (const r of rows) this.change(hex(r.mailbox), -1, -Number(r.size))
    return rows.length
  }

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
export const ACK_SQL = 'DELETE FROM envelopes WHERE id = ? AND mailbox = ? RETURNING size'
export const SWEEP_SQL = 'DELETE FROM envelopes WHERE expires_at <= ? RETURNING mailbox, size'

/** Same contract, in memory: for unit tests of the relay logic beside the tests of the real store. */
export class MemoryMailboxStore implements MailboxStore {
  private seq = 0
  private readonly rows: Array<{ seq: number, id: Uint8Array, mailbox: string, envelope: Uint8Array, expiresAt: number }> = []

  deposit (mailboxId: Uint8Array, envelope: Uint8Array, now: number, quota: DepositQuota): DepositResult {
    const total = this.rows.reduce((a, r) => a + r.envelope.length, 0)
    const refused = refuseQuota(this.usage(mailboxId), envelope.length, quota, total)
    if (refused !== undefined) return refused
    const item = { seq: ++this.seq, id: new Uint8Array(randomBytes(ITEM_ID_BYTES)), envelope: envelope.slice() }
    this.rows.push({ ...item, mailbox: hex(mailboxId), expiresAt: now + quota.expiryMs })
    return { ok: true, item }
  }

  depositMany (items: ReadonlyArray<{ mailboxId: Uint8Array, envelope: Uint8Array }>, now: number, quota: DepositQuota): DepositResult[] {
    return items.map(({ mailboxId, envelope }) => this.deposit(mailboxId, envelope, now, quota))
  }

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
