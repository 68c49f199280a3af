// How the app's group list takes in a group view (issue 11). Views come two ways: the node's events, on one
// socket in the order the node made them, and the answers to the page's own calls (an action's result, a reload).
// An answer can reach the page after an event the node sent later: adding a member answers with the group as it
// was (the member joins when its device answers), and on a loaded machine that answer can come after the event
// with the new member in it; it took the member off the panel until the next change (a CI failure). So an answer
// never replaces a view of a later version; events always replace (they are in order). A reload of the whole list
// (at each reconnection of the socket) still replaces it: it is there to catch up with events the page missed.
// Pure (no React, no DOM): test/web/group-list.test.ts.
import type { GroupMessage, GroupView } from './types.ts'
import { writtenAt } from '../message-list.ts'

/** A view from the node's event socket: it is the newest there is. */
export function eventGroup (list: readonly GroupView[], g: GroupView): GroupView[] {
  return list.some((x) => x.id === g.id) ? list.map((x) => x.id === g.id ? g : x) : [...list, g]
}

/**
 * A view from an answer to a call of this page: taken for a group not shown yet (one just made) or when it is of
 * a later version than the one shown (its event has not come yet; it brings the same view). Otherwise the list
 * stays: an event overtook the answer, or brought the same version (a change's answer and its event are alike;
 * an add's answer is the version before the add, whose event may already be shown).
 */
export function answeredGroup (list: GroupView[], g: GroupView): GroupView[] {
  const shown = list.find((x) => x.id === g.id)
  return shown !== undefined && shown.version >= g.version ? list : eventGroup(list, g)
}

/** Ids are unique per sender only (each member chooses its own): id, direction and sender together name one message. */
const sameMessage = (a: GroupMessage, b: GroupMessage): boolean => a.id === b.id && a.direction === b.direction && a.senderAccountId === b.senderAccountId

/**
 * A group's messages in the node's order (src/messenger/groups/store.ts messages()): each sender's by its sequence
 * numbers (a repeated one by sentAt, then id), the senders interleaved by when each message was written (writtenAt:
 * its sentAt, never after it came here), messages of one time by sender.
 */
export function groupDisplayOrder (list: readonly GroupMessage[]): GroupMessage[] {
  const bySeq = (a: GroupMessage, b: GroupMessage): number => a.seq - b.seq || a.sentAt - b.sentAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  const senders = new Map<string, GroupMessage[]>()
  for (const m of list) {
    const own = senders.get(m.senderAccountId)
    if (own === undefined) senders.set(m.senderAccountId, [m]); else own.push(m)
  }
  const queues = [...senders.values()].map((q) => ({ list: q.sort(bySeq), next: 0 }))
  const merged: GroupMessage[] = []
  while (merged.length < list.length) {
    let best: { list: GroupMessage[], next: number } | undefined
    for (const q of queues) {
      const m = q.list[q.next]
      const b = best?.list[best.next]
      if (m === undefined) continue
      if (b === undefined || writtenAt(m) < writtenAt(b) || (writtenAt(m) === writtenAt(b) && m.senderAccountId < b.senderAccountId)) best = q
    }
    const q = best as { list: GroupMessage[], next: number }
    merged.push(q.list[q.next++] as GroupMessage)
  }
  return merged
}

/**
 * A group message from the node's event socket (new, or its delivery changed): it replaces the one shown, and a new
 * one goes where the node (and the next reload) puts it, after those it does not precede: not at the end, where a
 * copy fetched late from a mailbox, or a member whose clock is behind, stood until the chat was opened again. The
 * answer to GET /messages gets the events read while it was on the way again on top (FetchLog,
 * web/src/message-list.ts), so that it never takes away a message that came meanwhile nor sets a delivery back.
 */
export function eventGroupMessage (list: GroupMessage[], m: GroupMessage): GroupMessage[] {
  if (list.some((x) => sameMessage(x, m))) return list.map((x) => sameMessage(x, m) ? m : x)
  return groupDisplayOrder([...list, m])
}
