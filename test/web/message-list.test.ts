// The web UI's open conversation (web/src/message-list.ts): the answer to GET /messages that reaches the page after
// a later event must not undo that event. The page wrote the answer over the conversation: a message that came
// while the answer was on the way disappeared until the chat was opened again, a delivered/read tick went back,
// an edit or a delete was undone. Each test has the node take its snapshot, then make events that the page reads
// before the answer; the old replace-the-list logic (the answer as shown) fails each of them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { applyChange, displayOrder, MessageFetches, OlderPages, withOlder, type MessageChange } from '../../web/src/message-list.ts'
import type { MessageView } from '../../web/src/api.ts'
import { History } from '../../src/messenger/history.ts'
import { openDatabase, resolveDatabaseKey } from '../../src/store/db.ts'
import { MIGRATIONS } from '../../src/store/schema.ts'
import { tempDir } from '../helpers/testnet.ts'

const msg = (id: string, direction: 'in' | 'out', at: number, o: Partial<MessageView> = {}): MessageView =>
  ({ id, contactId: 'c1', direction, text: `text-${id}`, seq: at, at, state: direction === 'in' ? 'delivered' : 'sent', ...o })
const up = (message: MessageView): MessageChange => ({ type: 'upsert', message })
const keys = (l: MessageView[]): string[] => l.map((m) => `${m.direction}-${m.id}`)
const find = (l: MessageView[], id: string, direction: 'in' | 'out'): MessageView | undefined =>
  l.find((m) => m.id === id && m.direction === direction)

/** The page's side: events shown as read and recorded for the fetches on the way. */
function page (): { fetches: MessageFetches, shown: () => MessageView[], event: (contactId: string, c: MessageChange) => void, set: (l: MessageView[]) => void } {
  const fetches = new MessageFetches()
  const lists = new Map<string, MessageView[]>()
  return {
    fetches,
    shown: () => lists.get('c1') ?? [],
    event: (contactId, c) => { fetches.record(contactId, c); lists.set(contactId, applyChange(lists.get(contactId) ?? [], c)) },
    set: (l) => { lists.set('c1', l) }
  }
}

test('message list: a message that comes while the conversation is fetched stays shown', () => {
  const p = page()
  const f = p.fetches.start('c1')
  const snapshot = [msg('a', 'in', 1), msg('b', 'out', 2)]
  // The node took its snapshot; then a message came, its event read before the answer.
  p.event('c1', up(msg('c', 'in', 3)))
  p.set(p.fetches.answered(f, snapshot))
  assert.deepEqual(keys(p.shown()), ['in-a', 'out-b', 'in-c'])
})

test('message list: a delivered or read tick does not go back, an edit and a delete are not undone', () => {
  const p = page()
  p.set([msg('a', 'out', 1, { state: 'sent' }), msg('b', 'in', 2), msg('x', 'out', 3, { state: 'delivered' })])
  const f = p.fetches.start('c1')
  const snapshot = [msg('a', 'out', 1, { state: 'sent' }), msg('b', 'in', 2), msg('x', 'out', 3, { state: 'delivered' })]
  p.event('c1', up(msg('a', 'out', 1, { state: 'delivered' })))
  p.event('c1', up(msg('a', 'out', 1, { state: 'read' })))
  p.event('c1', up(msg('b', 'in', 2, { text: 'fixed', editedAt: 50 })))
  p.event('c1', up(msg('x', 'out', 3, { text: '', deleted: true, state: 'read' })))
  p.set(p.fetches.answered(f, snapshot))
  const l = p.shown()
  assert.equal(find(l, 'a', 'out')?.state, 'read')
  assert.equal(find(l, 'b', 'in')?.text, 'fixed')
  assert.equal(find(l, 'b', 'in')?.editedAt, 50)
  assert.equal(find(l, 'x', 'out')?.deleted, true)
  assert.equal(l.length, 3)
})

test('message list: a message removed from this device meanwhile stays removed; the same id the other way is another message', () => {
  const p = page()
  const f = p.fetches.start('c1')
  // The contact chose the id 'a' too: mine and theirs are two messages.
  const snapshot = [msg('a', 'in', 1), msg('a', 'out', 2), msg('b', 'in', 3)]
  p.event('c1', { type: 'removed', id: 'a', direction: 'out' })
  p.event('c1', up(msg('b', 'out', 4)))
  p.set(p.fetches.answered(f, snapshot))
  assert.deepEqual(keys(p.shown()), ['in-a', 'in-b', 'out-b'])
})

test('message list: events made before the snapshot but read after the page asked end as the snapshot has them', () => {
  const p = page()
  const f = p.fetches.start('c1')
  // delivered, then read, were both made before the snapshot (which has 'read'): replayed in order, 'read' stays.
  p.event('c1', up(msg('a', 'out', 1, { state: 'delivered' })))
  p.event('c1', up(msg('a', 'out', 1, { state: 'read' })))
  p.set(p.fetches.answered(f, [msg('a', 'out', 1, { state: 'read' }), msg('b', 'in', 2)]))
  assert.deepEqual(keys(p.shown()), ['out-a', 'in-b'])
  assert.equal(find(p.shown(), 'a', 'out')?.state, 'read')
  // A message that failed and is sent again goes back to queued: an event says so, and the page follows.
  p.event('c1', up(msg('b', 'out', 3, { state: 'failed' })))
  const g = p.fetches.start('c1')
  p.event('c1', up(msg('b', 'out', 3, { state: 'queued' })))
  p.set(p.fetches.answered(g, [msg('a', 'out', 1, { state: 'read' }), msg('b', 'in', 2), msg('b', 'out', 3, { state: 'failed' })]))
  assert.equal(find(p.shown(), 'b', 'out')?.state, 'queued')
})

test('message list: only events of the conversation fetched, and only while the fetch is on the way, are replayed', () => {
  const p = page()
  p.event('c1', up(msg('old', 'in', 1))) // before the page asked: the answer decides (it was removed while the socket was down)
  const f = p.fetches.start('c1')
  const other = p.fetches.start('c2')
  p.event('c2', up(msg('z', 'in', 5, { contactId: 'c2' })))
  p.set(p.fetches.answered(f, [msg('a', 'in', 2)]))
  assert.deepEqual(keys(p.shown()), ['in-a'])
  // After the answer, events are shown as they come and not kept for the ended fetch.
  p.event('c1', up(msg('b', 'in', 3)))
  assert.deepEqual(keys(p.shown()), ['in-a', 'in-b'])
  assert.deepEqual(p.fetches.answered(other, []).map((m) => m.id), ['z'])
  // A failed fetch keeps nothing: a later one starts from its own request.
  const h = p.fetches.start('c1')
  p.fetches.failed(h)
  p.event('c1', up(msg('c', 'in', 4)))
  const k = p.fetches.start('c1')
  assert.deepEqual(keys(p.fetches.answered(k, [msg('a', 'in', 2)])), ['in-a'])
})

test('message list: two fetches of one conversation on the way each keep the events since their own request', () => {
  const p = page()
  const first = p.fetches.start('c1')
  p.event('c1', up(msg('b', 'in', 2)))
  const second = p.fetches.start('c1')
  p.event('c1', up(msg('c', 'in', 3)))
  // The second answer (snapshot after b) comes first, then the first (snapshot before b).
  p.set(p.fetches.answered(second, [msg('a', 'in', 1), msg('b', 'in', 2)]))
  assert.deepEqual(keys(p.shown()), ['in-a', 'in-b', 'in-c'])
  p.set(p.fetches.answered(first, [msg('a', 'in', 1)]))
  assert.deepEqual(keys(p.shown()), ['in-a', 'in-b', 'in-c'])
})

test('message list: a live message takes the node\'s place for it, not its arrival time: the sender\'s clock may differ, and one sender\'s messages stay in seq order', () => {
  const p = page()
  // The contact's clock is 10 s behind mine: its messages were written (sentAt) before my reply, and came after it.
  const f = p.fetches.start('c1')
  const snapshot = [msg('a', 'in', 1, { seq: 1, sentAt: 100, at: 10_100 }), msg('b', 'out', 5_000, { seq: 1 })]
  p.set(p.fetches.answered(f, snapshot))
  p.event('c1', up(msg('c', 'in', 10_200, { seq: 2, sentAt: 200 })))
  // The node's order (and the next reload's): by when each was written, each sender by seq.
  assert.deepEqual(keys(p.shown()), ['in-a', 'in-c', 'out-b'])
  // A mailbox copy of the contact's seq 3 comes after its seq 4 (which came direct): seq 3 still shows first.
  p.event('c1', up(msg('e', 'in', 10_300, { seq: 4, sentAt: 400 })))
  p.event('c1', up(msg('d', 'in', 10_400, { seq: 3, sentAt: 300 })))
  assert.deepEqual(keys(p.shown()), ['in-a', 'in-c', 'in-d', 'in-e', 'out-b'])
  // A reload answers in the node's order, which the list already had.
  const g = p.fetches.start('c1')
  const reload = [snapshot[0], msg('c', 'in', 10_200, { seq: 2, sentAt: 200 }), msg('d', 'in', 10_400, { seq: 3, sentAt: 300 }), msg('e', 'in', 10_300, { seq: 4, sentAt: 400 }), snapshot[1]] as MessageView[]
  assert.deepEqual(keys(p.fetches.answered(g, reload)), keys(p.shown()))
  // My next message, written after all of them, goes last; on a tie of times mine goes first, as the node puts it.
  p.event('c1', up(msg('f', 'out', 6_000, { seq: 2 })))
  p.event('c1', up(msg('g', 'in', 10_500, { seq: 5, sentAt: 6_000 })))
  assert.deepEqual(keys(p.shown()), ['in-a', 'in-c', 'in-d', 'in-e', 'out-b', 'out-f', 'in-g'])
})

test('message list: a contact\'s far-future sentAt places its message where it came, and a repeated seq has one order', () => {
  const list = [
    msg('o1', 'out', 150, { seq: 1 }),
    msg('i1', 'in', 101, { seq: 1, sentAt: 100 }),
    msg('o2', 'out', 300, { seq: 2 }),
    msg('i2', 'in', 200, { seq: 2, sentAt: Number.MAX_SAFE_INTEGER }),
    msg('i3b', 'in', 401, { seq: 3, sentAt: 400 }),
    msg('i3a', 'in', 402, { seq: 3, sentAt: 400 }),
    msg('i3c', 'in', 403, { seq: 3, sentAt: 390 })
  ]
  const order = ['in-i1', 'out-o1', 'in-i2', 'out-o2', 'in-i3c', 'in-i3a', 'in-i3b']
  assert.deepEqual(keys(displayOrder(list)), order)
  assert.deepEqual(keys(displayOrder([...list].reverse())), order)
  // Live, one at a time, in either order: the same place.
  assert.deepEqual(keys(list.reduce<MessageView[]>((l, m) => applyChange(l, up(m)), [])), order)
  assert.deepEqual(keys([...list].reverse().reduce<MessageView[]>((l, m) => applyChange(l, up(m)), [])), order)
})

test('message list: the page orders a conversation as the node does (a real store\'s history, the views it gives)', (t) => {
  const dir = tempDir(t, '0m1-web-order-')
  const db = openDatabase({ path: join(dir, 'store.db'), key: resolveDatabaseKey(dir, { create: true }), migrations: MIGRATIONS })
  t.after(() => { db.close() })
  const blob = Buffer.alloc(32, 1)
  db.prepare(`INSERT INTO contacts (id, name, their_display_name, account_id, identity_key, address, created_at,
    their_mailbox_id, their_mailbox_key, their_relays, their_addresses, my_mailbox_id, my_mailbox_key,
    my_mailbox_private_key, my_mailbox_public_key, my_presence_secret)
    VALUES ('c1', 'c', 'c', 'acct', ?, 'addr', 0, ?, ?, '[]', '[]', ?, ?, ?, ?, ?)`).run([blob, blob, blob, blob, blob, blob, blob, blob])
  const h = new History(db, { searchIdleMs: false })
  // The contact's clock 10 s behind mine; its seq 3 comes after its seq 4; mine and its texts interleave.
  const events: MessageView[] = []
  const mine = (seq: number, at: number): void => { events.push(h.queueOutgoing({ contactId: 'c1', id: `o${seq}`, seq, text: 'x', at, envelope: new Uint8Array([1]), expiresAt: at + 1000 })) }
  const theirs = (seq: number, sentAt: number, at: number): void => {
    const v = h.receive({ contactId: 'c1', id: `i${seq}`, seq, text: 'y', sentAt, at, path: 'direct' })
    assert.ok(v !== undefined)
    events.push(v)
  }
  theirs(1, 1_000, 11_000)
  mine(1, 5_000)
  theirs(2, 4_000, 14_000)
  theirs(4, 6_000, 16_000)
  mine(2, 5_500)
  theirs(3, 5_000, 17_000)
  mine(3, 6_000)
  // A clock far ahead, and a seq repeated: placed alike.
  theirs(5, Number.MAX_SAFE_INTEGER, 18_000)
  mine(4, 20_000)
  const again = (id: string, sentAt: number, at: number): void => {
    const v = h.receive({ contactId: 'c1', id, seq: 6, text: 'y', sentAt, at, path: 'direct' })
    assert.ok(v !== undefined)
    events.push(v)
  }
  again('i6b', 21_000, 21_500)
  again('i6a', 21_000, 21_600)
  again('i6c', 20_500, 21_700)
  const node = h.messages('c1')
  assert.equal(node.length, events.length)
  assert.equal(node.find((m) => m.id === 'i3')?.sentAt, 5_000)
  assert.deepEqual(keys(events.reduce<MessageView[]>((l, m) => applyChange(l, up(m)), [])), keys(node), 'live events')
  assert.deepEqual(keys(displayOrder([...node].reverse())), keys(node))
  h.flush()
})

test('an older page joins the list: the messages it does not hold, in display order; the list keeps its newer copy', () => {
  const list = [msg('o2', 'out', 300, { seq: 2 }), msg('i2', 'in', 320, { seq: 2, sentAt: 310 })]
  // The older page overlaps the list by one message, which an event has since moved on.
  const older = [msg('o1', 'out', 100, { seq: 1 }), msg('i1', 'in', 210, { seq: 1, sentAt: 200 }), msg('o2', 'out', 300, { seq: 2, state: 'queued' })]
  const next = withOlder([{ ...list[0] as MessageView, state: 'read' }, list[1] as MessageView], older)
  assert.deepEqual(keys(next), ['out-o1', 'in-i1', 'out-o2', 'in-i2'])
  assert.equal(find(next, 'o2', 'out')?.state, 'read')
})

/** A real store with contact c1. */
function store (t: import('node:test').TestContext): History {
  const dir = tempDir(t, '0m1-web-older-')
  const db = openDatabase({ path: join(dir, 'store.db'), key: resolveDatabaseKey(dir, { create: true }), migrations: MIGRATIONS })
  t.after(() => { db.close() })
  const blob = Buffer.alloc(32, 1)
  db.prepare(`INSERT INTO contacts (id, name, their_display_name, account_id, identity_key, address, created_at,
    their_mailbox_id, their_mailbox_key, their_relays, their_addresses, my_mailbox_id, my_mailbox_key,
    my_mailbox_private_key, my_mailbox_public_key, my_presence_secret)
    VALUES ('c1', 'c', 'c', 'acct', ?, 'addr', 0, ?, ?, '[]', '[]', ?, ?, ?, ?, ?)`).run([blob, blob, blob, blob, blob, blob, blob, blob])
  const h = new History(db, { searchIdleMs: false })
  t.after(() => { h.flush() })
  return h
}

const T0 = 1_000_000
const PAGE = 200

test('older pages: a live message written before the oldest shown does not move the cursor (no message skipped)', (t) => {
  const h = store(t)
  for (let s = 1; s <= 300; s++) h.queueOutgoing({ contactId: 'c1', id: `o${s}`, seq: s, text: 'x', at: T0 + s * 60_000, envelope: new Uint8Array([1]), expiresAt: T0 + 1e12 })
  const pages = new OlderPages()
  const generation = pages.newest('c1')
  const newest = h.messages('c1', { limit: PAGE })
  assert.equal(pages.answered('c1', generation, newest), true)
  // The contact's text comes now, its clock 4 h behind: written before the oldest message shown.
  const late = h.receive({ contactId: 'c1', id: 'late', seq: 1, text: 'x', sentAt: T0 + 301 * 60_000 - 4 * 3_600_000, at: T0 + 301 * 60_000, path: 'direct' })
  assert.ok(late !== undefined)
  let shown = applyChange(newest, up(late))
  const next = pages.older('c1')
  assert.ok(next !== undefined)
  const older = h.messages('c1', { limit: PAGE, after: { direction: next.before.beforeDirection, id: next.before.beforeId } })
  assert.equal(pages.answered('c1', next.generation, older), true)
  shown = withOlder(shown, older)
  assert.deepEqual(keys(shown), keys(h.messages('c1', { limit: 1000 })), 'every message shown, in the node\'s order')
})

test('older pages: an older page asked before a reload of the newest page is dropped', (t) => {
  const h = store(t)
  for (let s = 1; s <= 450; s++) h.queueOutgoing({ contactId: 'c1', id: `o${s}`, seq: s, text: 'x', at: T0 + s * 60_000, envelope: new Uint8Array([1]), expiresAt: T0 + 1e12 })
  const pages = new OlderPages()
  assert.equal(pages.answered('c1', pages.newest('c1'), h.messages('c1', { limit: PAGE })), true)
  const next = pages.older('c1')
  assert.ok(next !== undefined)
  const stale = h.messages('c1', { limit: PAGE, after: { direction: next.before.beforeDirection, id: next.before.beforeId } })
  // A reload starts (the socket came back) while the older page is on the way; 100 messages come meanwhile.
  const reload = pages.newest('c1')
  for (let s = 451; s <= 550; s++) h.queueOutgoing({ contactId: 'c1', id: `o${s}`, seq: s, text: 'x', at: T0 + s * 60_000, envelope: new Uint8Array([1]), expiresAt: T0 + 1e12 })
  const fresh = h.messages('c1', { limit: PAGE })
  assert.equal(pages.answered('c1', next.generation, stale), false, 'the older page of the earlier generation is dropped')
  assert.equal(pages.answered('c1', reload, fresh), true)
  // Paging on from the reload's page, every message comes with no gap.
  let shown = fresh
  for (let n = pages.older('c1'); n !== undefined && shown.length < 550; n = pages.older('c1')) {
    const page = h.messages('c1', { limit: PAGE, after: { direction: n.before.beforeDirection, id: n.before.beforeId } })
    assert.equal(pages.answered('c1', n.generation, page), true)
    shown = withOlder(shown, page)
  }
  assert.deepEqual(keys(shown), keys(h.messages('c1', { limit: 1000 })))
})

test('older pages: a reload of the newest page that fails leaves the cursor of the list still shown', (t) => {
  const h = store(t)
  for (let s = 1; s <= 450; s++) h.queueOutgoing({ contactId: 'c1', id: `o${s}`, seq: s, text: 'x', at: T0 + s * 60_000, envelope: new Uint8Array([1]), expiresAt: T0 + 1e12 })
  const pages = new OlderPages()
  const shown = h.messages('c1', { limit: PAGE })
  assert.equal(pages.answered('c1', pages.newest('c1'), shown), true)
  const before = pages.older('c1')?.before
  assert.ok(before !== undefined)
  // Two reloads start (the page's cursor message was deleted, then the socket came back); the later one fails first.
  const first = pages.newest('c1')
  const second = pages.newest('c1')
  assert.equal(pages.older('c1'), undefined, 'no older page while a reload is on the way')
  pages.failed('c1', first)
  assert.equal(pages.older('c1'), undefined, 'a reload superseded by a later one does not decide')
  pages.failed('c1', second)
  assert.deepEqual(pages.older('c1'), { generation: second, before }, 'the list shown pages on from where it did')
  // A reload that succeeds pages on from its own page, and a later failed one goes back to that.
  const fresh = h.messages('c1', { limit: PAGE })
  assert.equal(pages.answered('c1', pages.newest('c1'), fresh), true)
  const after = pages.older('c1')?.before
  const third = pages.newest('c1')
  pages.failed('c1', third)
  assert.deepEqual(pages.older('c1')?.before, after)
})
