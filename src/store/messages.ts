// Repositories the messenger uses for conversations, messages and the outbox. Plain rows, no crypto:
// the outbox holds envelopes that are already sealed.
import type { Database } from './db.ts'

export type MessageState = 'queued' | 'sent' | 'stored' | 'delivered' | 'read' | 'failed'
export type DeliveryPath = 'direct' | 'relayed' | 'mailbox'
export type Direction = 'in' | 'out'

/** Order of the states a message moves through; a state never goes back (a late "sent" after
 * "delivered" is ignored). 'failed' is set with fail(), and a later success still wins. */
const RANK: Record<MessageState, number> = { failed: 0, queued: 1, sent: 2, stored: 3, delivered: 4, read: 5 }

export interface MessageRecord {
  /** Payload id, hex (32 characters). */
  readonly id: string
  readonly contactId: string
  readonly direction: Direction
  readonly seq: number
  readonly text: string
  readonly state: MessageState
  readonly path?: DeliveryPath
  readonly failure?: string
  /** ms: written (out) or received (in). */
  readonly at: number
  /** ms: the sender's clock when sent (incoming). */
  readonly sentAt?: number
  readonly readAt?: number
  /** Incoming: sequence numbers missing just before this one when it arrived. */
  readonly gapBefore?: number
}

export interface ConversationRecord {
  readonly contactId: string
  /** The seq the next outgoing text message takes (1, 2, 3...). */
  readonly nextOutSeq: number
  readonly highestInSeq: number
  readonly updatedAt: number
}

type Row = Record<string, unknown>

function toMessage (r: Row): MessageRecord {
  return {
    id: r.id as string,
    contactId: r.contact_id as string,
    direction: r.direction as Direction,
    seq: r.seq as number,
    text: r.text as string,
    state: r.state as MessageState,
    ...(r.path === null ? {} : { path: r.path as DeliveryPath }),
    ...(r.failure === null ? {} : { failure: r.failure as string }),
    at: r.at as number,
    ...(r.sent_at === null ? {} : { sentAt: r.sent_at as number }),
    ...(r.read_at === null ? {} : { readAt: r.read_at as number }),
    ...(r.gap_before === null ? {} : { gapBefore: r.gap_before as number })
  }
}

function toConversation (r: Row): ConversationRecord {
  return { contactId: r.contact_id as string, nextOutSeq: r.next_out_seq as number, highestInSeq: r.highest_in_seq as number, updatedAt: r.updated_at as number }
}

export class ConversationRepository {
  constructor (private readonly db: Database) {}

  ensure (contactId: string, at: number): ConversationRecord {
    this.db.prepare('INSERT INTO conversations (contact_id, updated_at) VALUES (?, ?) ON CONFLICT (contact_id) DO NOTHING').run([contactId, at])
    return this.get(contactId) as ConversationRecord
  }

  get (contactId: string): ConversationRecord | undefined {
    const r = this.db.prepare('SELECT * FROM conversations WHERE contact_id = ?').get([contactId])
    return r === undefined ? undefined : toConversation(r)
  }

  /** Most recently active first. */
  list (): ConversationRecord[] {
    return this.db.prepare('SELECT * FROM conversations ORDER BY updated_at DESC, contact_id').all().map(toConversation)
  }

  /** Takes the next outgoing sequence number (atomically: 1, 2, 3...). */
  takeOutSeq (contactId: string, at: number): number {
    return this.db.transaction(() => {
      const c = this.ensure(contactId, at)
      this.db.prepare('UPDATE conversations SET next_out_seq = next_out_seq + 1, updated_at = ? WHERE contact_id = ?').run([at, contactId])
      return c.nextOutSeq
    })()
  }

  /** Records an incoming seq; returns how many seqs are missing just before it (0 when in order or late). */
  noteIncoming (contactId: string, seq: number, at: number): number {
    return this.db.transaction(() => {
      const c = this.ensure(contactId, at)
      const gap = seq > c.highestInSeq + 1 ? seq - c.highestInSeq - 1 : 0
      this.db.prepare('UPDATE conversations SET highest_in_seq = max(highest_in_seq, ?), updated_at = ? WHERE contact_id = ?').run([seq, at, contactId])
      return gap
    })()
  }

  touch (contactId: string, at: number): void {
    this.ensure(contactId, at)
    this.db.prepare('UPDATE conversations SET updated_at = max(updated_at, ?) WHERE contact_id = ?').run([at, contactId])
  }
}

export class MessageRepository {
  constructor (private readonly db: Database) {}

  /** Inserts a message; false (and nothing changed) if (contactId, direction, id) exists: a duplicate. */
  insert (m: MessageRecord): boolean {
    const r = this.db.prepare(`INSERT INTO messages (contact_id, direction, id, seq, text, state, path, failure, at, sent_at, read_at, gap_before)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (contact_id, direction, id) DO NOTHING`).run([
      m.contactId, m.direction, m.id, m.seq, m.text, m.state, m.path ?? null, m.failure ?? null, m.at, m.sentAt ?? null, m.readAt ?? null, m.gapBefore ?? null
    ])
    return r.changes === 1
  }

  get (contactId: string, direction: Direction, id: string): MessageRecord | undefined {
    const r = this.db.prepare('SELECT * FROM messages WHERE contact_id = ? AND direction = ? AND id = ?').get([contactId, direction, id])
    return r === undefined ? undefined : toMessage(r)
  }

  /** The latest `limit` messages before `before` (ms, exclusive), returned oldest first. */
  list (contactId: string, o: { limit?: number, before?: number } = {}): MessageRecord[] {
    const limit = Math.min(Math.max(o.limit ?? 100, 1), 1000)
    const rows = this.db.prepare('SELECT * FROM messages WHERE contact_id = ? AND at < ? ORDER BY at DESC, seq DESC LIMIT ?')
      .all([contactId, o.before ?? Number.MAX_SAFE_INTEGER, limit])
    return rows.map(toMessage).reverse()
  }

  /** Moves a message forward to `state` (never back); sets path when given. True if it changed. */
  advance (contactId: string, direction: Direction, id: string, state: Exclude<MessageState, 'failed'>, o: { path?: DeliveryPath, at?: number } = {}): boolean {
    const m = this.get(contactId, direction, id)
    if (m === undefined || RANK[m.state] >= RANK[state]) return false
    this.db.prepare('UPDATE messages SET state = ?, path = coalesce(?, path), failure = NULL, read_at = CASE WHEN ? = \'read\' THEN coalesce(read_at, ?) ELSE read_at END WHERE contact_id = ? AND direction = ? AND id = ?')
      .run([state, o.path ?? null, state, o.at ?? null, contactId, direction, id])
    return true
  }

  /** Marks a message failed with a one-sentence reason, unless it was already delivered or read. */
  fail (contactId: string, direction: Direction, id: string, reason: string): boolean {
    const m = this.get(contactId, direction, id)
    if (m === undefined || RANK[m.state] >= RANK.delivered) return false
    this.db.prepare('UPDATE messages SET state = \'failed\', failure = ? WHERE contact_id = ? AND direction = ? AND id = ?').run([reason, contactId, direction, id])
    return true
  }

  /** Marks every unread incoming message of a contact read; returns their ids (for read receipts). */
  markIncomingRead (contactId: string, at: number): string[] {
    return this.db.transaction(() => {
      const ids = this.db.prepare('SELECT id FROM messages WHERE contact_id = ? AND direction = \'in\' AND read_at IS NULL').all([contactId]).map((r) => r.id as string)
      this.db.prepare('UPDATE messages SET read_at = ? WHERE contact_id = ? AND direction = \'in\' AND read_at IS NULL').run([at, contactId])
      return ids
    })()
  }

  unreadCount (contactId: string): number {
    return this.db.prepare('SELECT count(*) AS n FROM messages WHERE contact_id = ? AND direction = \'in\' AND read_at IS NULL').get([contactId])?.n as number
  }

  last (contactId: string): MessageRecord | undefined {
    const r = this.db.prepare('SELECT * FROM messages WHERE contact_id = ? ORDER BY at DESC, seq DESC LIMIT 1').get([contactId])
    return r === undefined ? undefined : toMessage(r)
  }
}

export type OutboxState = 'pending' | 'sent' | 'stored' | 'done' | 'failed'

export interface OutboxRecord {
  /** Payload id, hex. */
  readonly messageId: string
  readonly contactId: string
  /** 'text', 'receipt', 'card': what the envelope carries (for retry policy and display). */
  readonly kind: string
  readonly envelope: Uint8Array
  readonly attempts: number
  readonly nextAttemptAt: number
  readonly expiresAt: number
  readonly state: OutboxState
  readonly createdAt: number
}

function toOutbox (r: Row): OutboxRecord {
  return {
    messageId: r.message_id as string,
    contactId: r.contact_id as string,
    kind: r.kind as string,
    envelope: r.envelope as Uint8Array,
    attempts: r.attempts as number,
    nextAttemptAt: r.next_attempt_at as number,
    expiresAt: r.expires_at as number,
    state: r.state as OutboxState,
    createdAt: r.created_at as number
  }
}

export class OutboxRepository {
  constructor (private readonly db: Database) {}

  /** Adds an envelope to send; false if (contactId, messageId) is already queued. */
  add (e: { messageId: string, contactId: string, kind?: string, envelope: Uint8Array, nextAttemptAt: number, expiresAt: number, createdAt: number }): boolean {
    return this.db.prepare(`INSERT INTO outbox (contact_id, message_id, kind, envelope, attempts, next_attempt_at, expires_at, state, created_at)
      VALUES (?, ?, ?, ?, 0, ?, ?, 'pending', ?) ON CONFLICT (contact_id, message_id) DO NOTHING`).run([
      e.contactId, e.messageId, e.kind ?? 'text', e.envelope as Uint8Array<ArrayBuffer>, e.nextAttemptAt, e.expiresAt, e.createdAt
    ]).changes === 1
  }

  get (contactId: string, messageId: string): OutboxRecord | undefined {
    const r = this.db.prepare('SELECT * FROM outbox WHERE contact_id = ? AND message_id = ?').get([contactId, messageId])
    return r === undefined ? undefined : toOutbox(r)
  }

  /** Entries due for an attempt (not done or failed), oldest first. */
  due (now: number, limit = 100): OutboxRecord[] {
    return this.db.prepare(`SELECT * FROM outbox WHERE state IN ('pending', 'sent', 'stored') AND next_attempt_at <= ?
      ORDER BY next_attempt_at, created_at LIMIT ?`).all([now, limit]).map(toOutbox)
  }

  /** The earliest next attempt among open entries, for scheduling a timer. */
  nextDueAt (): number | undefined {
    const r = this.db.prepare('SELECT min(next_attempt_at) AS t FROM outbox WHERE state IN (\'pending\', \'sent\', \'stored\')').get()
    return r?.t === null || r?.t === undefined ? undefined : r.t as number
  }

  forContact (contactId: string): OutboxRecord[] {
    return this.db.prepare('SELECT * FROM outbox WHERE contact_id = ? ORDER BY created_at').all([contactId]).map(toOutbox)
  }

  /** Records an attempt: attempts + 1, the next attempt time, and optionally a new state. */
  attempted (contactId: string, messageId: string, nextAttemptAt: number, state?: OutboxState): void {
    this.db.prepare('UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, state = coalesce(?, state) WHERE contact_id = ? AND message_id = ?')
      .run([nextAttemptAt, state ?? null, contactId, messageId])
  }

  setState (contactId: string, messageId: string, state: OutboxState): void {
    this.db.prepare('UPDATE outbox SET state = ? WHERE contact_id = ? AND message_id = ?').run([state, contactId, messageId])
  }

  remove (contactId: string, messageId: string): boolean {
    return this.db.prepare('DELETE FROM outbox WHERE contact_id = ? AND message_id = ?').run([contactId, messageId]).changes === 1
  }

  /** Open entries past their expiry (to mark failed), oldest first. */
  expired (now: number): OutboxRecord[] {
    return this.db.prepare('SELECT * FROM outbox WHERE state IN (\'pending\', \'sent\', \'stored\') AND expires_at <= ? ORDER BY expires_at').all([now]).map(toOutbox)
  }

  /** Entries not yet done or failed. */
  count (): number {
    return this.db.prepare('SELECT count(*) AS n FROM outbox WHERE state IN (\'pending\', \'sent\', \'stored\')').get()?.n as number
  }
}

export class SettingsRepository {
  constructor (private readonly db: Database) {}

  get (key: string): string | undefined {
    return this.db.prepare('SELECT value FROM settings WHERE key = ?').get([key])?.value as string | undefined
  }

  set (key: string, value: string): void {
    this.db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run([key, value])
  }
}
