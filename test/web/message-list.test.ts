// The web UI's open conversation (web/src/message-list.ts): the answer to GET /messages that reaches the page after
// a later event must not undo that event. The page wrote the answer over the conversation: a message that came
// while the answer was on the way disappeared until the chat was opened again, a delivered/read tick went back,
// an edit or a delete was undone. Each test has the node take its snapshot, then make events that the page reads
// before the answer; the old replace-the-list logic (the answer as shown) fails each of them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { applyChange, MessageFetches, type MessageChange } from '../../web/src/message-list.ts'
import type { MessageView } from '../../web/src/api.ts'

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
