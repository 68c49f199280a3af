// An edit or a deletion for everyone that arrives before the message it names (issue 13 review): held in the
// store and applied when the message comes, in its commit; bounded per contact and in all; expired with the
// mailbox retention. Two real messengers (libsignal, SQLCipher): the envelopes are sealed by Alice's device and
// handed to Bob's messenger in the order a network could deliver them.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { HELD_CONTROL_TTL_MS, HeldControls, MAX_HELD_CONTROLS, MAX_HELD_CONTROLS_PER_CONTACT, TAKE_HELD_SQL } from '../../src/messenger/chat/held-controls.ts'
import { EDIT_WINDOW_MS } from '../../src/messenger/chat/rules.ts'
import type { MessageView } from '../../src/messenger/types.ts'
import { twoMessengers, type Side } from '../helpers/two-messengers.ts'
import { addContact } from '../helpers/store-rows.ts'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const text = async (a: Side, id: Uint8Array, seq: number, body: string, sentAt = Date.now()): Promise<Uint8Array> =>
  await a.device.seal(a.contactId, { kind: 'text', id, seq, sentAt, text: body })

async function events (b: Side, run: () => Promise<void>, type: 'message' | 'message-state' = 'message'): Promise<MessageView[]> {
  const got: MessageView[] = []
  const off = b.core.subscribe((e) => { if (e.type === type && (e.type === 'message' || e.type === 'message-state')) got.push(e.message) })
  try { await run() } finally { off() }
  return got
}

test('a deletion for everyone that comes before its message: the message arrives deleted, is never shown, and is not searchable', async (t) => {
  const { a, b, close } = await twoMessengers()
  t.after(close)
  const id = randomBytes(16)
  const message = await text(a, id, 1, 'the vault code is swordfish')
  const deletion = await a.device.seal(a.contactId, { kind: 'delete', id: randomBytes(16), seq: 0, target: id, deletedAt: Date.now() })
  await b.core.receiveEnvelope(deletion, 'direct')
  assert.equal(b.history.message(b.contactId, 'in', hex(id)), undefined)
  const shown = await events(b, async () => { await b.core.receiveEnvelope(message, 'relayed') })
  const stored = b.history.message(b.contactId, 'in', hex(id))
  assert.equal(stored?.deleted, true)
  assert.equal(stored.text, '')
  assert.deepEqual(shown.map((m) => [m.id, m.deleted, m.text]), [[hex(id), true, '']], 'the message event already carries the deletion')
  assert.deepEqual(await b.core.search('swordfish'), [])
  assert.equal(new HeldControls(b.device.db).size(), 0, 'applied controls are not kept')
})

test('a reply deleted before it arrives is stored deleted, and the deletion goes out as a state change (what the file side forgets a file by)', async (t) => {
  const { a, b, close } = await twoMessengers()
  t.after(close)
  const first = randomBytes(16)
  await b.core.receiveEnvelope(await text(a, first, 1, 'hello'), 'direct')
  const id = randomBytes(16)
  const reply = await a.device.seal(a.contactId, { kind: 'reply', id, seq: 2, sentAt: Date.now(), text: 'the code is 4711', replyTo: first, quote: 'hello' })
  await b.core.receiveEnvelope(await a.device.seal(a.contactId, { kind: 'delete', id: randomBytes(16), seq: 0, target: id, deletedAt: Date.now() }), 'direct')
  const states = await events(b, async () => { await b.core.receiveEnvelope(reply, 'relayed') }, 'message-state')
  assert.deepEqual(states.map((m) => [m.id, m.deleted]), [[hex(id), true]])
  assert.equal(b.history.message(b.contactId, 'in', hex(id))?.text, '')
  // The same for a text: the state change is there beside the message event.
  const id2 = randomBytes(16)
  const message = await text(a, id2, 3, 'more')
  await b.core.receiveEnvelope(await a.device.seal(a.contactId, { kind: 'delete', id: randomBytes(16), seq: 0, target: id2, deletedAt: Date.now() }), 'direct')
  assert.deepEqual((await events(b, async () => { await b.core.receiveEnvelope(message, 'relayed') }, 'message-state')).map((m) => m.deleted), [true])
})

test('an edit that comes before its message is applied when it arrives (the later of two edits wins); one outside the window is not', async (t) => {
  const { a, b, close } = await twoMessengers()
  t.after(close)
  const sentAt = Date.now()
  const id = randomBytes(16)
  const message = await text(a, id, 1, 'meet at 6', sentAt)
  const later = await a.device.seal(a.contactId, { kind: 'edit', id: randomBytes(16), seq: 0, target: id, editedAt: sentAt + 2_000, text: 'meet at 8' })
  const earlier = await a.device.seal(a.contactId, { kind: 'edit', id: randomBytes(16), seq: 0, target: id, editedAt: sentAt + 1_000, text: 'meet at 7' })
  await b.core.receiveEnvelope(later, 'direct')
  await b.core.receiveEnvelope(earlier, 'direct')
  await b.core.receiveEnvelope(message, 'relayed')
  const got = b.history.message(b.contactId, 'in', hex(id))
  assert.equal(got?.text, 'meet at 8')
  assert.equal(got.editedAt, sentAt + 2_000)
  assert.equal((await b.core.search('meet 8')).length, 1)
  // An edit dated past the window (the sender's device would have refused it) is held, then refused on arrival.
  const id2 = randomBytes(16)
  const late = await a.device.seal(a.contactId, { kind: 'edit', id: randomBytes(16), seq: 0, target: id2, editedAt: sentAt + EDIT_WINDOW_MS + 1_000, text: 'rewritten' })
  await b.core.receiveEnvelope(late, 'direct')
  await b.core.receiveEnvelope(await text(a, id2, 2, 'original', sentAt), 'relayed')
  assert.equal(b.history.message(b.contactId, 'in', hex(id2))?.text, 'original')
})

test('held controls are bounded per contact and in all (the oldest goes first) and expire with the mailbox retention', async (t) => {
  const { b, close } = await twoMessengers()
  t.after(close)
  const held = new HeldControls(b.device.db)
  let now = 1_000_000
  for (let i = 0; i < MAX_HELD_CONTROLS_PER_CONTACT + 5; i++) held.hold(b.contactId, `t${i}`, { kind: 'delete', at: now }, now++)
  assert.equal(held.size(), MAX_HELD_CONTROLS_PER_CONTACT)
  assert.deepEqual(held.take(b.contactId, 't0'), [], 'the oldest went first')
  assert.equal(held.take(b.contactId, `t${MAX_HELD_CONTROLS_PER_CONTACT + 4}`).length, 1)
  // Past the retention nothing can apply any more: swept at the next hold.
  now += HELD_CONTROL_TTL_MS + 1
  held.hold(b.contactId, 'fresh', { kind: 'edit', text: 'x', at: now }, now)
  assert.equal(held.size(), 1)
  // A second edit of a target already held replaces it and makes no room (nothing else is pushed out).
  held.take(b.contactId, 'fresh')
  for (let i = 0; i < MAX_HELD_CONTROLS_PER_CONTACT; i++) held.hold(b.contactId, `k${i}`, { kind: 'edit', text: 'v1', at: now }, now++)
  for (let i = 0; i < 10; i++) held.hold(b.contactId, 'k5', { kind: 'edit', text: `v${i + 2}`, at: now + i }, now++)
  assert.equal(held.size(), MAX_HELD_CONTROLS_PER_CONTACT)
  assert.equal(held.take(b.contactId, 'k0').length, 1, 'the oldest is still there')
  assert.deepEqual(held.take(b.contactId, 'k5').map((c) => c.text), ['v11'], 'the latest edit')
  assert.ok(MAX_HELD_CONTROLS > MAX_HELD_CONTROLS_PER_CONTACT)
  // A deleted contact's held controls go with it (foreign key cascade).
  await b.core.deleteContact(b.contactId)
  assert.equal(held.size(), 0)
})

test('the lookup every incoming message makes is a primary-key search, whatever is held', async (t) => {
  const { b, close } = await twoMessengers()
  t.after(close)
  const plan = b.device.db.prepare(`EXPLAIN QUERY PLAN ${TAKE_HELD_SQL}`).all([null, null]).map((r) => String(r.detail))
  assert.ok(plan.length > 0 && plan.every((d) => d.startsWith('SEARCH chat_held_controls USING PRIMARY KEY')), plan.join('; '))
})

test('at the total bound room is taken from the contact holding the most: one flooding contact cannot push others below a fair share', async (t) => {
  const { b, close } = await twoMessengers()
  t.after(close)
  // Five contacts (ids of distinct lengths: the row helper derives each one's mailbox id from it).
  const ids = ['c1', 'c22', 'c333', 'c4444', 'c55555']
  for (const id of ids) addContact(b.device.db, id)
  const held = new HeldControls(b.device.db)
  const countOf = (id: string): number => Number(b.device.db.prepare('SELECT count(*) AS n FROM chat_held_controls WHERE contact_id = ?').get([id])?.n ?? 0)
  let now = 1_000_000
  const flood = (id: string, n: number): void => { for (let i = 0; i < n; i++) held.hold(id, `${id}-${now}`, { kind: 'delete', at: now }, now++) }
  // Four contacts fill the whole store between them.
  for (const id of ids.slice(0, 4)) flood(id, MAX_HELD_CONTROLS_PER_CONTACT)
  assert.equal(held.size(), MAX_HELD_CONTROLS)
  // A fifth still gets room: taken from one of the biggest, not refused.
  flood('c55555', 1)
  assert.equal(countOf('c55555'), 1)
  assert.equal(held.size(), MAX_HELD_CONTROLS)
  // Now the fifth floods: it grows only while it holds less than the others, then pushes out its own oldest.
  flood('c55555', 10 * MAX_HELD_CONTROLS)
  const fair = Math.floor(MAX_HELD_CONTROLS / ids.length)
  const counts = ids.map(countOf)
  assert.equal(held.size(), MAX_HELD_CONTROLS)
  for (const [i, n] of counts.entries()) assert.ok(n >= fair && n <= fair + 1, `${ids[i] ?? ''} holds ${n}, fair share ${fair}: ${counts.join(', ')}`)
  // And a contact that floods again takes nothing more from the others.
  flood('c1', 10 * MAX_HELD_CONTROLS)
  const after = ids.map(countOf)
  for (const [i, n] of after.entries()) if (i !== 0) assert.ok(n >= fair, `${ids[i] ?? ''} keeps its fair share: ${after.join(', ')}`)
  assert.ok((after[0] ?? 0) <= fair + 1, `the flooder holds at most one more than its share: ${after.join(', ')}`)
})

test('which contacts hold controls is known exactly: across a restart, and when the commit that took one rolls back', async (t) => {
  const { b, close } = await twoMessengers()
  t.after(close)
  const db = b.device.db
  new HeldControls(db).hold(b.contactId, 'early', { kind: 'delete', at: 1 }, Date.now())
  // A new instance (a restarted messenger) reads the holders from the store.
  const held = new HeldControls(db)
  assert.deepEqual(held.take(b.contactId, 'nothing'), [])
  // A take whose commit rolls back leaves the row, and the contact still counted as holding it.
  assert.throws(() => { db.transaction(() => { assert.equal(held.take(b.contactId, 'early').length, 1); throw new RangeError('rolled back') })() }, RangeError)
  await Promise.resolve()
  assert.equal(held.size(), 1)
  assert.deepEqual(held.take(b.contactId, 'early').map((c) => c.kind), ['delete'])
  // A hold whose commit rolls back leaves nothing held, and the next take finds nothing.
  assert.throws(() => { db.transaction(() => { held.hold(b.contactId, 'gone', { kind: 'edit', text: 'x', at: 2 }, Date.now()); throw new RangeError('rolled back') })() }, RangeError)
  await Promise.resolve()
  assert.deepEqual(held.take(b.contactId, 'gone'), [])
  assert.equal(held.size(), 0)
})
