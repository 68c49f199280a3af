// The web UI's group list (web/src/groups/group-list.ts): an action's answer that reaches the page after a later
// event must not undo that event. Adding a member answers with the group as it was; the event with the member in
// it can come first, and then the member stayed off the panel for good (the symptom of a CI failure of
// test/browser/groups.test.ts on a loaded box: Dave never showed in Alice's member panel).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { answeredGroup, eventGroup, eventGroupMessage, groupOrder } from '../../web/src/groups/group-list.ts'
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
  assert.deepEqual([...shown].sort(groupOrder).map((m) => m.id), shown.map((m) => m.id), 'in the node\'s order')
})
