// Issue 10 (one message at a time): a sent text and the receipts of a received batch are handed to the network in
// the turn that committed them, not on a later turn of the event loop (two turns per message otherwise, each
// behind whatever else was queued). Two real messengers (libsignal, SQLCipher) on the in-process network double.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { Payload } from '../../src/wire/payload.ts'
import { stateReached, twoMessengers, type TwoMessengers } from '../helpers/two-messengers.ts'
import { waitFor } from '../helpers/wait.ts'

const text = (seq: number, body: string): Payload => ({ kind: 'text', id: new Uint8Array(randomBytes(16)), seq, sentAt: Date.now(), text: body })

async function quiet (w: TwoMessengers): Promise<void> {
  await waitFor(() => [w.a, w.b].every((s) => s.history.setting('announced-card') !== undefined && s.history.outboxSize() === 0), 'cards announced and outboxes empty')
}

test('send() has handed the envelope to the network by the time it resolves', async (t) => {
  const w = await twoMessengers()
  t.after(w.close)
  await quiet(w)
  for (let i = 0; i < 5; i++) {
    const before = w.a.net.delivered.length
    const m = await w.a.core.send(w.a.contactId, `now ${i}`)
    assert.equal(w.a.net.delivered.length, before + 1, 'the text went out in send()\'s own turn')
    await stateReached(w.a, m.id, 'delivered')
  }
})

test('the receipt of a received text is handed to the network by the time the receive resolves', async (t) => {
  const w = await twoMessengers()
  t.after(w.close)
  await quiet(w)
  for (let i = 0; i < 5; i++) {
    const envelope = await w.a.device.seal(w.a.contactId, text(i + 1, `in ${i}`))
    const before = w.b.net.delivered.length
    await w.b.core.receiveEnvelope(envelope, 'direct')
    assert.equal(w.b.net.delivered.length, before + 1, 'the receipt went out in the commit\'s turn')
  }
  await waitFor(async () => (await w.b.core.messages(w.b.contactId)).filter((m) => m.text.startsWith('in ')).length === 5 ? true : undefined, 'b stored all five')
})
