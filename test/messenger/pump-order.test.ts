// Issue 10 (throughput): a row that waits for room in flight leaves as soon as an ack frees a slot, before the next
// receive batch opens its envelopes (a batch holds the device for its whole run; the contact, its window empty,
// would wait). Two real messengers (libsignal, SQLCipher) on the in-process network double; order is asserted, not time.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { MAX_IN_FLIGHT } from '../../src/messenger/messenger.ts'
import type { DeviceBatchPort } from '../../src/messenger/ports.ts'
import type { Payload } from '../../src/wire/payload.ts'
import { HoldClock, twoMessengers, type TwoMessengers } from '../helpers/two-messengers.ts'
import { waitFor } from '../helpers/wait.ts'

async function quiet (w: TwoMessengers): Promise<void> {
  await waitFor(() => [w.a, w.b].every((s) => s.history.setting('announced-card') !== undefined && s.history.outboxSize() === 0), 'cards announced and outboxes empty')
}

test('with the flight full, the row waiting for room is handed to the network before the next receive batch opens', async (t) => {
  const clock = new HoldClock()
  const w = await twoMessengers({ clock })
  t.after(w.close)
  await quiet(w)
  clock.hold()
  // Alice's attempts stay in flight until the acks are let go (bob has stored each text by then).
  let letGo = (): void => {}
  const acks = new Promise<void>((resolve) => { letGo = resolve })
  w.a.net.ackAfter = async () => { await acks }
  const sent = await Promise.all(Array.from({ length: MAX_IN_FLIGHT + 1 }, async (_, i) => await w.a.core.send(w.a.contactId, `full ${i}`)))
  const waiting = sent[MAX_IN_FLIGHT]
  assert.ok(waiting !== undefined)
  await waitFor(async () => (await w.b.core.messages(w.b.contactId)).filter((m) => m.text.startsWith('full ')).length === MAX_IN_FLIGHT ? true : undefined, 'bob stored the texts in flight')
  await waitFor(() => w.a.history.messages(w.a.contactId).filter((m) => m.text.startsWith('full ') && m.state === 'delivered').length === MAX_IN_FLIGHT ? true : undefined, 'their receipts reached alice')
  const handedBefore = w.a.net.delivered.length
  // A text from bob arrives together with the acks (as in one read of the connection).
  const incoming = await w.b.device.seal(w.b.contactId, { kind: 'text', id: new Uint8Array(randomBytes(16)), seq: 1, sentAt: Date.now(), text: 'from bob' })
  // When alice's device opens it: how many envelopes she had handed over by then.
  const opens: number[] = []
  const device = w.a.device as unknown as { batch: (fn: (b: DeviceBatchPort<Payload>) => Promise<unknown>, extra?: (r: unknown) => void) => Promise<unknown> }
  const batch = device.batch.bind(device)
  device.batch = async (fn, extra) => await batch(async (b) => await fn({
    seal: b.seal,
    open: async (envelope) => {
      if (Buffer.from(envelope).equals(incoming)) opens.push(w.a.net.delivered.length)
      return await b.open(envelope)
    }
  }), extra)
  letGo()
  const received = w.a.core.receiveEnvelope(incoming, 'direct')
  await received
  assert.equal(opens.length, 1, 'the incoming text was opened once')
  assert.ok((opens[0] as number) > handedBefore, `the waiting row left before the batch opened (handed over: ${handedBefore} before, ${String(opens[0])} at the open)`)
  w.a.net.ackAfter = undefined
  clock.release()
})
