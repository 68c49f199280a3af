// Issue 10: a receipt that overtakes its message's deliver ack. The receiver commits, seals and sends the receipt
// before it acks the envelope, so the sender often opens the receipt first; the message must still become
// 'delivered' with the path it went out on, in that event and in the receipt's own commit (not "?" until a later
// write). The network double holds the ack here until the receipt has been opened.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { History } from '../../src/messenger/history.ts'
import type { MessageView } from '../../src/messenger/types.ts'
import { twoMessengers } from '../helpers/two-messengers.ts'
import { waitFor } from '../helpers/wait.ts'

test('a receipt that comes before the ack: delivered with its path, in the event and on disk', async (t) => {
  const w = await twoMessengers()
  t.after(w.close)
  await waitFor(() => [w.a, w.b].every((s) => s.history.setting('announced-card') !== undefined && s.history.outboxSize() === 0), 'cards announced and outboxes empty')
  const firstDelivered = new Map<string, MessageView>()
  w.a.core.subscribe((e) => {
    if (e.type === 'message-state' && e.message.state === 'delivered' && !firstDelivered.has(e.message.id)) firstDelivered.set(e.message.id, e.message)
  })
  // What is written, read through a second History on the same database (advanceLater's memory is not on disk).
  const disk = new History(w.a.device.db)
  let before = 0
  w.a.net.ackAfter = async () => { await waitFor(() => firstDelivered.size > before ? true : undefined, 'the receipt before the ack') }
  for (let i = 0; i < 3; i++) {
    before = firstDelivered.size
    const m = await w.a.core.send(w.a.contactId, `hello ${i}`)
    const delivered = await waitFor(() => firstDelivered.get(m.id), `message ${i} delivered`)
    assert.equal(delivered.path, 'direct', 'the first delivered event carries the path')
    const row = disk.message(w.a.contactId, 'out', m.id)
    assert.deepEqual([row?.state, row?.path], ['delivered', 'direct'], 'the receipt\'s commit wrote the path')
  }
  // After the acks: nothing moved back, and no second delivered event took the path away.
  await waitFor(() => w.a.history.outboxSize() === 0 ? true : undefined, 'outbox empty')
  for (const m of await w.a.core.messages(w.a.contactId)) {
    if (m.direction === 'out') assert.deepEqual([m.state, m.path], ['delivered', 'direct'])
  }
})

test('a path that failed is not recorded: the network attempt fails after the bytes went out, a mailbox copy is delivered, and the receipt comes during the deposit', async (t) => {
  const w = await twoMessengers()
  t.after(w.close)
  await waitFor(() => [w.a, w.b].every((s) => s.history.setting('announced-card') !== undefined && s.history.outboxSize() === 0), 'cards announced and outboxes empty')
  const delivered = new Map<string, MessageView>()
  w.a.core.subscribe((e) => { if (e.type === 'message-state' && e.message.state === 'delivered') delivered.set(e.message.id, e.message) })
  // The stream opened (onSent told 'direct') but was reset before the receiver read anything.
  w.a.net.deliver = async (_to, _env, o) => { o?.onSent?.('direct'); throw new Error('stream reset') }
  const relay = w.relay
  w.a.net.deposit = async (_r, box, env) => {
    relay.deposit(box, env)
    await waitFor(() => delivered.size > 0 ? true : undefined, 'the receipt during the deposit')
  }
  const m = await w.a.core.send(w.a.contactId, 'hi')
  const d = await waitFor(() => delivered.get(m.id), 'delivered')
  assert.notEqual(d.path, 'direct', 'the receipt does not carry the failed path')
  // The deposit's 'stored' (path mailbox) lands after the receipt: the path is the one the copy really took.
  const final = await waitFor(async () => (await w.a.core.messages(w.a.contactId)).find((x) => x.id === m.id && x.path !== undefined), 'a path recorded')
  assert.deepEqual([final.state, final.path], ['delivered', 'mailbox'])
  await waitFor(() => w.a.history.outboxSize() === 0 ? true : undefined, 'outbox empty')
  assert.equal(w.a.core.sentPathsForTest(), 0, 'nothing remembered once nothing is in flight')
})
