// A group's display order (GroupStore.messages) on a real SQLCipher store: each sender's texts by sequence number,
// senders interleaved by sentAt capped at arrival (a member's clock far ahead cannot pin its text last), and a total
// order when every other key ties.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { DATABASE_FILE, openDatabase, resolveDatabaseKey } from '../../src/store/db.ts'
import { MIGRATIONS } from '../../src/store/schema.ts'
import { GroupStore, type GroupMessageRow } from '../../src/messenger/groups/store.ts'
import { tempDir } from '../e2ee/helpers.ts'

const G = 'ab'.repeat(16)

function store (t: import('node:test').TestContext): GroupStore {
  const dir = tempDir(t, '0m1-group-order-')
  const db = openDatabase({ path: join(dir, DATABASE_FILE), key: resolveDatabaseKey(dir, { create: true }), migrations: MIGRATIONS })
  t.after(() => { db.close() })
  return new GroupStore(db)
}

const row = (m: Partial<GroupMessageRow> & Pick<GroupMessageRow, 'id' | 'sender' | 'seq' | 'sentAt' | 'at'>): GroupMessageRow =>
  ({ groupId: G, direction: m.sender === '' ? 'out' : 'in', text: m.id, ...m })

const ids = (s: GroupStore, limit = 100): string[] => s.messages(G, limit).map((m) => m.id)

test('a member whose clock is far ahead cannot pin its text last: its time is capped at arrival', (t) => {
  const s = store(t)
  const year = 365 * 24 * 3600_000
  s.insert(row({ id: 'future', sender: 'mallory', seq: 1, sentAt: 1000 + year, at: 1000 }))
  s.insert(row({ id: 'mine', sender: '', seq: 1, sentAt: 2000, at: 2000 }))
  s.insert(row({ id: 'alice', sender: 'alice', seq: 1, sentAt: 2900, at: 3000 }))
  assert.deepEqual(ids(s), ['future', 'mine', 'alice'])
  // The newest page holds the texts written last, not the one from the future.
  assert.deepEqual(ids(s, 2), ['mine', 'alice'])
  // The row keeps the sender's own time for display.
  assert.equal(s.messages(G, 10)[0]?.sentAt, 1000 + year)
})

test("each sender's texts go by sequence number, whatever its clock says", (t) => {
  const s = store(t)
  // Bob's clock stepped back between his texts 1 and 2.
  s.insert(row({ id: 'b1', sender: 'bob', seq: 1, sentAt: 5000, at: 5000 }))
  s.insert(row({ id: 'a1', sender: 'alice', seq: 1, sentAt: 4000, at: 5100 }))
  s.insert(row({ id: 'b2', sender: 'bob', seq: 2, sentAt: 3000, at: 5200 }))
  s.insert(row({ id: 'a2', sender: 'alice', seq: 2, sentAt: 6000, at: 6000 }))
  assert.deepEqual(ids(s), ['a1', 'b1', 'b2', 'a2'])
})

test('texts that tie on time, sender and sequence number have one order (by id), whatever the insertion order', (t) => {
  const a = store(t)
  const b = store(t)
  const tied = ['ff', '01', '80', '7f'].map((id) => row({ id: id.repeat(16), sender: 'carol', seq: 3, sentAt: 1000, at: 1000 }))
  const other = [row({ id: 'cc'.repeat(16), sender: 'bob', seq: 9, sentAt: 1000, at: 1000 }), row({ id: 'dd'.repeat(16), sender: 'dave', seq: 1, sentAt: 1000, at: 1000 })]
  for (const m of [...tied, ...other]) a.insert(m)
  for (const m of [...other, ...tied].reverse()) b.insert(m)
  const want = ['cc', '01', '7f', '80', 'ff', 'dd'].map((id) => id.repeat(16))
  assert.deepEqual(ids(a), want)
  assert.deepEqual(ids(b), want)
  // A page cut inside the tie keeps the newest by id.
  assert.deepEqual(ids(a, 3), ['80', 'ff', 'dd'].map((id) => id.repeat(16)))
})

test("a page holds each sender's texts after its first one in the page: none is missing between those shown", (t) => {
  const s = store(t)
  s.insert(row({ id: 'b1', sender: 'bob', seq: 1, sentAt: 5000, at: 5000 }))
  s.insert(row({ id: 'a1', sender: 'alice', seq: 1, sentAt: 4000, at: 5100 }))
  s.insert(row({ id: 'b2', sender: 'bob', seq: 2, sentAt: 3000, at: 5200 }))
  s.insert(row({ id: 'a2', sender: 'alice', seq: 2, sentAt: 6000, at: 6000 }))
  // By time alone the newest three are a2, b1, a1; b2 (Bob's clock stepped back) stands between b1 and a2.
  assert.deepEqual(ids(s, 3), ['a1', 'b1', 'b2', 'a2'])
  assert.deepEqual(ids(s, 1), ['a2'])
})
