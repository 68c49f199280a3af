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

export class SqliteMailboxStore implements MailboxStore {
  private readonly db: Database
  /** Bytes held in all mailboxes, kept in step with every insert and delete (read once at start). */
  private total: number

  constructor (db: Database) {
    this.db = db
    this.total = Number(db.prepare('SELECT coalesce(sum(size), 0) AS b FROM envelopes').get()?.b ?? 0)
  }

  deposit (mailboxId: Uint8Array, envelope: Uint8Array, now: number, quota: DepositQuota): DepositResult {
    return this.depositMany([{ mailboxId, envelope }], now, quota)[0] as DepositResult
  }

  depositMany (items: ReadonlyArray<{ mailboxId: Uint8Array, envelope: Uint8Array }>, now: number, quota: DepositQuota): DepositResult[] {
    // Check and insert in one transaction, so two concurrent deposits cannot both squeeze under the quota.
    const insert = this.db.prepare('INSERT INTO envelopes (id, mailbox, envelope, size, received_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)')
    const before = this.total
    try {
      return this.depositAll(insert, items, now, quota)
    } catch (err) {
      this.total = before
      throw err
    }
  }

  private depositAll (insert: ReturnType<Database['prepare']>, items: ReadonlyArray<{ mailboxId: Uint8Array, envelope: Uint8Array }>, now: number, quota: DepositQuota): DepositResult[] {
    return this.db.transaction((): DepositResult[] => items.map(({ mailboxId, envelope }): DepositResult => {
      const refused = refuseQuota(this.usage(mailboxId), envelope.length, quota, this.total)
      if (refused !== undefined) return refused
      const id = randomBytes(ITEM_ID_BYTES)
      this.total += envelope.length
      const r = insert.run([id, Buffer.from(mailboxId), Buffer.from(envelope), envelope.length, now, now + quota.expiryMs])
      return { ok: true, item: { seq: r.lastInsertRowid, id: new Uint8Array(id), envelope } }
    }))()
  }

  page (mailboxId: Uint8Array, cursor: number, limit: number, maxBytes: number, now: number): { items: StoredItem[], more: boolean } {
    const rows = this.db.prepare('SELECT seq, id, envelope FROM envelopes WHERE mailbox = ? AND seq > ? AND expires_at > ? ORDER BY seq LIMIT ?')
      .all([Buffer.from(mailboxId), cursor, now, limit + 1]) as Array<{ seq: number | bigint, id: Uint8Array, envelope: Uint8Array }>
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
    const del = this.db.prepare('DELETE FROM envelopes WHERE mailbox = ? AND id = ? RETURNING size')
    const mb = Buffer.from(mailboxId)
    const sizes = this.db.transaction(() => ids.map((id) => del.get([mb, Buffer.from(id)])?.size).filter((x) => x !== undefined))()
    this.total -= sizes.reduce((a: number, b) => a + Number(b), 0)
    return sizes.length
  }

  sweep (now: number): number {
    const rows = this.db.prepare('DELETE FROM envelopes WHERE expires_at <= ? RETURNING size').all([now])
    this.total -= rows.reduce((a: number, r) => a + Number(r.size), 0)
    return rows.length
  }

  usage (mailboxId: Uint8Array): { count: number, bytes: number } {
    const row = this.db.prepare('SELECT count(*) AS n, coalesce(sum(size), 0) AS b FROM envelopes WHERE mailbox = ?').get([Buffer.from(mailboxId)]) as { n: number | bigint, b: number | bigint }
    return { count: Number(row.n), bytes: Number(row.b) }
  }

  close (): void { this.db.close() }
}

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
    const mb = hex(mailboxId)
    const want = new Set(ids.map(hex))
    let n = 0
    for (let i = this.rows.length - 1; i >= 0; i--) {
      const r = this.rows[i]
      if (r !== undefined && r.mailbox === mb && want.has(hex(r.id))) { this.rows.splice(i, 1); n++ }
    }
    return n
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
