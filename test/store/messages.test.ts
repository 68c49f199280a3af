import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ConversationRepository, MessageRepository, OutboxRepository, SettingsRepository } from '../../src/store/messages.ts'
import { pair } from '../e2ee/helpers.ts'

test('conversations, messages and outbox on the device store', async (t) => {
  const p = await pair(t)
  const db = p.alice.db
  const c = p.aliceToBob
  const convs = new ConversationRepository(db)
  const msgs = new MessageRepository(db)
  const outbox = new OutboxRepository(db)
  assert.equal(convs.takeOutSeq(c, 1), 1)
  assert.equal(convs.takeOutSeq(c, 2), 2)
  assert.equal(convs.noteIncoming(c, 1, 3), 0)
  assert.equal(convs.noteIncoming(c, 4, 4), 2) // 2 and 3 missing
  assert.equal(convs.noteIncoming(c, 2, 5), 0) // late arrival
  assert.equal(convs.get(c)?.highestInSeq, 4)

  assert.equal(msgs.insert({ id: 'aa', contactId: c, direction: 'out', seq: 1, text: 'one', state: 'queued', at: 10 }), true)
  assert.equal(msgs.insert({ id: 'aa', contactId: c, direction: 'out', seq: 1, text: 'dup', state: 'queued', at: 11 }), false)
  assert.equal(msgs.insert({ id: 'aa', contactId: c, direction: 'in', seq: 1, text: 'same id, other direction', state: 'delivered', at: 12, gapBefore: 0 }), true)
  assert.equal(msgs.advance(c, 'out', 'aa', 'sent', { path: 'direct' }), true)
  assert.equal(msgs.advance(c, 'out', 'aa', 'delivered'), true)
  assert.equal(msgs.advance(c, 'out', 'aa', 'sent'), false) // never backwards
  assert.equal(msgs.fail(c, 'out', 'aa', 'x'), false) // delivered stays delivered
  assert.deepEqual({ ...msgs.get(c, 'out', 'aa') }, { id: 'aa', contactId: c, direction: 'out', seq: 1, text: 'one', state: 'delivered', path: 'direct', at: 10 })
  assert.equal(msgs.unreadCount(c), 1)
  assert.deepEqual(msgs.markIncomingRead(c, 20), ['aa'])
  assert.equal(msgs.unreadCount(c), 0)
  assert.deepEqual(msgs.list(c).map((m) => m.at), [10, 12])
  assert.deepEqual(msgs.list(c, { limit: 1 }).map((m) => m.at), [12])
  assert.deepEqual(msgs.list(c, { before: 12 }).map((m) => m.at), [10])

  const env = new Uint8Array(1024).fill(7)
  assert.equal(outbox.add({ messageId: 'aa', contactId: c, envelope: env, nextAttemptAt: 5, expiresAt: 1000, createdAt: 1 }), true)
  assert.equal(outbox.add({ messageId: 'aa', contactId: c, envelope: env, nextAttemptAt: 5, expiresAt: 1000, createdAt: 1 }), false)
  assert.equal(outbox.due(4).length, 0)
  assert.equal(outbox.due(5).length, 1)
  assert.deepEqual(Buffer.from(outbox.due(5)[0]?.envelope ?? []), Buffer.from(env))
  outbox.attempted(c, 'aa', 50, 'sent')
  assert.equal(outbox.get(c, 'aa')?.attempts, 1)
  assert.equal(outbox.nextDueAt(), 50)
  assert.equal(outbox.count(), 1)
  assert.equal(outbox.expired(1000).length, 1)
  assert.equal(outbox.remove(c, 'aa'), true)
  assert.equal(outbox.count(), 0)

  const settings = new SettingsRepository(db)
  settings.set('relayOnly', 'true')
  assert.equal(settings.get('relayOnly'), 'true')
})
