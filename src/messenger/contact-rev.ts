// The `rev` of a contact view: which of two views of a contact is newer. The web UI gets views two ways, the
// node's events (one socket, in order) and the answers to its own calls (rename, block, a key-change decision, a
// reload of the list), and an answer can reach the page after an event the node made later: written over the
// list, it undid that event (a new message's unread count and preview, a new key change's warning) until the
// contact's next event. A view built later holds everything changed before it (one thread), so a number taken as
// each view is built orders them: the page keeps the view with the higher rev (web/src/contact-list.ts).
// Process-wide, not per messenger: a page outlives a lock and unlock (a new MessengerCore) but not a node process
// (a new start makes a new API token, and the page must be opened anew).
let last = 0

/** The next rev: higher than every rev this process gave before. */
export function nextContactRev (): number {
  return ++last
}
