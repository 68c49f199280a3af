// In-memory twin of History (src/messenger/history.ts) for unit tests of the messenger's state
// machine: same contract, held to it by test/messenger/history-contract.test.ts. Not for production:
// nothing is durable, and transaction() does not roll back.
import {
  advanceState, type HistoryStore, type IncomingText, type OutboxRow, type OutboxState, type OutgoingText
} from '../../src/messenger/history-store.ts'
import { DEFAULT_PAGE, MAX_PAGE } from '../../src/messenger/page-limits.ts'
import type { DeliveryPath, MessageState, MessageView, PageOptions } from '../../src/messenger/types.ts'

interface Message {
  contactId: string
  direction: 'in' | 'out'
  id: string
  seq: number
  text: string
  state: MessageState
  path: DeliveryPath | undefined
  failure: string | undefined
  at: number
  sentAt: number
  readAt: number | undefined
  gapBefore: number
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

function view (m: Message): MessageView {
  return {
    id: m.id,
    contactId: m.contactId,
    direction: m.direction,
    text: m.text,
    seq: m.seq,
    at: m.at,
    ...(m.direction === 'in' ? { sentAt: m.sentAt } : {}),
    state: m.state,
    ...(m.failure !== undefined ? { failure: m.failure } : {}),
    ...(m.path !== undefined ? { path: m.path } : {}),
    ...(m.direction === 'in' && m.gapBefore > 0 ? { gapBefore: m.gapBefore } : {})
  }
}

export class MemoryHistory implements HistoryStore {
  readonly #nextSeq = new Map<string, number>()
  readonly #messages = new Map<string, Message>()
  readonly #outbox = new Map<string, OutboxRow>()
  readonly #envelopes = new Map<string, { contactId: string, messageId: string | null, at: number }>()
  readonly #settings = new Map<string, string>()

  nextSeq (contactId: string): number {
    const seq = this.#nextSeq.get(contactId) ?? 1
    this.#nextSeq.set(contactId, seq + 1)
    return seq
  }

  peekSeq (contactId: string): number {
    return this.#nextSeq.get(contactId) ?? 1
  }

  queueOutgoing (m: OutgoingText): MessageView {
    const key = `${m.contactId}/out/${m.id}`
    if (this.#messages.has(key)) throw new Error('duplicate outgoing message id')
    this.#insertOutbox(m.contactId, m.id, 'text', m.envelope, m.at, m.expiresAt, m.attempts ?? 0, m.nextAttemptAt ?? m.at)
    this.#nextSeq.set(m.contactId, Math.max(this.peekSeq(m.contactId), m.seq + 1))
    const msg: Message = {
      contactId: m.contactId, direction: 'out', id: m.id, seq: m.seq, text: m.text, state: 'queued', path: undefined,
      failure: undefined, at: m.at, sentAt: m.at, readAt: undefined, gapBefore: 0
    }
    this.#messages.set(key, msg)
    return view(msg)
  }

  queueControl (contactId: string, id: string, envelope: Uint8Array, now: number, expiresAt: number): void {
    this.#insertOutbox(contactId, id, 'control', envelope, now, expiresAt)
  }

  #insertOutbox (contactId: string, messageId: string, kind: 'text' | 'control', envelope: Uint8Array, now: number, expiresAt: number, attempts = 0, nextAttemptAt = now): void {
    const key = `${contactId}/${messageId}`
    if (this.#outbox.has(key)) throw new Error('duplicate outbox row')
    this.#outbox.set(key, { contactId, messageId, kind, envelope: new Uint8Array(envelope), attempts, nextAttemptAt, expiresAt, state: 'pending' })
  }

  due (now: number, limit: number): OutboxRow[] {
    return [...this.#outbox.values()].filter((r) => r.nextAttemptAt <= now)
      .sort((a, b) => a.nextAttemptAt - b.nextAttemptAt).slice(0, limit).map((r) => ({ ...r }))
  }

  nextDueAt (after = Number.NEGATIVE_INFINITY): number | undefined {
    let min: number | undefined
    for (const r of this.#outbox.values()) if (r.nextAttemptAt > after && (min === undefined || r.nextAttemptAt < min)) min = r.nextAttemptAt
    return min
  }

  outbox (contactId: string, messageId: string): OutboxRow | undefined {
    const r = this.#outbox.get(`${contactId}/${messageId}`)
    return r === undefined ? undefined : { ...r }
  }

  outboxSize (): number {
    return this.#outbox.size
  }

  rescheduleOutbox (contactId: string, messageId: string, o: { attempts: number, nextAttemptAt: number, state?: OutboxState }): void {
    const key = `${contactId}/${messageId}`
    const r = this.#outbox.get(key)
    if (r === undefined) return
    this.#outbox.set(key, { ...r, attempts: o.attempts, nextAttemptAt: o.nextAttemptAt, state: o.state ?? r.state })
  }

  retryContactNow (contactId: string, now: number): void {
    for (const [key, r] of this.#outbox) {
      if (r.contactId === contactId && r.nextAttemptAt > now) this.#outbox.set(key, { ...r, nextAttemptAt: now })
    }
  }

  removeOutbox (contactId: string, messageId: string): void {
    this.#outbox.delete(`${contactId}/${messageId}`)
  }

  advance (contactId: string, id: string, state: MessageState, o: { path?: DeliveryPath, failure?: string } = {}): MessageView | undefined {
    const m = this.#messages.get(`${contactId}/out/${id}`)
    if (m === undefined) return undefined
    const next = advanceState(m, state, o)
    if (next === undefined) return undefined
    m.state = next.state
    m.path = next.path
    m.failure = next.failure
    return view(m)
  }

  /** Nothing to defer in memory: the change is made at once. */
  advanceLater (contactId: string, id: string, state: MessageState, o: { path?: DeliveryPath, failure?: string } = {}): MessageView | undefined {
    return this.advance(contactId, id, state, o)
  }

  flush (): void {}

  receive (m: IncomingText): MessageView | undefined {
    const key = `${m.contactId}/in/${m.id}`
    if (this.#messages.has(key)) return undefined
    const msg: Message = {
      contactId: m.contactId, direction: 'in', id: m.id, seq: m.seq, text: m.text, state: 'delivered', path: m.path,
      failure: undefined, at: m.at, sentAt: m.sentAt, readAt: undefined, gapBefore: 0
    }
    this.#messages.set(key, msg)
    this.#updateGaps(m.contactId)
    return view(msg)
  }

  /** gapBefore = sequence numbers missing just before each incoming message. */
  #updateGaps (contactId: string): void {
    const incoming = this.#incoming(contactId).sort((a, b) => a.seq - b.seq)
    let prev = 0
    for (const m of incoming) {
      m.gapBefore = m.seq - prev - 1
      prev = m.seq
    }
  }

  #incoming (contactId: string): Message[] {
    return [...this.#messages.values()].filter((m) => m.contactId === contactId && m.direction === 'in')
  }

  message (contactId: string, direction: 'in' | 'out', id: string): MessageView | undefined {
    const m = this.#messages.get(`${contactId}/${direction}/${id}`)
    return m === undefined ? undefined : view(m)
  }

  messages (contactId: string, o: PageOptions = {}): MessageView[] {
    const limit = Math.min(Math.max(o.limit ?? DEFAULT_PAGE, 1), MAX_PAGE)
    const before = o.before ?? Number.MAX_SAFE_INTEGER
    // Written when sent, but never after it came here (History.messages).
    const key = (m: Message): number => Math.min(m.sentAt, m.at)
    const id = (a: Message, b: Message): number => a.id < b.id ? -1 : a.id > b.id ? 1 : 0
    const dir = (a: Message, b: Message): number => a.direction < b.direction ? -1 : a.direction > b.direction ? 1 : 0
    const newer = (a: Message, b: Message): number => key(b) - key(a) || dir(a, b) || b.seq - a.seq || b.sentAt - a.sentAt || id(b, a)
    const from = o.after === undefined ? undefined : this.#messages.get(`${contactId}/${o.after.direction}/${o.after.id}`)
    const page = [...this.#messages.values()].filter((m) => m.contactId === contactId && key(m) < before && (from === undefined || newer(from, m) < 0))
      .sort(newer).slice(0, limit)
    const bySeq = (a: Message, b: Message): number => a.seq - b.seq || a.sentAt - b.sentAt || id(a, b)
    const outgoing = page.filter((m) => m.direction === 'out').sort(bySeq)
    const incoming = page.filter((m) => m.direction === 'in').sort(bySeq)
    const merged: Message[] = []
    while (outgoing.length > 0 || incoming.length > 0) {
      const a = outgoing[0]
      const b = incoming[0]
      merged.push((b === undefined || (a !== undefined && key(a) <= key(b)) ? outgoing.shift() : incoming.shift()) as Message)
    }
    return merged.map(view)
  }

  unread (contactId: string): number {
    return this.#incoming(contactId).filter((m) => m.readAt === undefined).length
  }

  last (contactId: string): { text: string, at: number, direction: 'in' | 'out' } | undefined {
    let last: Message | undefined
    for (const m of this.#messages.values()) if (m.contactId === contactId && (last === undefined || m.at > last.at)) last = m
    return last === undefined ? undefined : { text: last.text, at: last.at, direction: last.direction }
  }

  markRead (contactId: string, now: number): string[] {
    const unread = this.#incoming(contactId).filter((m) => m.readAt === undefined)
    for (const m of unread) m.readAt = now
    return unread.map((m) => m.id)
  }

  seenEnvelope (hash: Uint8Array): { contactId: string, messageId: string | null } | undefined {
    const e = this.#envelopes.get(hex(hash))
    return e === undefined ? undefined : { contactId: e.contactId, messageId: e.messageId }
  }

  rememberEnvelope (hash: Uint8Array, contactId: string, messageId: string | null, now: number): void {
    const key = hex(hash)
    if (!this.#envelopes.has(key)) this.#envelopes.set(key, { contactId, messageId, at: now })
  }

  pruneEnvelopes (olderThan: number): void {
    for (const [key, e] of this.#envelopes) if (e.at < olderThan) this.#envelopes.delete(key)
  }

  setting (key: string): string | undefined {
    return this.#settings.get(key)
  }

  setSetting (key: string, value: string): void {
    this.#settings.set(key, value)
  }

  transaction<T> (fn: () => T): T {
    return fn()
  }

  within<T> (fn: () => T): T {
    return fn()
  }
}
