// A mailbox copy that cannot open yet is kept on the relay and fetched again by rewinding the session on
// the refetch timer. The rewinds back off (MAILBOX_REWIND_MAX_MS): a copy that never opens costs a few
// fetches an hour, not one per 30 s tick; once it can open, it is taken within one back-off interval.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { E2eeError } from '../../src/e2ee/errors.ts'
import { MAILBOX_REFETCH_MS, MAILBOX_REWIND_MAX_MS, MessengerCore } from '../../src/messenger/messenger.ts'
import type { MailboxSessionPort, NetworkPort } from '../../src/messenger/ports.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import type { Payload } from '../../src/wire/payload.ts'
import { SimClock } from '../helpers/sim-clock.ts'
import { FakeDevice } from '../twins/fake-device.ts'
import { MemoryHistory } from '../twins/memory-history.ts'

/** Refuses every envelope with a reason that is not permanent, as a text ahead of its card is. */
class WaitingDevice extends FakeDevice {
  ready = false
  opened = 0
  override async openEnvelope (envelope: Uint8Array, o: { store?: (opened: { contactId: string, payload: Payload }) => void } = {}): ReturnType<FakeDevice['openEnvelope']> {
    if (!this.ready) throw new E2eeError('CARD_REQUIRED', 'The card introducing this sender has not arrived yet.')
    this.opened++
    return await super.openEnvelope(envelope, o)
  }
}

test('a kept mailbox copy is re-fetched at backed-off intervals, and taken once it opens', async (t) => {
  const clock = new SimClock()
  const me = new WaitingDevice('me')
  const bob = new FakeDevice('bob')
  FakeDevice.introduce(me, bob, { aRelays: ['/r1'], bRelays: ['/r1'], aPeerId: 'me', bPeerId: 'bob' })
  const contact = bob.contacts()[0]
  assert.ok(contact !== undefined)
  const envelope = await bob.seal(contact.id, { kind: 'text', id: 'm1', seq: 1, text: 'hello', sentAt: clock.now() } as unknown as Payload)
  // A relay holding one envelope; fetch pages from a cursor, rewind goes back to the start.
  let cursor = 0
  let handedOut = 0
  let acked = false
  const session: MailboxSessionPort = {
    fetch: async () => {
      if (cursor > 0 || acked) return []
      cursor = 1
      handedOut++
      return [{ id: new Uint8Array([1]), envelope }]
    },
    ack: async () => { acked = true },
    rewind: () => { cursor = 0 },
    onPush: () => {},
    onClose: () => {},
    close: async () => {}
  }
  const net: NetworkPort = {
    peerId: 'me',
    addresses: () => [],
    onEnvelope: () => {},
    deliver: async () => { throw new Error('no network') },
    deposit: async () => { throw new Error('no network') },
    openMailbox: async () => session
  }
  const core = new MessengerCore({
    device: me,
    history: new MemoryHistory(),
    net,
    logger: silentLogger,
    clock,
    settings: () => ({ relays: ['/r1'], relayOnly: false, lanDiscovery: false, fetchIsolation: 'device' })
  })
  t.after(async () => { await core.stop() })
  await core.start()
  const start = clock.now()
  const hour = 3600_000
  await clock.run(() => false, start + hour)
  // Without a back-off: 1 + 120 fetches in an hour. With it: 30 s, 30 s, 60 s, 120 s, 240 s, then every 5 min.
  const ticksPerMax = MAILBOX_REWIND_MAX_MS / MAILBOX_REFETCH_MS
  assert.ok(handedOut >= 8 && handedOut <= 20, `the kept copy was handed out ${handedOut} times in an hour (no back-off: ${1 + 2 * 60}; max interval ${ticksPerMax} ticks)`)
  assert.equal(acked, false, 'a copy that cannot open stays on the relay')

  me.ready = true
  const before = handedOut
  assert.equal(await clock.run(() => acked, clock.now() + MAILBOX_REWIND_MAX_MS + MAILBOX_REFETCH_MS), true, 'taken within one back-off interval')
  assert.equal(me.opened, 1)
  assert.equal(handedOut, before + 1)
})
