// Issue 10 (one message at a time): a sent text and the receipts of a received batch are handed to the network in
// the turn that committed them, not on a later turn of the event loop (two turns per message otherwise, each
// behind whatever else was queued). Two real messengers (libsignal, SQLCipher) on the in-process network double;
// on real libp2p nodes, the envelope is written before send() resolves (src/net/muxer-writes.ts would hold it).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { Payload } from '../../src/wire/payload.ts'
import type { DeviceBatchPort } from '../../src/messenger/ports.ts'
import { HoldClock, stateReached, twoMessengers, type Side, type TwoMessengers } from '../helpers/two-messengers.ts'
import { waitFor } from '../helpers/wait.ts'
import { introduce, person, waitStates } from '../helpers/testnet.ts'
import { heldWrites } from '../../src/net/muxer-writes.ts'

const text = (seq: number, body: string): Payload => ({ kind: 'text', id: new Uint8Array(randomBytes(16)), seq, sentAt: Date.now(), text: body })

async function quiet (w: TwoMessengers): Promise<void> {
  await waitFor(() => [w.a, w.b].every((s) => s.history.setting('announced-card') !== undefined && s.history.outboxSize() === 0), 'cards announced and outboxes empty')
}

/** Envelopes `side` seals in its device batches, by the payload's kind; with the text or receipted ids they carry. */
function sealsOf (side: Side): Array<{ payload: Payload, envelope: Uint8Array }> {
  const seals: Array<{ payload: Payload, envelope: Uint8Array }> = []
  const device = side.device as unknown as { batch: (fn: (b: DeviceBatchPort<Payload>) => Promise<unknown>, extra?: (r: unknown) => void) => Promise<unknown> }
  const batch = device.batch.bind(device)
  device.batch = async (fn, extra) => await batch(async (b) => await fn({
    open: b.open,
    seal: async (contactId, payload, o) => {
      const envelope = await b.seal(contactId, payload, o)
      seals.push({ payload, envelope })
      return envelope
    }
  }), extra)
  return seals
}

const has = (list: readonly Uint8Array[], e: Uint8Array | undefined): boolean => e !== undefined && list.some((x) => Buffer.from(x).equals(e))

test('send() has handed the envelope to the network by the time it resolves', async (t) => {
  // The time held still once quiet: no retry or other timer adds an envelope to the ones looked at.
  const clock = new HoldClock()
  const w = await twoMessengers({ clock })
  t.after(w.close)
  await quiet(w)
  clock.hold()
  const seals = sealsOf(w.a)
  for (let i = 0; i < 5; i++) {
    const before = w.a.net.delivered.length
    const m = await w.a.core.send(w.a.contactId, `now ${i}`)
    const own = seals.find((s) => s.payload.kind === 'text' && s.payload.text === `now ${i}`)?.envelope
    assert.ok(own !== undefined, 'the text was sealed in a device batch')
    assert.ok(has(w.a.net.delivered.slice(before), own), 'the text went out in send()\'s own turn')
    await stateReached(w.a, m.id, 'delivered')
  }
})

test('the receipt of a received text is handed to the network by the time the receive resolves', async (t) => {
  const clock = new HoldClock()
  const w = await twoMessengers({ clock })
  t.after(w.close)
  await quiet(w)
  clock.hold()
  const seals = sealsOf(w.b)
  for (let i = 0; i < 5; i++) {
    const payload = text(i + 1, `in ${i}`)
    const envelope = await w.a.device.seal(w.a.contactId, payload)
    const before = w.b.net.delivered.length
    await w.b.core.receiveEnvelope(envelope, 'direct')
    const receipt = seals.find((s) => s.payload.kind === 'receipt' && s.payload.type === 'delivered' &&
      s.payload.ids.some((id) => payload.kind === 'text' && Buffer.from(id).equals(payload.id)))?.envelope
    assert.ok(receipt !== undefined, 'the text\'s receipt was sealed in the receive\'s batch')
    assert.ok(has(w.b.net.delivered.slice(before), receipt), 'the receipt went out in the commit\'s turn')
  }
  await waitFor(async () => (await w.b.core.messages(w.b.contactId)).filter((m) => m.text.startsWith('in ')).length === 5 ? true : undefined, 'b stored all five')
})

test('on a real connection, send() resolves with its envelope written, not held for the end of the turn', async (t) => {
  const alice = await person(t, 'alice', { relays: [] })
  const bob = await person(t, 'bob', { relays: [] })
  const { aToB } = await introduce(alice, bob)
  // The connection and its deliver stream first (their opening has frames of its own).
  const first = await alice.m().send(aToB, 'first')
  await waitStates(alice, aToB, [first.id], 'delivered', 'the first text delivered')
  for (let i = 0; i < 5; i++) {
    const m = await alice.m().send(aToB, `written ${i}`)
    // Without the flush in send(): the envelope's frame is still held for the connection's end-of-turn write.
    assert.equal(heldWrites(), 0, 'nothing held for the end of the turn')
    await waitStates(alice, aToB, [m.id], 'delivered', `text ${i} delivered`)
  }
})
