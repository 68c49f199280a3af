// How the app's open conversation takes in messages. They come two ways: the node's events ('message',
// 'message-state', 'message-removed'), on one socket in the order the node made them, and the answer to
// GET /messages (opening a chat, and the reload at each connection of the socket). The answer is a snapshot the
// node took some time after the page asked; an event the node made after that snapshot can reach the page before
// the answer (two connections; nothing orders them). Written over the list, the answer took away a message that
// came meanwhile (until the chat was opened again), set a delivered/read tick back, or undid an edit or a delete.
// The rule: every event the page reads for a conversation while a fetch of it is on the way is kept, and the
// answer, when it comes, gets those events again on top, in their order. Exact, with no order of states to guess
// (a failed message that is sent again goes back to queued): whatever the node changed after its snapshot, it
// made as an event after the page asked (the page asked first, the node took the snapshot, then made the event),
// so the event is in the log; an event from before the snapshot that is replayed is followed in the log by every
// later change of the same message, so each message ends as its last event left it, or as the snapshot has it.
// Pure (no React, no DOM): test/web/message-list.test.ts.
import type { MessageView } from './api.ts'
import { olderPageCursor, type BeforeCursor } from '../../src/api/page-cursor.ts'

/** One change to a conversation, as an event brings it: a message new or changed, or one removed from this device. */
export type MessageChange =
  | { readonly type: 'upsert', readonly message: MessageView }
  | { readonly type: 'removed', readonly id: string, readonly direction: 'in' | 'out' }

/** Ids are unique per conversation and direction only (the contact chooses its own), so both name a message. */
const same = (m: MessageView, id: string, direction: 'in' | 'out'): boolean => m.id === id && m.direction === direction

/** When a message was written, the time the display order interleaves by and its bubble shows: its sentAt, never after it came here. */
export const writtenAt = (m: { readonly sentAt?: number, readonly at: number }): number => Math.min(m.sentAt ?? m.at, m.at)

/**
 * A conversation in the node's display order (src/messenger/history.ts messages()): each sender's messages by its
 * sequence numbers, the two interleaved by when each was written (an incoming one's sentAt, the sender's clock; an
 * outgoing one's at; never after its `at`, as a message cannot be written after it came here), mine first on a tie;
 * a sender's repeated sequence number goes by sentAt, then id. Not by `at` alone: an incoming message's `at` is when
 * it came here, so a sender whose clock differs from mine, or a copy fetched late from a mailbox, would stand elsewhere
 * than the node (and the next reload) puts it, and one sender's messages that came out of order would show out of order.
 */
export function displayOrder (list: readonly MessageView[]): MessageView[] {
  const sent = (m: MessageView): number => m.sentAt ?? m.at
  const bySeq = (a: MessageView, b: MessageView): number => a.seq - b.seq || sent(a) - sent(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  const out = list.filter((m) => m.direction === 'out').sort(bySeq)
  const inc = list.filter((m) => m.direction === 'in').sort(bySeq)
  const merged: MessageView[] = []
  let i = 0
  let j = 0
  while (i < out.length || j < inc.length) {
    const a = out[i]
    const b = inc[j]
    if (a !== undefined && (b === undefined || writtenAt(a) <= writtenAt(b))) { merged.push(a); i++ } else if (b !== undefined) { merged.push(b); j++ }
  }
  return merged
}

/** An older page added to a conversation's list: the messages it does not hold yet (the list's copy is newer), in
 * display order. */
export function withOlder (list: readonly MessageView[], older: readonly MessageView[]): MessageView[] {
  const have = new Set(list.map((m) => `${m.direction}-${m.id}`))
  return displayOrder([...older.filter((m) => !have.has(`${m.direction}-${m.id}`)), ...list])
}

/** A change applied to a conversation's list (kept in display order). */
export function applyChange (list: readonly MessageView[], c: MessageChange): MessageView[] {
  if (c.type === 'removed') return list.filter((m) => !same(m, c.id, c.direction))
  const m = c.message
  const i = list.findIndex((x) => same(x, m.id, m.direction))
  if (i === -1) return displayOrder([...list, m])
  const next = list.slice()
  next[i] = m
  return next
}

/** A fetch of one conversation on the way: the changes its events brought since the page asked. */
export interface Fetch<C> {
  readonly key: string
  readonly changes: C[]
}

/**
 * The fetches on the way (several can be: a chat opened while the reload of it is on the way), for any list the
 * page fetches and events change (a chat's messages here; a group's: web/src/groups/useGroups.ts).
 */
export class FetchLog<L, C> {
  private readonly pending = new Set<Fetch<C>>()
  constructor (private readonly apply: (list: L, c: C) => L) {}

  /** Call before asking the node, so that no event made after its snapshot can be missed. */
  start (key: string): Fetch<C> {
    const f: Fetch<C> = { key, changes: [] }
    this.pending.add(f)
    return f
  }

  /** Every event for a conversation, as it is read (before or after it is shown: the order is the same). */
  record (key: string, c: C): void {
    for (const f of this.pending) if (f.key === key) f.changes.push(c)
  }

  /** The answer, with the changes since the page asked on top: the list to show. Ends the fetch. */
  answered (f: Fetch<C>, answer: L): L {
    this.pending.delete(f)
    return f.changes.reduce(this.apply, answer)
  }

  /** The fetch failed: nothing to merge. */
  failed (f: Fetch<C>): void {
    this.pending.delete(f)
  }
}

/** A chat's fetches (keyed by contact id). */
export class MessageFetches extends FetchLog<MessageView[], MessageChange> {
  constructor () { super(applyChange) }
}

/** Where a chat's next older page starts, and which reload its pages belong to. */
interface Paging {
  generation: number
  cursor: BeforeCursor | undefined
  // The cursor of the list still shown while a reload is on the way: a failed reload leaves that list, and its cursor.
  shown: BeforeCursor | undefined
}

/**
 * The older pages of each chat. The cursor comes from the last page the node returned, before any event went on
 * top: a live message written before the oldest one shown (a contact whose clock is behind) is not in the node's
 * page order where the list shows it, and as a cursor it would start the older page below messages never shown.
 * A reload of the newest page starts a new generation: an older page asked before it would join a list it no
 * longer belongs to (leaving a gap between the two), so its answer is dropped.
 */
export class OlderPages {
  private readonly chats = new Map<string, Paging>()

  private chat (key: string): Paging {
    let p = this.chats.get(key)
    if (p === undefined) { p = { generation: 0, cursor: undefined, shown: undefined }; this.chats.set(key, p) }
    return p
  }

  /** The newest page is asked: a new generation. */
  newest (key: string): number {
    const p = this.chat(key)
    p.generation++
    p.shown = p.cursor ?? p.shown
    p.cursor = undefined
    return p.generation
  }

  /** The newest page asked in `generation` failed: unless a later reload started, page on from the list shown. */
  failed (key: string, generation: number): void {
    const p = this.chat(key)
    if (p.generation === generation) p.cursor = p.shown
  }

  /** An older page to ask: its cursor and generation; undefined when there is no page to start from. */
  older (key: string): { generation: number, before: BeforeCursor } | undefined {
    const p = this.chat(key)
    return p.cursor === undefined ? undefined : { generation: p.generation, before: p.cursor }
  }

  /** A page the node returned (as it came, no event on top): false when a reload has started since it was asked
   * (drop it); else its oldest message is where the next older page starts. */
  answered (key: string, generation: number, page: readonly MessageView[]): boolean {
    const p = this.chat(key)
    if (p.generation !== generation) return false
    p.cursor = olderPageCursor(page) ?? p.cursor
    p.shown = undefined
    return true
  }
}
