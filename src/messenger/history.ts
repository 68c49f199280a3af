// The messenger's rows in the device store: conversations, messages, the outbox, envelopes already
// received (for duplicate detection) and settings. Plain SQL on the tables of src/store/schema.ts.
import type { Database } from '../store/db.ts'
import { silentLogger, type Logger } from '../platform/logger.ts'
import { SearchIndexer } from '../store/search-index.ts'
import { DEFAULT_PAGE, MAX_PAGE } from './page-limits.ts'
import { advanceState, type HistoryStore, type IncomingText, type OutboxKind, type OutboxRow, type OutboxState, type OutgoingText } from './history-store.ts'
import type { DeliveryPath, MessageState, MessageView, PageOptions } from './types.ts'

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
  // Issue 13 (store migration 8): absent in rows read before it.
  reply_to?: string | null
  quote?: string | null
  edited_at?: number | null
  deleted_at?: number | null
}

function toView (r: MessageRow): MessageView {
  return {
    id: r.id,
    contactId: r.contact_id,
    direction: r.direction,
    text: r.text,
    seq: r.seq,
    at: r.at,
    ...(r.direction === 'in' && r.sent_at !== null ? { sentAt: r.sent_at } : {}),
    state: r.state,
    ...(r.failure !== null ? { failure: r.failure } : {}),
    ...(r.path !== null ? { path: r.path } : {}),
    ...(r.gap_before !== null && r.gap_before > 0 ? { gapBefore: r.gap_before } : {}),
    ...chatFields(r)
  }
}

/** Issue 13: the quoted message of a reply, an edit, a deletion for everyone (src/messenger/chat/). */
function chatFields (r: MessageRow): Pick<MessageView, 'replyTo' | 'editedAt' | 'deleted'> {
  return {
    ...(typeof r.reply_to === 'string' ? { replyTo: { id: r.reply_to, quote: r.quote ?? '' } } : {}),
    ...(typeof r.edited_at === 'number' ? { editedAt: r.edited_at } : {}),
    ...(typeof r.deleted_at === 'number' ? { deleted: true } : {})
  }
}

function withState (m: MessageView, next: { state: MessageState, path: DeliveryPath | undefined, failure: string | undefined }): MessageView {
  const { path: _p, failure: _f, ...rest } = m
  return { ...rest, state: next.state, ...(next.failure !== undefined ? { failure: next.failure } : {}), ...(next.path !== undefined ? { path: next.path } : {}) }
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

/** A conversation row's last message (store migration 18) becomes the one being stored, unless that is older. */
const NEWER = 'last_at IS NULL OR excluded.last_at >= last_at'
const LAST_IF_NEWER = `last_direction = CASE WHEN ${NEWER} THEN excluded.last_direction ELSE last_direction END,
    last_id = CASE WHEN ${NEWER} THEN excluded.last_id ELSE last_id END, last_at = CASE WHEN ${NEWER} THEN excluded.last_at ELSE last_at END`

/**
 * Every statement, prepared once: `db.prepare` looks a statement up by its text on every call, and the
 * per-message path runs about ten. Those marked in PER_MESSAGE run for each message sent or received;
 * test/store/query-plans.test.ts proves by EXPLAIN QUERY PLAN that none of them scans a table.
 */
const SQL = {
  peekSeq: 'SELECT next_out_seq FROM conversations WHERE contact_id = ?',
  reserveSeq: `INSERT INTO conversations (contact_id, next_out_seq, updated_at) VALUES (?, ? + 1, ?)
    ON CONFLICT (contact_id) DO UPDATE SET next_out_seq = max(next_out_seq, excluded.next_out_seq), updated_at = excluded.updated_at`,
  // As reserveSeq, for a message stored with it: the conversation's last message (store migration 18) unless it is
  // older than the one named (a clock set back).
  queueSeq: `INSERT INTO conversations (contact_id, next_out_seq, updated_at, last_direction, last_id, last_at) VALUES (?, ? + 1, ?, 'out', ?, ?)
    ON CONFLICT (contact_id) DO UPDATE SET next_out_seq = max(next_out_seq, excluded.next_out_seq), updated_at = excluded.updated_at,
    ${LAST_IF_NEWER}`,
  insertOut: `INSERT INTO messages (contact_id, direction, id, seq, text, state, at, sent_at)
    VALUES (?, 'out', ?, ?, ?, 'queued', ?, ?)`,
  insertOutbox: `INSERT INTO outbox (contact_id, message_id, kind, envelope, attempts, next_attempt_at, expires_at, state, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)`,
  outbox: 'SELECT * FROM outbox WHERE contact_id = ? AND message_id = ?',
  reschedule: `UPDATE outbox SET attempts = ?, next_attempt_at = ?, state = coalesce(?, state)
    WHERE contact_id = ? AND message_id = ?`,
  removeOutbox: 'DELETE FROM outbox WHERE contact_id = ? AND message_id = ?',
  message: 'SELECT * FROM messages WHERE contact_id = ? AND direction = ? AND id = ?',
  setState: "UPDATE messages SET state = ?, path = ?, failure = ? WHERE contact_id = ? AND direction = 'out' AND id = ?",
  // INDEXED BY: the planner otherwise walks the primary key's (contact_id, direction) prefix (perf.md: 0.47 ms at 10k).
  seqBelow: `SELECT max(seq) AS seq FROM messages INDEXED BY messages_by_seq
    WHERE contact_id = ? AND direction = 'in' AND seq < ?`,
  seqAbove: `SELECT id, seq FROM messages INDEXED BY messages_by_seq
    WHERE contact_id = ? AND direction = 'in' AND seq > ? ORDER BY seq LIMIT 1`,
  insertIn: `INSERT OR IGNORE INTO messages (contact_id, direction, id, seq, text, state, path, at, sent_at, gap_before)
    VALUES (?, 'in', ?, ?, ?, 'delivered', ?, ?, ?, ?)`,
  setGap: "UPDATE messages SET gap_before = ? WHERE contact_id = ? AND direction = 'in' AND id = ?",
  countIn: `INSERT INTO conversations (contact_id, highest_in_seq, unread, updated_at, last_direction, last_id, last_at) VALUES (?, ?, 1, ?, 'in', ?, ?)
    ON CONFLICT (contact_id) DO UPDATE SET highest_in_seq = max(highest_in_seq, excluded.highest_in_seq),
    unread = unread + 1, updated_at = excluded.updated_at, ${LAST_IF_NEWER}`,
  unread: 'SELECT unread FROM conversations WHERE contact_id = ?',
  seen: 'SELECT contact_id, message_id FROM received_envelopes WHERE hash = ?',
  remember: 'INSERT OR IGNORE INTO received_envelopes (hash, contact_id, message_id, at) VALUES (?, ?, ?, ?)',
  last: `SELECT m.text, m.at, m.direction FROM conversations c
    JOIN messages m ON m.contact_id = c.contact_id AND m.direction = c.last_direction AND m.id = c.last_id WHERE c.contact_id = ?`,
  due: 'SELECT * FROM outbox WHERE next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?',
  nextDue: 'SELECT min(next_attempt_at) AS at FROM outbox WHERE next_attempt_at > ?',
  unreadIds: "SELECT id FROM messages INDEXED BY messages_unread WHERE contact_id = ? AND direction = 'in' AND read_at IS NULL",
  markRead: "UPDATE messages INDEXED BY messages_unread SET read_at = ? WHERE contact_id = ? AND direction = 'in' AND read_at IS NULL",
  clearUnread: 'UPDATE conversations SET unread = 0 WHERE contact_id = ?'
} as const

/**
 * received_envelopes is a rowid table appended to in arrival order (store migration 17): the rows to prune are the
 * first ones, read up to the first that is not old enough, so pruning reads what it deletes and one row more (no
 * time index written with each envelope). A row stamped by a clock that was ahead keeps the rows after it until it is
 * old enough itself: a hash kept longer only filters longer. Exported for the query-plan test.
 */
export const PRUNE_ENVELOPES = `DELETE FROM received_envelopes WHERE rowid < coalesce(
  (SELECT rowid FROM received_envelopes WHERE at >= ? ORDER BY rowid LIMIT 1),
  (SELECT max(rowid) + 1 FROM received_envelopes))`

/** advanceLater's changes held in memory before a write transaction takes them all: each is one small entry,
 * and a burst of sends then writes its 'sent' states with the receipts instead of once more each. */
const MAX_KEPT_STATES = 256

type Kept = { contactId: string, id: string, state: MessageState, o: { path?: DeliveryPath, failure?: string } }
type Query = keyof typeof SQL
type Statement = ReturnType<Database['prepare']>

/** The statements run for each message sent, received or acknowledged (and each pump of the outbox). */
export const PER_MESSAGE: readonly Query[] = [
  'peekSeq', 'reserveSeq', 'queueSeq', 'insertOut', 'insertOutbox', 'outbox', 'reschedule', 'removeOutbox', 'message', 'setState',
  'seqBelow', 'seqAbove', 'insertIn', 'setGap', 'countIn', 'unread', 'seen', 'remember', 'last', 'due', 'nextDue'
]

/** The SQL of a named statement (for the query-plan test). */
export function historySql (q: Query): string {
  return SQL[q]
}

export class History implements HistoryStore {
  readonly #db: Database
  readonly #stmts = new Map<Query, Statement>()
  /** State changes recorded with advanceLater, written with the next write (see HistoryStore.advanceLater). */
  readonly #later = new Map<string, Kept>()
  /** Kept changes written by a transaction not known to have committed: a transaction can be rolled back after the
   * write (by its caller, or one around it such as a device batch's commit), so each stays in the overlay until
   * #confirm finds it in the store, or puts it back in #later. */
  readonly #written = new Map<string, Kept>()

  /** Inside transaction(fn) or within(fn): the calls fn makes join the transaction (see #tx). */
  #joined = false

  /** Stored messages go to the search index in batches (src/store/search-index.ts). */
  readonly #search: SearchIndexer
  readonly #log: Logger

  /** `o.searchIdleMs`: the search indexer's idle delay (default SEARCH_IDLE_MS; false: no idle runs, for tests that count commits). */
  constructor (db: Database, o: { searchIdleMs?: number | false, logger?: Logger } = {}) {
    this.#db = db
    this.#log = o.logger ?? silentLogger
    this.#search = new SearchIndexer(db, o.searchIdleMs !== undefined ? { idleMs: o.searchIdleMs } : {})
  }

  /** The search index of this store, which the chat features' search brings up to date first. */
  get searchIndex (): SearchIndexer {
    return this.#search
  }

  /** The store these rows live in (the chat features of issue 13 keep their columns in the same rows). */
  get database (): Database {
    return this.#db
  }

  #q (q: Query): Statement {
    let st = this.#stmts.get(q)
    if (st === undefined) {
      st = this.#db.prepare(SQL[q])
      this.#stmts.set(q, st)
    }
    return st
  }

  /** A write transaction. What advanceLater kept is written by the message's next advance (its receipt: one UPDATE
   * for both), by flush(), or here once more than MAX_KEPT_STATES wait, sharing this commit. */
  #tx<T> (fn: () => T): T {
    // Inside transaction(fn) or within(fn) a call joins the transaction: no savepoint of its own (two statements, ~15 us
    // a message), as nothing there catches a failed call and goes on; the whole transaction rolls back instead.
    if (this.#joined) return fn()
    return this.#db.transaction(() => {
      const result = fn()
      if (this.#later.size > MAX_KEPT_STATES) this.#writeLater()
      return result
    })()
  }

  #writeLater (): void {
    if (this.#later.size === 0) return
    for (const l of [...this.#later.values()]) this.#advance(l.contactId, l.id, l.state, l.o)
  }

  /** A kept change is being written: from #later to #written until the transactions around the write have ended. */
  #take (key: string, kept: Kept): void {
    this.#later.delete(key)
    if (this.#written.size === 0) queueMicrotask(() => { this.#confirm() })
    this.#written.set(key, kept)
  }

  /** Run once the write's transactions have ended (they are synchronous): a change the store does not show was rolled
   * back, and is kept again (unless a newer one for the message is kept already, which includes it). */
  #confirm (): void {
    const written = [...this.#written]
    this.#written.clear()
    try {
      for (const [key, l] of written) {
        const stored = this.#stored(l.contactId, 'out', l.id)
        if (stored !== undefined && advanceState(stored, l.state, l.o) !== undefined && !this.#later.has(key)) this.#later.set(key, l)
      }
    } catch (err) {
      // The store could not be read (closed in the same turn as the write): all are kept again, which is safe, as a
      // kept state only ever moves a message's state forward.
      for (const [key, l] of written) if (!this.#later.has(key)) this.#later.set(key, l)
      this.#log.warn('confirm-failed', { error: err instanceof Error ? err.name : 'unknown' })
    }
  }

  /** Reserves the next outgoing sequence number of a conversation (the messenger uses peekSeq and queueOutgoing). */
  nextSeq (contactId: string, now: number): number {
    return this.#tx(() => {
      const seq = this.peekSeq(contactId)
      this.#q('reserveSeq').run([contactId, seq, now])
      return seq
    })
  }

  peekSeq (contactId: string): number {
    return Number(this.#q('peekSeq').get([contactId])?.next_out_seq ?? 1)
  }

  /** The message, its outbox row and its sequence number in one transaction: from here a crash loses nothing. */
  queueOutgoing (m: OutgoingText): MessageView {
    this.#tx(() => {
      this.#q('queueSeq').run([m.contactId, m.seq, m.at, m.id, m.at])
      this.#q('insertOut').run([m.contactId, m.id, m.seq, m.text, m.at, m.at])
      this.#insertOutbox(m.contactId, m.id, 'text', m.envelope, m.at, m.expiresAt, m.attempts ?? 0, m.nextAttemptAt ?? m.at)
      this.#search.added()
    })
    return { id: m.id, contactId: m.contactId, direction: 'out', text: m.text, seq: m.seq, at: m.at, state: 'queued' }
  }

  queueControl (contactId: string, id: string, envelope: Uint8Array, now: number, expiresAt: number): void {
    this.#insertOutbox(contactId, id, 'control', envelope, now, expiresAt, 0, now)
  }

  #insertOutbox (contactId: string, id: string, kind: OutboxKind, envelope: Uint8Array, now: number, expiresAt: number, attempts: number, nextAttemptAt: number): void {
    this.#q('insertOutbox').run([contactId, id, kind, Buffer.from(envelope), attempts, nextAttemptAt, expiresAt, now])
  }

  due (now: number, limit: number): OutboxRow[] {
    return this.#q('due').all([now, limit]).map(toOutbox)
  }

  nextDueAt (after = Number.NEGATIVE_INFINITY): number | undefined {
    const row = this.#q('nextDue').get([after])
    return row?.at === null || row?.at === undefined ? undefined : Number(row.at)
  }

  outbox (contactId: string, messageId: string): OutboxRow | undefined {
    const r = this.#q('outbox').get([contactId, messageId])
    return r === undefined ? undefined : toOutbox(r)
  }

  outboxSize (): number {
    return Number(this.#db.prepare('SELECT count(*) AS n FROM outbox').get()?.n ?? 0)
  }

  rescheduleOutbox (contactId: string, messageId: string, o: { attempts: number, nextAttemptAt: number, state?: OutboxState }): void {
    this.#q('reschedule').run([o.attempts, o.nextAttemptAt, o.state ?? null, contactId, messageId])
  }

  /** Makes everything waiting for one contact due now (a newer location of the contact was found). */
  retryContactNow (contactId: string, now: number): void {
    this.#db.prepare('UPDATE outbox SET next_attempt_at = ? WHERE contact_id = ? AND next_attempt_at > ?').run([now, contactId, now])
  }

  removeOutbox (contactId: string, messageId: string): void {
    this.#q('removeOutbox').run([contactId, messageId])
  }

  /** Moves an outgoing message's state forward (never back); returns the new view if it changed. */
  advance (contactId: string, id: string, state: MessageState, o: { path?: DeliveryPath, failure?: string } = {}): MessageView | undefined {
    return this.#tx(() => this.#advance(contactId, id, state, o))
  }

  #advance (contactId: string, id: string, state: MessageState, o: { path?: DeliveryPath, failure?: string }): MessageView | undefined {
    const stored = this.#stored(contactId, 'out', id)
    if (stored === undefined) return undefined
    // A change advanceLater kept for this message (its 'sent') goes in the same UPDATE as this one.
    const key = `${contactId}/${id}`
    const later = this.#later.get(key) ?? this.#written.get(key)
    let current = stored
    if (later !== undefined) {
      this.#take(key, later)
      const kept = advanceState(stored, later.state, later.o)
      if (kept !== undefined) current = withState(stored, kept)
    }
    const next = advanceState(current, state, o)
    if (next === undefined) {
      if (current !== stored) this.#q('setState').run([current.state, current.path ?? null, current.failure ?? null, contactId, id])
      return undefined
    }
    this.#q('setState').run([next.state, next.path ?? null, next.failure ?? null, contactId, id])
    return withState(current, next)
  }

  advanceLater (contactId: string, id: string, state: MessageState, o: { path?: DeliveryPath, failure?: string } = {}): MessageView | undefined {
    const current = this.message(contactId, 'out', id)
    if (current === undefined) return undefined
    const next = advanceState(current, state, o)
    if (next === undefined) return undefined
    const key = `${contactId}/${id}`
    const before = this.#later.get(key) ?? this.#written.get(key)
    // Two later changes of one message: the stored row is behind both, so keep the combined result.
    this.#later.set(key, { contactId, id, state: next.state, o: { ...(next.path !== undefined ? { path: next.path } : {}), ...(next.failure !== undefined ? { failure: next.failure } : before?.o.failure !== undefined ? { failure: before.o.failure } : {}) } })
    return withState(current, next)
  }

  /** At stop, outside any transaction: what is written is confirmed now, before the store closes. */
  flush (): void {
    try {
      if (this.#later.size > 0) this.#db.transaction(() => { this.#writeLater() })()
    } finally {
      this.#confirm()
    }
    this.#search.stop()
  }

  /**
   * Stores an incoming text message once. Returns undefined when it was already there (a duplicate
   * that came by another path or was re-sent because our receipt was lost).
   */
  receive (m: IncomingText): MessageView | undefined {
    return this.#tx(() => {
      // gap_before = how many of the sender's sequence numbers are missing just before a message. Only the new
      // message and its successor can change: indexed look-ups, whatever the history's size.
      const below = this.#q('seqBelow').get([m.contactId, m.seq])
      const prev = below?.seq === null || below?.seq === undefined ? 0 : Number(below.seq)
      const gap = m.seq - prev - 1
      const inserted = this.#q('insertIn').run([m.contactId, m.id, m.seq, m.text, m.path, m.at, m.sentAt, gap])
      if (inserted.changes === 0) return undefined
      this.#search.added()
      this.#q('countIn').run([m.contactId, m.seq, m.at, m.id, m.at])
      const above = this.#q('seqAbove').get([m.contactId, m.seq])
      if (above !== undefined) this.#q('setGap').run([Number(above.seq) - m.seq - 1, m.contactId, above.id as string])
      return {
        id: m.id, contactId: m.contactId, direction: 'in', text: m.text, seq: m.seq, at: m.at, sentAt: m.sentAt, state: 'delivered', path: m.path,
        ...(gap > 0 ? { gapBefore: gap } : {})
      } satisfies MessageView
    })
  }

  message (contactId: string, direction: 'in' | 'out', id: string): MessageView | undefined {
    const stored = this.#stored(contactId, direction, id)
    return stored === undefined ? undefined : this.#overlay(stored)
  }

  #stored (contactId: string, direction: 'in' | 'out', id: string): MessageView | undefined {
    const r = this.#q('message').get([contactId, direction, id])
    return r === undefined ? undefined : toView(r as unknown as MessageRow)
  }

  /** A message as it will be once the changes kept by advanceLater are written (moved on only: a written one may be
   * behind the stored row, which a later change in the same commit moved on). */
  #overlay (m: MessageView): MessageView {
    if (m.direction !== 'out' || (this.#later.size === 0 && this.#written.size === 0)) return m
    const key = `${m.contactId}/${m.id}`
    const l = this.#later.get(key) ?? this.#written.get(key)
    const next = l === undefined ? undefined : advanceState(m, l.state, l.o)
    return next === undefined ? m : withState(m, next)
  }

  /**
   * A conversation in display order: each sender's messages by its sequence numbers, the two senders
   * interleaved by the time each message was written: its sentAt, but never after it arrived here (a contact's
   * clock far ahead would otherwise pin its message last, or keep it out of every page). Ties in a sender's
   * sequence numbers (a sender that repeats one) go by sentAt, then id, so the order is total. A page is the newest
   * rows in that order: by key, then mine before theirs (as the merge below puts them), then seq, sentAt and id; the
   * direction makes it total, as an id is its sender's and can be in both. `after` (PageOptions) pages on from just
   * past a row of the page before, so rows that share a key at a page's edge are neither skipped nor repeated; an
   * unknown row leaves `before` alone.
   */
  messages (contactId: string, o: PageOptions = {}): MessageView[] {
    const limit = Math.min(Math.max(o.limit ?? DEFAULT_PAGE, 1), MAX_PAGE)
    const before = o.before ?? Number.MAX_SAFE_INTEGER
    const from = o.after === undefined ? undefined : this.#q('message').get([contactId, o.after.direction, o.after.id]) as MessageRow | undefined
    const rows = (from === undefined
      ? this.#db.prepare(`SELECT * FROM messages WHERE contact_id = ? AND min(coalesce(sent_at, at), at) < ?
      ORDER BY min(coalesce(sent_at, at), at) DESC, direction ASC, seq DESC, coalesce(sent_at, at) DESC, id DESC LIMIT ?`)
        .all([contactId, before, limit])
      : this.#db.prepare(`SELECT * FROM messages WHERE contact_id = ? AND min(coalesce(sent_at, at), at) < ?
      AND (min(coalesce(sent_at, at), at), direction = 'in', seq, coalesce(sent_at, at), id) < (?, ?, ?, ?, ?)
      ORDER BY min(coalesce(sent_at, at), at) DESC, direction ASC, seq DESC, coalesce(sent_at, at) DESC, id DESC LIMIT ?`)
        .all([contactId, before, Math.min(from.sent_at ?? from.at, from.at), from.direction === 'in' ? 1 : 0, from.seq, from.sent_at ?? from.at, from.id, limit])) as unknown as MessageRow[]
    const sent = (r: MessageRow): number => r.sent_at ?? r.at
    const bySeq = (a: MessageRow, b: MessageRow): number => a.seq - b.seq || sent(a) - sent(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
    const outgoing = rows.filter((r) => r.direction === 'out').sort(bySeq)
    const incoming = rows.filter((r) => r.direction === 'in').sort(bySeq)
    const merged: MessageRow[] = []
    let i = 0
    let j = 0
    const key = (r: MessageRow): number => Math.min(sent(r), r.at)
    while (i < outgoing.length || j < incoming.length) {
      const a = outgoing[i]
      const b = incoming[j]
      if (b === undefined || (a !== undefined && key(a) <= key(b))) { merged.push(a as MessageRow); i++ } else { merged.push(b); j++ }
    }
    return merged.map((r) => this.#overlay(toView(r)))
  }

  /** A counter kept with each message received and each markRead: counting rows grew with the history (2 ms at 10k). */
  unread (contactId: string): number {
    return Number(this.#q('unread').get([contactId])?.unread ?? 0)
  }

  last (contactId: string): { text: string, at: number, direction: 'in' | 'out' } | undefined {
    const r = this.#q('last').get([contactId])
    return r === undefined ? undefined : { text: r.text as string, at: Number(r.at), direction: r.direction as 'in' | 'out' }
  }

  /** Marks every unread incoming message read; returns their ids (for the read receipt). */
  markRead (contactId: string, now: number): string[] {
    return this.#tx(() => {
      const ids = this.#q('unreadIds').all([contactId]).map((r) => r.id as string)
      this.#q('markRead').run([now, contactId])
      this.#q('clearUnread').run([contactId])
      return ids
    })
  }

  /** Envelopes already processed, by SHA-256 of their bytes (the whole envelope is authenticated). */
  seenEnvelope (hash: Uint8Array): { contactId: string, messageId: string | null } | undefined {
    const r = this.#q('seen').get([Buffer.from(hash)])
    return r === undefined ? undefined : { contactId: r.contact_id as string, messageId: r.message_id as string | null }
  }

  rememberEnvelope (hash: Uint8Array, contactId: string, messageId: string | null, now: number): void {
    this.#q('remember').run([Buffer.from(hash), contactId, messageId, now])
  }

  /** Forgets envelope hashes older than the longest time a copy can wait on a relay. */
  pruneEnvelopes (olderThan: number): void {
    this.#db.prepare(PRUNE_ENVELOPES).run([olderThan])
  }

  setting (key: string): string | undefined {
    const r = this.#db.prepare('SELECT value FROM settings WHERE key = ?').get([key])
    return r === undefined ? undefined : r.value as string
  }

  setSetting (key: string, value: string): void {
    this.#db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run([key, value])
  }

  transaction<T> (fn: () => T): T {
    if (this.#joined) return fn()
    return this.#db.transaction(() => this.within(fn))()
  }

  within<T> (fn: () => T): T {
    if (this.#joined) return fn()
    this.#joined = true
    try {
      const result = fn()
      if (this.#later.size > MAX_KEPT_STATES) this.#writeLater()
      return result
    } finally {
      this.#joined = false
    }
  }
}
