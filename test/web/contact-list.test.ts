// The web UI's contact list (web/src/contact-list.ts): an answer to the page's own call that reaches the page after
// a later event must not undo that event. The page wrote every answer over the list: a rename's or a block's
// answer, built before a new message came, took away that message's unread badge and preview once it reached the
// page after the message's contact event (two connections; nothing orders them), and a reload's answer (at each
// connection of the event socket) did the same to every event that came while it was on the way. Nothing brought
// them back before the contact's next event. Each view carries the node's rev (higher: built later).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { answeredContact, eventContact, reloadedContacts, removedContact } from '../../web/src/contact-list.ts'
import type { ContactView, KeyChangeView } from '../../web/src/api.ts'

const view = (id: string, rev: number, o: Partial<ContactView> = {}): ContactView =>
  ({ id, name: `name-${id}`, accountId: `acc-${id}`, verified: false, unread: 0, rev, ...o })
const last = (text: string, at: number): ContactView['lastMessage'] => ({ text, at, direction: 'in' })
const pending: KeyChangeView = { at: 1_000, state: 'pending', held: 1 }
const byId = (l: ContactView[], id: string): ContactView | undefined => l.find((c) => c.id === id)

test('contact list: a rename\'s answer that comes after the event of a newer message leaves its unread count and preview', () => {
  const other = view('c2', 3)
  let list = [view('c1', 4, { lastMessage: last('see you', 10) }), other]
  // Node: rename builds one view (rev 5), sends it as an event and as the answer; a message comes (event rev 6).
  const renamed = view('c1', 5, { name: 'Bobby', lastMessage: last('see you', 10) })
  list = eventContact(list, renamed)
  list = eventContact(list, view('c1', 6, { name: 'Bobby', unread: 1, lastMessage: last('are you there?', 20) }))
  list = answeredContact(list, renamed)
  const c1 = byId(list, 'c1')
  assert.equal(c1?.unread, 1, 'the unread badge stays')
  assert.equal(c1?.lastMessage?.text, 'are you there?', 'the preview stays')
  assert.equal(c1?.name, 'Bobby', 'the rename is shown (by its own event)')
  assert.equal(list.length, 2)
  assert.equal(byId(list, 'c2'), other, 'other contacts untouched')
})

test('contact list: a block\'s answer after the event of a new key change keeps the safety-number warning', () => {
  let list = [view('c1', 7)]
  const blocked = view('c1', 8, { blocked: true })
  list = eventContact(list, blocked)
  list = eventContact(list, view('c1', 9, { blocked: true, keyChange: pending }))
  list = answeredContact(list, blocked)
  assert.equal(byId(list, 'c1')?.keyChange?.state, 'pending')
})

test('contact list: the answer first, then the events: each is shown in turn', () => {
  let list = [view('c1', 4)]
  list = answeredContact(list, view('c1', 5, { name: 'Bobby' }))
  assert.equal(byId(list, 'c1')?.name, 'Bobby', 'an answer newer than the view shown is taken (its event is on the way)')
  list = eventContact(list, view('c1', 5, { name: 'Bobby' }))
  list = eventContact(list, view('c1', 6, { name: 'Bobby', unread: 1 }))
  assert.equal(byId(list, 'c1')?.unread, 1)
})

test('contact list: a late answer for a contact deleted meanwhile does not bring it back; an added contact is listed once', () => {
  let list = [view('c1', 4), view('c2', 5)]
  list = list.filter((c) => c.id !== 'c2') // contact-removed event
  list = answeredContact(list, view('c2', 6, { name: 'renamed' }))
  assert.deepEqual(list.map((c) => c.id), ['c1'])
  // Adding a contact: its event can come before the answer, or after.
  const added = view('c3', 7, { name: 'Carol' })
  list = eventContact(list, added)
  list = eventContact(list, added)
  assert.deepEqual(list.map((c) => c.id), ['c1', 'c3'])
  list = eventContact(list, view('c4', 8))
  assert.deepEqual(list.map((c) => c.id), ['c1', 'c3', 'c4'])
})

test('contact list: a reload keeps what events brought after it was made, and drops contacts deleted while the socket was down', () => {
  let list = [view('c1', 4), view('c2', 5), view('gone', 3)]
  // The reload is made (revs 10-11); then a message from c1 comes (event 12), and Dave accepts my invite (event 13).
  const reloaded = [view('c2', 10, { name: 'Bob B' }), view('c1', 11, { lastMessage: last('old', 5) })]
  list = eventContact(list, view('c1', 12, { unread: 2, lastMessage: last('new', 30) }))
  list = eventContact(list, view('c4', 13, { name: 'Dave' }))
  list = reloadedContacts(list, reloaded)
  assert.deepEqual(list.map((c) => c.id), ['c2', 'c1', 'c4'], 'in the reload\'s order, the contact added since at the end, the deleted one gone')
  assert.equal(byId(list, 'c1')?.unread, 2)
  assert.equal(byId(list, 'c1')?.lastMessage?.text, 'new')
  assert.equal(byId(list, 'c2')?.name, 'Bob B', 'a reloaded view newer than the shown one is taken')
  // An event made before the reload that the page reads after it changes nothing.
  list = eventContact(list, view('c2', 9, { name: 'Bob' }))
  assert.equal(byId(list, 'c2')?.name, 'Bob B')
  // A reload with no contacts empties the list.
  assert.deepEqual(reloadedContacts(list, []), [])
})

test('contact list: a reload built before a contact was deleted does not bring it back; one built after its re-adding does', () => {
  const removed = new Map<string, number>()
  let list = [view('c1', 4), view('c2', 5)]
  // The reload is made (revs 10-11) and is on its way; then c2 is deleted (event rev 12).
  const stale = [view('c1', 10), view('c2', 11)]
  list = removedContact(list, removed, 'c2', 12)
  assert.deepEqual(list.map((c) => c.id), ['c1'])
  list = reloadedContacts(list, stale, removed)
  assert.deepEqual(list.map((c) => c.id), ['c1'], 'the stale reload leaves the deleted contact out')
  // The same contact accepted again later: its views are newer than its removal.
  list = reloadedContacts(list, [view('c1', 20), view('c2', 21, { name: 'again' })], removed)
  assert.deepEqual(list.map((c) => c.id), ['c1', 'c2'])
  assert.equal(byId(list, 'c2')?.name, 'again')
})
