// The messenger's repository of conversations, messages, the outbox, envelopes already received and
// settings, as an interface: History (history.ts) keeps it in SQLCipher; unit tests use an in-memory
// twin (test/twins/memory-history.ts) that test/messenger/history-contract.test.ts holds to the same
// assertions. It lives in the messenger, not in store/, because its rows are the messenger's views.
import type { DeliveryPath, MessageState, MessageView, PageOptions } from './types.ts'

export type OutboxKind = 'text' | 'control'
export type OutboxState = 'pending' | 'sent' | 'stored'

export interface OutboxRow {
  readonly contactId: string
  readonly messageId: string
  readonly kind: OutboxKind
  readonly envelope: Uint8Array
  readonly attempts: number
  readonly nextAttemptAt: number
  readonly expiresAt: number
  readonly state: OutboxState
}

export interface IncomingText {
  readonly contactId: string
  readonly id: string
  readonly seq: number
  readonly text: string
  readonly sentAt: number
  readonly at: number
  readonly path: DeliveryPath
}

export interface OutgoingText {
  readonly contactId: string
  readonly id: string
  readonly seq: number
  readonly text: string
  readonly at: number
  readonly envelope: Uint8Array
  readonly expiresAt: number
  /** The outbox row's schedule (default: due at `at`, no attempt yet). The messenger makes the first attempt
   * from memory at once and stores the row as if it had, so a success needs no second write. */
  readonly attempts?: number
  readonly nextAttemptAt?: number
}

/** States only move forward: a late 'stored' never hides a 'delivered'. */
export const STATE_RANK: Readonly<Record<MessageState, number>> = { queued: 0, sent: 1, stored: 2, delivered: 3, read: 4, failed: 5 }


export interface HistoryStore {
  /** Reserves the next outgoing sequence number of a conversation (1, 2, 3...) in a commit of its own. */
  nextSeq: (contactId: string, now: number) => number
  /** The next outgoing sequence number, not reserved: queueOutgoing reserves it with the message. */
  peekSeq: (contactId: string) => number
  /** The message, its outbox row and the reservation of its sequence number, atomically: from here a crash loses nothing. */
  queueOutgoing: (m: OutgoingText) => MessageView
  queueControl: (contactId: string, id: string, envelope: Uint8Array, now: number, expiresAt: number) => void
  /** Outbox rows due at `now`, earliest first. */
  due: (now: number, limit: number) => OutboxRow[]
  /** The earliest time an outbox row is due, among rows due after `after` (default: all rows). */
  nextDueAt: (after?: number) => number | undefined
  outbox: (contactId: string, messageId: string) => OutboxRow | undefined
  outboxSize: () => number
  rescheduleOutbox: (contactId: string, messageId: string, o: { attempts: number, nextAttemptAt: number, state?: OutboxState }) => void
  /** Makes everything waiting for one contact due now. */
  retryContactNow: (contactId: string, now: number) => void
  removeOutbox: (contactId: string, messageId: string) => void
  /** Moves an outgoing message's state forward (never back); returns the new view if it changed. */
  advance: (contactId: string, id: string, state: MessageState, o?: { path?: DeliveryPath, failure?: string }) => MessageView | undefined
  /**
   * advance() without a write of its own: the change is visible to reads at once and written with the message's
   * next advance (in one UPDATE), with a later write transaction, or at flush(). For a state whose loss costs
   * nothing ('sent': a crash before it is written only makes the outbox send the same envelope again), so it
   * never needs a commit of its own.
   */
  advanceLater: (contactId: string, id: string, state: MessageState, o?: { path?: DeliveryPath, failure?: string }) => MessageView | undefined
  /** Writes what advanceLater kept (at stop). */
  flush: () => void
  /** Stores an incoming text once; undefined when that message id was already there. */
  receive: (m: IncomingText) => MessageView | undefined
  message: (contactId: string, direction: 'in' | 'out', id: string) => MessageView | undefined
  /** A conversation in display order: each sender's messages by sequence number, interleaved by time. */
  messages: (contactId: string, o?: PageOptions) => MessageView[]
  /** Incoming messages not marked read: a counter, not a count of rows. */
  unread: (contactId: string) => number
  last: (contactId: string) => { text: string, at: number, direction: 'in' | 'out' } | undefined
  /** Marks every unread incoming message read; returns their ids. */
  markRead: (contactId: string, now: number) => string[]
  /** Envelopes already processed, by SHA-256 of their bytes. */
  seenEnvelope: (hash: Uint8Array) => { contactId: string, messageId: string | null } | undefined
  rememberEnvelope: (hash: Uint8Array, contactId: string, messageId: string | null, now: number) => void
  /** Forgets hashes remembered before `olderThan`; one remembered later under an earlier time (a clock set back) may
   * stay until those remembered before it go. */
  pruneEnvelopes: (olderThan: number) => void
  setting: (key: string) => string | undefined
  setSetting: (key: string, value: string) => void
  /** Runs fn all or nothing. The calls fn makes have no rollback of their own: one that throws ends fn, and the whole
   * transaction rolls back (fn must not catch it and go on). */
  transaction: <T>(fn: () => T) => T
  /** As transaction(fn), inside a write transaction the caller has open and rolls back whole if fn throws (a device
   * commit's store callback): fn's calls open nothing of their own. */
  within: <T>(fn: () => T) => T
}

/**
 * The state machine of an outgoing message's state, shared by every HistoryStore: the new (state,
 * path, failure), or undefined when nothing changes. States only move forward and 'failed' is final;
 * the path recorded is the one that carried the message first past 'queued'.
 */
export function advanceState (current: { state: MessageState, path?: DeliveryPath | undefined }, state: MessageState,
  o: { path?: DeliveryPath, failure?: string }): { state: MessageState, path: DeliveryPath | undefined, failure: string | undefined } | undefined {
  const forward = current.state !== 'failed' && STATE_RANK[state] > STATE_RANK[current.state]
  if (!forward && (o.path === undefined || current.path !== undefined)) return undefined
  return { state: forward ? state : current.state, path: current.path ?? o.path, failure: o.failure }
}
