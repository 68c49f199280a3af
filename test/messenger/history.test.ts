// The messenger's rows on a real SQLCipher store: order by the sender's sequence numbers, visible
// gaps, states that only move forward, the outbox's life.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { openDatabase, resolveDatabaseKey } from '../../src/store/db.ts'
import { MIGRATIONS } from '../../src/store/schema.ts'
import { History } from '../../src/messenger/history.ts'
import { tempDir } from '../helpers/messenger-net.ts'

function history (t: { after: (fn: () => unknown) => void }): History {
  const dir = tempDir(t, '0m1-history-')
  const db = openDatabase({ path: join(dir, 'store.db'), key: resolveDatabaseKey(dir, { create: true }), migrations: MIGRATIONS })
  t.after(() => { db.close() })
  const blob = Buffer.alloc(32)
  db.prepare(`INSERT INTO contacts (id, name, their_display_name, account_id, identity_key, address, created_at,
    their_mailbox_id, their_mailbox_key, their_relays, their_addresses, my_mailbox_id, my_mailbox_key,
    my_mailbox_private_key, my_mailbox_public_key, my_presence_secret)
    VALUES ('c1', 'c', 'c', 'acct', ?, 'addr', 0, ?, ?, '[]', '[]', ?, ?, ?, ?, ?)`).run([blob, blob, blob, blob, blob, blob, blob, blob])
  return new History(db)
}

const incoming = (seq: number, at: number) => ({ contactId: 'c1', id: `m${seq}`, seq, text: `t${seq}`, sentAt: at, at, path: 'direct' as const })

test('incoming messages are ordered by sequence number and a gap stays visible until filled', (t) => {
  const h = history(t)
  assert.ok(h.receive(incoming(1, 100)))
  assert.ok(h.receive(incoming(4, 400)))
  let view = h.messages('c1')
  assert.deepEqual(view.map((m) => m.seq), [1, 4])
  assert.equal(view[1]?.gapBefore, 2)
  assert.ok(h.receive(incoming(3, 300)))
  view = h.messages('c1')
  assert.deepEqual(view.map((m) => m.seq), [1, 3, 4])
  assert.deepEqual(view.map((m) => m.gapBefore ?? 0), [0, 1, 0])
  assert.ok(h.receive(incoming(2, 200)))
  assert.deepEqual(h.messages('c1').map((m) => m.gapBefore ?? 0), [0, 0, 0, 0])
  // The same message id again is not stored twice.
  assert.equal(h.receive(incoming(2, 250)), undefined)
  assert.equal(h.messages('c1').length, 4)
  assert.equal(h.unread('c1'), 4)
  assert.deepEqual(h.markRead('c1', 500).sort(), ['m1', 'm2', 'm3', 'm4'])
  assert.equal(h.unread('c1'), 0)
})

test('outgoing states only move forward and the first path sticks', (t) => {
  const h = history(t)
  const seq = h.nextSeq('c1', 10)
  assert.equal(seq, 1)
  assert.equal(h.nextSeq('c1', 11), 2)
  h.queueOutgoing({ contactId: 'c1', id: 'o1', seq, text: 'x', at: 10, envelope: new Uint8Array(8), expiresAt: 1000 })
  assert.equal(h.outboxSize(), 1)
  assert.equal(h.due(10, 10).length, 1)
  assert.equal(h.advance('c1', 'o1', 'stored', { path: 'mailbox' })?.state, 'stored')
  assert.equal(h.advance('c1', 'o1', 'delivered')?.state, 'delivered')
  assert.equal(h.advance('c1', 'o1', 'sent', { path: 'direct' }), undefined)
  const m = h.message('c1', 'out', 'o1')
  assert.equal(m?.state, 'delivered')
  assert.equal(m?.path, 'mailbox')
  h.rescheduleOutbox('c1', 'o1', { attempts: 1, nextAttemptAt: 50 })
  assert.equal(h.due(40, 10).length, 0)
  assert.equal(h.nextDueAt(), 50)
  h.removeOutbox('c1', 'o1')
  assert.equal(h.outboxSize(), 0)
})

test('envelope hashes remember the message they carried and are pruned by age', (t) => {
  const h = history(t)
  const hash = Buffer.alloc(32, 7)
  h.rememberEnvelope(hash, 'c1', 'm1', 100)
  assert.deepEqual(h.seenEnvelope(hash), { contactId: 'c1', messageId: 'm1' })
  h.pruneEnvelopes(50)
  assert.ok(h.seenEnvelope(hash))
  h.pruneEnvelopes(101)
  assert.equal(h.seenEnvelope(hash), undefined)
})
