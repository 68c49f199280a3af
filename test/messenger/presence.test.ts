// Presence through the real DHT (the relay is a DHT server): a contact finds where a device is now.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { MessengerCore } from '../../src/messenger/messenger.ts'
import { introduce, person, testRelay } from '../helpers/messenger-net.ts'
import { waitFor } from '../helpers/wait.ts'

test('presence: a contact locates a device through its encrypted DHT record', async (t) => {
  const r1 = await testRelay(t)
  const alice = await person(t, 'alice', { relays: [r1.address()] })
  const bob = await person(t, 'bob', { relays: [r1.address()] })
  const { aToB } = await introduce(alice, bob)
  const bobStatus = await bob.m().status()
  const found = await waitFor(async () => await (alice.m() as MessengerCore).locateForTest(aToB), 'alice finds bob in the DHT', 40_000)
  assert.equal(found.peerId, bobStatus.peerId)
  assert.ok(found.addresses.length > 0)
})
