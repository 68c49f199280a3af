// How the app's group list takes in a group view (issue 11). Views come two ways: the node's events, on one
// socket in the order the node made them, and the answers to the page's own calls (an action's result, a reload).
// An answer can reach the page after an event the node sent later: adding a member answers with the group as it
// was (the member joins when its device answers), and on a loaded machine that answer can come after the event
// with the new member in it; it took the member off the panel until the next change (a CI failure). So an answer
// never replaces a view of a later version; events always replace (they are in order). A reload of the whole list
// (at each reconnection of the socket) still replaces it: it is there to catch up with events the page missed.
// Pure (no React, no DOM): test/web/group-list.test.ts.
import type { GroupMessage, GroupView } from './types.ts'

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

/** The node's order of a group's messages (src/messenger/groups/store.ts messages()): by sentAt, sender, seq. */
export function groupOrder (a: GroupMessage, b: GroupMessage): number {
  return a.sentAt - b.sentAt || (a.senderAccountId < b.senderAccountId ? -1 : a.senderAccountId > b.senderAccountId ? 1 : 0) || a.seq - b.seq
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
  const at = list.findIndex((x) => groupOrder(x, m) > 0)
  return at === -1 ? [...list, m] : [...list.slice(0, at), m, ...list.slice(at)]
}
