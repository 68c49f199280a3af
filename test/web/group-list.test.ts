// The web UI's group list (web/src/groups/group-list.ts): an action's answer that reaches the page after a later
// event must not undo that event. Adding a member answers with the group as it was; the event with the member in
// it can come first, and then the member stayed off the panel for good (the symptom of a CI failure of
// test/browser/groups.test.ts on a loaded box: Dave never showed in Alice's member panel).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { answeredGroup, eventGroup, eventGroupMessage, groupDisplayOrder } from '../../web/src/groups/group-list.ts'
import { join } from 'node:path'
import { DATABASE_FILE, openDatabase, resolveDatabaseKey } from '../../src/store/db.ts'
import { MIGRATIONS } from '../../src/store/schema.ts'
import { GroupStore, type GroupMessageRow } from '../../src/messenger/groups/store.ts'
import { tempDir } from '../helpers/testnet.ts'
import { FetchLog } from '../../web/src/message-list.ts'
import type { GroupMember, GroupMessage, GroupView } from '../../web/src/groups/types.ts'

const member = (name: string): GroupMember => ({ accountId: `acc-${name}`, name, admin: name === 'Alice', me: name === 'Alice', metThroughGroup: false, verified: false })
const view = (id: string, version: number, names: string[], name = 'Trip'): GroupView =>
  ({ id, name, member: true, admin: true, version, members: names.map(member), unread: 0 })
const names = (l: GroupView[], id: string): string[] | undefined => l.find((g) => g.id === id)?.members.map((m) => m.name)

test('group list: an add\'s answer that comes after the event with the new member leaves the member listed', () => {
  const before = view('g1', 4, ['Alice', 'Bob', 'Carol'])
  const other = view('g2', 2, ['Alice', 'Bob'], 'Other')
  let list = [before, other]
  // The event (Dave's card came back, the add is signed) first, then the answer to POST /members.
  list = eventGroup(list, view('g1', 5, ['Alice', 'Bob', 'Carol', 'Dave']))
  list = answeredGroup(list, before)
  assert.deepEqual(names(list, 'g1'), ['Alice', 'Bob', 'Carol', 'Dave'])
  assert.equal(list.length, 2)
  assert.deepEqual(list[1], other, 'other groups untouched')
})

test('group list: the answer first, then the event: the event is shown', () => {
  let list = [view('g1', 4, ['Alice', 'Bob', 'Carol'])]
  list = answeredGroup(list, view('g1', 4, ['Alice', 'Bob', 'Carol']))
  list = eventGroup(list, view('g1', 5, ['Alice', 'Bob', 'Carol', 'Dave']))
  assert.deepEqual(names(list, 'g1'), ['Alice', 'Bob', 'Carol', 'Dave'])
})

test('group list: an answer of a later version than shown is taken (its event has not come yet); a new group is added', () => {
  let list = [view('g1', 4, ['Alice', 'Bob', 'Carol'])]
  list = answeredGroup(list, view('g1', 5, ['Alice', 'Bob', 'Carol'], 'Trip 2026'))
  assert.equal(list[0]?.name, 'Trip 2026')
  list = answeredGroup(list, view('g3', 1, ['Alice'], 'New'))
  assert.deepEqual(list.map((g) => g.id), ['g1', 'g3'])
  // The group's own event, or the card replies' events, may come before the create's answer: the answer does not undo them.
  list = eventGroup(list, view('g3', 2, ['Alice', 'Bob'], 'New'))
  list = answeredGroup(list, view('g3', 1, ['Alice'], 'New'))
  assert.deepEqual(names(list, 'g3'), ['Alice', 'Bob'])
})

test('group list: events always replace, in order (a removal lowers the member count)', () => {
  let list = [view('g1', 6, ['Alice', 'Bob', 'Carol', 'Dave'])]
  list = eventGroup(list, view('g1', 7, ['Alice', 'Bob', 'Dave']))
  assert.deepEqual(names(list, 'g1'), ['Alice', 'Bob', 'Dave'])
  list = eventGroup(list, view('g4', 1, ['Alice']))
  assert.equal(list.length, 2)
})

// The open group's messages: the answer to GET /messages that comes after a later event (a message that came, a
// member's delivered/read) no longer takes it away; the events read while it was on the way go on top again.
const gm = (id: string, sender: string, at: number, delivered = 0): GroupMessage =>
  ({ groupId: 'g1', id, direction: sender === 'Alice' ? 'out' : 'in', senderName: sender, senderAccountId: `acc-${sender}`, seq: at, text: `t-${id}`, sentAt: at, at, ...(sender === 'Alice' ? { delivery: { total: 2, delivered, read: 0, members: [] } } : {}) })

test('group messages: an answer read after newer events keeps the message that came and the delivery count', () => {
  const fetches = new FetchLog<GroupMessage[], GroupMessage>(eventGroupMessage)
  let shown = [gm('a', 'Alice', 1)]
  const f = fetches.start('g1')
  const snapshot = [gm('a', 'Alice', 1)]
  for (const m of [gm('a', 'Alice', 1, 2), gm('a', 'Bob', 2), gm('b', 'Carol', 3)]) { fetches.record('g1', m); shown = eventGroupMessage(shown, m) }
  fetches.record('g2', gm('x', 'Dave', 4))
  shown = fetches.answered(f, snapshot)
  // Bob and Carol chose the same id 'a' as Alice: the sender tells them apart.
  assert.deepEqual(shown.map((m) => `${m.senderName}-${m.id}`), ['Alice-a', 'Bob-a', 'Carol-b'])
  assert.equal(shown[0]?.delivery?.delivered, 2)
})

test('group messages: a new message goes where the node puts it (sentAt, sender, seq), not at the end', () => {
  let shown = [gm('a', 'Bob', 10), gm('b', 'Carol', 20), gm('c', 'Bob', 30)]
  // Fetched late from a mailbox: written before the last two.
  shown = eventGroupMessage(shown, gm('d', 'Dave', 15))
  // Written in the same millisecond as Carol's: by sender, then seq.
  shown = eventGroupMessage(shown, { ...gm('e', 'Bob', 20), seq: 21 })
  shown = eventGroupMessage(shown, { ...gm('f', 'Carol', 20), seq: 19 })
  shown = eventGroupMessage(shown, gm('g', 'Carol', 40))
  assert.deepEqual(shown.map((m) => m.id), ['a', 'd', 'e', 'f', 'b', 'c', 'g'])
  // A change of one shown keeps its place.
  assert.deepEqual(eventGroupMessage(shown, { ...gm('d', 'Dave', 15), text: 'x' }).map((m) => m.id), ['a', 'd', 'e', 'f', 'b', 'c', 'g'])
  assert.deepEqual(groupDisplayOrder([...shown].reverse()).map((m) => m.id), shown.map((m) => m.id), 'in the node\'s order')
})

test('group messages: a member whose clock is far ahead does not pin its message last; each sender in seq order (as the node)', () => {
  let shown = [gm('a', 'Bob', 10), gm('b', 'Carol', 20)]
  // Dave's clock is a year ahead: his message stands where it came (at 25), not after every later one.
  shown = eventGroupMessage(shown, { ...gm('d', 'Dave', 25), sentAt: 25 + 365 * 24 * 3600_000 })
  shown = eventGroupMessage(shown, gm('c', 'Carol', 30))
  // Bob's clock went back: his seq 11 claims 5, it still follows his seq 10.
  shown = eventGroupMessage(shown, { ...gm('e', 'Bob', 40), seq: 11, sentAt: 5 })
  assert.deepEqual(shown.map((m) => m.id), ['a', 'e', 'b', 'd', 'c'])
})

test('group messages: the page orders as the node does (GroupStore on SQLCipher), clocks ahead, behind and tied', (t) => {
  const dir = tempDir(t, '0m1-web-group-order-')
  const db = openDatabase({ path: join(dir, DATABASE_FILE), key: resolveDatabaseKey(dir, { create: true }), migrations: MIGRATIONS })
  t.after(() => { db.close() })
  const store = new GroupStore(db)
  const senders = ['', 'acc-b', 'acc-c', 'acc-d']
  const rows: GroupMessageRow[] = []
  // A fixed pseudo-random walk: arrival times rise; sent times are behind, ahead (far too), or tied.
  let x = 7
  const next = (n: number): number => { x = (x * 1103515245 + 12345) % 2147483648; return (x >>> 16) % n }
  for (let i = 0; i < 120; i++) {
    const sender = senders[next(4)] as string
    const at = 1000 + i * 10
    const skew = [0, -5, 7, -400, 3_600_000, 0][next(6)] as number
    rows.push({ groupId: 'g1', id: (next(1000) * 1000 + i).toString(16).padStart(32, '0'), sender, direction: sender === '' ? 'out' : 'in', seq: rows.filter((r) => r.sender === sender).length + 1 - next(2), text: `t${i}`, sentAt: sender === '' ? at : at + skew, at })
  }
  for (const r of rows) store.insert(r)
  const node = store.messages('g1', 1000)
  const asView = (r: GroupMessageRow): GroupMessage => ({ groupId: r.groupId, id: r.id, direction: r.direction, senderName: r.sender, senderAccountId: r.sender, seq: r.seq, text: r.text, sentAt: r.sentAt, at: r.at })
  const key = (m: { id: string, sender?: string, senderAccountId?: string }): string => `${m.sender ?? m.senderAccountId}/${m.id}`
  assert.equal(node.length, rows.length)
  assert.deepEqual(groupDisplayOrder(node.map(asView).reverse()).map(key), node.map(key))
  let live: GroupMessage[] = []
  for (const r of rows) live = eventGroupMessage(live, asView(r))
  assert.deepEqual(live.map(key), node.map(key), 'messages taken in one by one as events stand where the node puts them')
})
