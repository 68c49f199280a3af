// How the app's contact list takes in a contact view. Views come two ways: the node's events, on one socket in
// the order the node made them, and the answers to the page's own calls (rename, block, a key-change decision,
// adding a contact, a reload of the list). An answer can reach the page after an event the node made later (two
// connections; the page reads an answer's body in tasks of its own): written over the list, a rename's answer
// took away the unread count and preview of a message that came meanwhile, and a reload's (at each connection of
// the socket, when a node fetches its mailboxes) whatever events came while it was on the way; nothing brought
// them back until the contact's next event. Each view carries a rev, higher for a view built later (the node is
// one thread: a later view holds every change before it; src/messenger/contact-rev.ts), so whichever way it
// comes, the page keeps the newer view. Nothing is lost by refusing an older answer: the node sent the same
// change as an event no later than the answer was built (rename, block, a key-change decision), and a newer view
// holds it too. Pure (no React, no DOM): test/web/contact-list.test.ts.
import type { ContactView } from './api.ts'

const newer = (c: ContactView, shown: ContactView | undefined): boolean => shown === undefined || c.rev > shown.rev

/** A view from the node's event socket, or a contact just added: shown unless a newer view of it is. */
export function eventContact (list: ContactView[], c: ContactView): ContactView[] {
  const shown = list.find((x) => x.id === c.id)
  if (shown === undefined) return [...list, c]
  return newer(c, shown) ? list.map((x) => x.id === c.id ? c : x) : list
}

/**
 * The answer to an action on a shown contact (rename, block, a key-change decision): taken only if newer than the
 * view shown, and never for a contact no longer listed (deleted meanwhile: its answer must not bring it back).
 */
export function answeredContact (list: ContactView[], c: ContactView): ContactView[] {
  return list.some((x) => x.id === c.id) ? eventContact(list, c) : list
}

/**
 * Contacts removed while the page is open, each with the rev of its `contact-removed` event: a reload built before
 * the removal (every view in it has a lower rev) must not bring the contact back until the next reload.
 */
export type Removed = ReadonlyMap<string, number>

/** A `contact-removed` event: the contact leaves the list, and its rev is remembered for later reloads. */
export function removedContact (list: ContactView[], removed: Map<string, number>, id: string, rev: number): ContactView[] {
  removed.set(id, Math.max(rev, removed.get(id) ?? -Infinity))
  return list.filter((c) => c.id !== id)
}

/**
 * A reload of the whole list (GET /api/contacts, in the node's order): each contact as reloaded unless the page
 * shows a newer view of it, or removed it after the view was built. A contact shown but not reloaded was deleted,
 * unless its view is newer than every reloaded one (built after the reload: added since; its event came first).
 * An empty reload has no rev to tell by: it empties the list (a contact added meanwhile shows at its next event).
 */
export function reloadedContacts (list: ContactView[], reloaded: ContactView[], removed: Removed = new Map()): ContactView[] {
  const shown = new Map(list.map((x) => [x.id, x]))
  const snapshot = reloaded.length === 0 ? Infinity : reloaded.reduce((m, x) => Math.max(m, x.rev), -Infinity)
  const ids = new Set(reloaded.map((x) => x.id))
  const kept = reloaded
    .filter((c) => c.rev > (removed.get(c.id) ?? -Infinity))
    .map((c) => { const s = shown.get(c.id); return s !== undefined && !newer(c, s) ? s : c })
  return [...kept, ...list.filter((x) => !ids.has(x.id) && x.rev > snapshot)]
}
