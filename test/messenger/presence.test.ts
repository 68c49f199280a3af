// Presence through the real DHT (the relay is a DHT server): a contact finds where a device is now.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { MessengerCore } from '../../src/messenger/messenger.ts'
import { createPeople } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'

test('presence: a contact locates a device through its encrypted DHT record', async (t) => {
  const { people: [alice, bob], contact } = await createPeople(t, { relays: 1, people: ['alice', 'bob'] })
  if (alice === undefined || bob === undefined) throw new Error('two people')
  const aToB = contact(alice, bob)
  const bobStatus = await bob.m().status()
  const found = await waitFor(async () => await (alice.m() as MessengerCore).locateForTest(aToB), 'alice finds bob in the DHT', 40_000)
  assert.equal(found.peerId, bobStatus.peerId)
  assert.ok(found.addresses.length > 0)
})
