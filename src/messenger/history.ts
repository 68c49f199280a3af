// The messenger's rows in the device store: conversations, messages, the outbox, envelopes already
// received (for duplicate detection) and settings. Plain SQL on the tables of src/store/schema.ts.
import type { Database } from '../store/db.ts'
import { advanceState, DEFAULT_PAGE, MAX_PAGE, type HistoryStore, type IncomingText, type OutboxKind, type OutboxRow, type OutboxState, type OutgoingText } from './history-store.ts'
import type { DeliveryPath, MessageState, MessageView } from './types.ts'

interface MessageRow {
  contact_id: string
  direction: 'in' | 'out'
  id: string
  seq: number
  text: string
  state: MessageState
  path: DeliveryPath | null
  failure: string | null
  at: number
  sent_at: number | null
  gap_before: number | null
}

function toView (r: MessageRow): MessageView {
  return {
    id: r.id,
    contactId: r.contact_id,
    direction: r.direction,
    text: r.text,
    seq: r.seq,
    at: r.at,
    state: r.state,
    ...(r.failure !== null ? { failure: r.failure } : {}),
    ...(r.path !== null ? { path: r.path } : {}),
    ...(r.gap_before !== null && r.gap_before > 0 ? { gapBefore: r.gap_before } : {})
  }
}

function toOutbox (r: Record<string, unknown>): OutboxRow {
  return {
    contactId: r.contact_id as string,
    messageId: r.message_id as string,
    kind: r.kind as OutboxKind,
    envelope: r.envelope as Uint8Array,
    attempts: r.attempts as number,
    nextAttemptAt: r.next_attempt_at as number,
    expiresAt: r.expires_at as number,
    state: r.state as OutboxState
  }
}

export class History implements HistoryStore {
  readonly #db: Database

  constructor (db: Database) {
    this.#db = db
  }

  /** Reserves the next outgoing sequence number of a conversation. */
  nextSeq (contactId: string, now: number): number {
    const db = this.#db
    return db.transaction(() => {
      db.prepare('INSERT OR IGNORE INTO conversations (contact_id, updated_at) VALUES (?, ?)').run([contactId, now])
      const row = db.prepare('SELECT next_out_seq AS seq FROM conversations WHERE contact_id = ?').get([contactId])
      const seq = Number(row?.seq ?? 1)
      db.prepare('UPDATE conversations SET next_out_seq = ?, updated_at = ? WHERE contact_id = ?').run([seq + 1, now, contactId])
      return seq
    })()
  }

  /** The message and its outbox row in one transaction: from here a crash loses nothing. */
  queueOutgoing (m: OutgoingText): MessageView {
    const db = this.#db
    db.transaction(() => {
      db.prepare(`INSERT INTO messages (contact_id, direction, id, seq, text, state, at, sent_at)
        VALUES (?, 'out', ?, ?, ?, 'queued', ?, ?)`).run([m.contactId, m.id, m.seq, m.text, m.at, m.at])
      this.#insertOutbox(m.contactId, m.id, 'text', m.envelope, m.at, m.expiresAt)
    })()
    return this.message(m.contactId, 'out', m.id) as MessageView
  }

  queueControl (contactId: string, id: string, envelope: Uint8Array, now: number, expiresAt: number): void {
    this.#insertOutbox(contactId, id, 'control', envelope, now, expiresAt)
  }

  #insertOutbox (contactId: string, id: string, kind: OutboxKind, envelope: Uint8Array, now: number, expiresAt: number): void {
    this.#db.prepare(`INSERT INTO outbox (contact_id, message_id, kind, envelope, attempts, next_attempt_at, expires_at, state, created_at)
      VALUES (?, ?, ?, ?, 0, ?, ?, 'pending', ?)`).run([contactId, id, kind, Buffer.from(envelope), now, expiresAt, now])
  }

  due (now: number, limit: number): OutboxRow[] {
    return this.#db.prepare('SELECT * FROM outbox WHERE next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?')
      .all([now, limit]).map(toOutbox)
  }

  nextDueAt (after = Number.NEGATIVE_INFINITY): number | undefined {
    const row = this.#db.prepare('SELECT min(next_attempt_at) AS at FROM outbox WHERE next_attempt_at > ?').get([after])
    return row?.at === null || row?.at === undefined ? undefined : Number(row.at)
  }

  outbox (contactId: string, messageId: string): OutboxRow | undefined {
    const r = this.#db.prepare('SELECT * FROM outbox WHERE contact_id = ? AND message_id = ?').get([contactId, messageId])
    return r === undefined ? undefined : toOutbox(r)
  }

  outboxSize (): number {
    return Number(this.#db.prepare('SELECT count(*) AS n FROM outbox').get()?.n ?? 0)
  }

  rescheduleOutbox (contactId: string, messageId: string, o: { attempts: number, nextAttemptAt: number, state?: OutboxState }): void {
    this.#db.prepare(`UPDATE outbox SET attempts = ?, next_attempt_at = ?, state = coalesce(?, state)
      WHERE contact_id = ? AND message_id = ?`).run([o.attempts, o.nextAttemptAt, o.state ?? null, contactId, messageId])
  }

  /** Makes everything waiting for one contact due now (a newer location of the contact was found). */
  retryContactNow (contactId: string, now: number): void {
    this.#db.prepare('UPDATE outbox SET next_attempt_at = ? WHERE contact_id = ? AND next_attempt_at > ?').run([now, contactId, now])
  }

  removeOutbox (contactId: string, messageId: string): void {
    this.#db.prepare('DELETE FROM outbox WHERE contact_id = ? AND message_id = ?').run([contactId, messageId])
  }

  /** Moves an outgoing message's state forward (never back); returns the new view if it changed. */
  advance (contactId: string, id: string, state: MessageState, o: { path?: DeliveryPath, failure?: string } = {}): MessageView | undefined {
    const current = this.message(contactId, 'out', id)
    if (current === undefined) return undefined
    const next = advanceState(current, state, o)
    if (next === undefined) return undefined
    this.#db.prepare(`UPDATE messages SET state = ?, path = ?, failure = ? WHERE contact_id = ? AND direction = 'out' AND id = ?`)
      .run([next.state, next.path ?? null, next.failure ?? null, contactId, id])
    return this.message(contactId, 'out', id)
  }

  /**
   * Stores an incoming text message once. Returns undefined when it was already there (a duplicate
   * that came by another path or was re-sent because our receipt was lost).
   */
  receive (m: IncomingText): MessageView | undefined {
    const db = this.#db
    return db.transaction(() => {
      const inserted = db.prepare(`INSERT OR IGNORE INTO messages (contact_id, direction, id, seq, text, state, path, at, sent_at)
        VALUES (?, 'in', ?, ?, ?, 'delivered', ?, ?, ?)`).run([m.contactId, m.id, m.seq, m.text, m.path, m.at, m.sentAt])
      if (inserted.changes === 0) return undefined
      db.prepare('INSERT OR IGNORE INTO conversations (contact_id, updated_at) VALUES (?, ?)').run([m.contactId, m.at])
      db.prepare('UPDATE conversations SET highest_in_seq = max(highest_in_seq, ?), updated_at = ? WHERE contact_id = ?')
        .run([m.seq, m.at, m.contactId])
      this.#updateGaps(m.contactId, m.seq)
      return this.message(m.contactId, 'in', m.id)
    })()
  }

  /**
   * gap_before = how many of the sender's sequence numbers are missing just before a message. Only
   * the new message and its successor can change: two indexed look-ups, whatever the history's size.
   */
  #updateGaps (contactId: string, seq: number): void {
    const below = this.#db.prepare(`SELECT max(seq) AS seq FROM messages
      WHERE contact_id = ? AND direction = 'in' AND seq < ?`).get([contactId, seq])
    const prev = below?.seq === null || below?.seq === undefined ? 0 : Number(below.seq)
    this.#db.prepare(`UPDATE messages SET gap_before = ? WHERE contact_id = ? AND direction = 'in' AND seq = ?`)
      .run([seq - prev - 1, contactId, seq])
    const above = this.#db.prepare(`SELECT min(seq) AS seq FROM messages
      WHERE contact_id = ? AND direction = 'in' AND seq > ?`).get([contactId, seq])
    if (above?.seq !== null && above?.seq !== undefined) {
      this.#db.prepare(`UPDATE messages SET gap_before = ? WHERE contact_id = ? AND direction = 'in' AND seq = ?`)
        .run([Number(above.seq) - seq - 1, contactId, Number(above.seq)])
    }
  }

  message (contactId: string, direction: 'in' | 'out', id: string): MessageView | undefined {
    const r = this.#db.prepare('SELECT * FROM messages WHERE contact_id = ? AND direction = ? AND id = ?').get([contactId, direction, id])
    return r === undefined ? undefined : toView(r as unknown as MessageRow)
  }

  /**
   * A conversation in display order: each sender's messages by its sequence numbers, the two senders
   * interleaved by the time each message was written.
   */
  messages (contactId: string, o: { limit?: number, before?: number } = {}): MessageView[] {
    const limit = Math.min(Math.max(o.limit ?? DEFAULT_PAGE, 1), MAX_PAGE)
    const before = o.before ?? Number.MAX_SAFE_INTEGER
    const rows = this.#db.prepare(`SELECT * FROM messages WHERE contact_id = ? AND coalesce(sent_at, at) < ?
      ORDER BY coalesce(sent_at, at) DESC, seq DESC LIMIT ?`).all([contactId, before, limit]) as unknown as MessageRow[]
    const outgoing = rows.filter((r) => r.direction === 'out').sort((a, b) => a.seq - b.seq)
    const incoming = rows.filter((r) => r.direction === 'in').sort((a, b) => a.seq - b.seq)
    const merged: MessageRow[] = []
    let i = 0
    let j = 0
    const key = (r: MessageRow): number => r.sent_at ?? r.at
    while (i < outgoing.length || j < incoming.length) {
      const a = outgoing[i]
      const b = incoming[j]
      if (b === undefined || (a !== undefined && key(a) <= key(b))) { merged.push(a as MessageRow); i++ } else { merged.push(b); j++ }
    }
    return merged.map(toView)
  }

  unread (contactId: string): number {
    return Number(this.#db.prepare("SELECT count(*) AS n FROM messages WHERE contact_id = ? AND direction = 'in' AND read_at IS NULL")
      .get([contactId])?.n ?? 0)
  }

  last (contactId: string): { text: string, at: number, direction: 'in' | 'out' } | undefined {
    const r = this.#db.prepare('SELECT text, at, direction FROM messages WHERE contact_id = ? ORDER BY at DESC LIMIT 1').get([contactId])
    return r === undefined ? undefined : { text: r.text as string, at: Number(r.at), direction: r.direction as 'in' | 'out' }
  }

  /** Marks every unread incoming message read; returns their ids (for the read receipt). */
  markRead (contactId: string, now: number): string[] {
    const db = this.#db
    return db.transaction(() => {
      const ids = db.prepare("SELECT id FROM messages WHERE contact_id = ? AND direction = 'in' AND read_at IS NULL")
        .all([contactId]).map((r) => r.id as string)
      db.prepare("UPDATE messages SET read_at = ? WHERE contact_id = ? AND direction = 'in' AND read_at IS NULL").run([now, contactId])
      return ids
    })()
  }

  /** Envelopes already processed, by SHA-256 of their bytes (the whole envelope is authenticated). */
  seenEnvelope (hash: Uint8Array): { contactId: string, messageId: string | null } | undefined {
    const r = this.#db.prepare('SELECT contact_id, message_id FROM received_envelopes WHERE hash = ?').get([Buffer.from(hash)])
    return r === undefined ? undefined : { contactId: r.contact_id as string, messageId: r.message_id as string | null }
  }

  rememberEnvelope (hash: Uint8Array, contactId: string, messageId: string | null, now: number): void {
    this.#db.prepare('INSERT OR IGNORE INTO received_envelopes (hash, contact_id, message_id, at) VALUES (?, ?, ?, ?)')
      .run([Buffer.from(hash), contactId, messageId, now])
  }

  /** Forgets envelope hashes older than the longest time a copy can wait on a relay. */
  pruneEnvelopes (olderThan: number): void {
    this.#db.prepare('DELETE FROM received_envelopes WHERE at < ?').run([olderThan])
  }

  setting (key: string): string | undefined {
    const r = this.#db.prepare('SELECT value FROM settings WHERE key = ?').get([key])
    return r === undefined ? undefined : r.value as string
  }

  setSetting (key: string, value: string): void {
    this.#db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run([key, value])
  }

  transaction<T> (fn: () => T): T {
    return this.#db.transaction(fn)()
  }
}
