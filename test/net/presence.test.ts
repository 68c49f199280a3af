import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Record as DhtRecord } from '@libp2p/kad-dht'
import { createTestnet } from '../helpers/testnet.ts'
import { decodePresenceRecord, PRESENCE_KEY_PREFIX } from '../../src/wire/presence.ts'
import type { RelayHandle } from '../../src/relay/service.ts'

async function storedPresence (relay: RelayHandle): Promise<Array<{ key: string, value: Uint8Array }>> {
  const ds = (relay.libp2p as unknown as { components: { datastore: { query: (q: object) => AsyncIterable<{ value: Uint8Array }> } } }).components.datastore
  const out: Array<{ key: string, value: Uint8Array }> = []
  for await (const { value } of ds.query({})) {
    try {
      const r = DhtRecord.deserialize(value)
      const key = new TextDecoder().decode(r.key)
      if (key.startsWith(PRESENCE_KEY_PREFIX)) out.push({ key, value: r.value })
    } catch { /* not a DHT record */ }
  }
  return out
}

test('presence: a device publishes under an opaque key, another finds it; DHT servers hold only the given opaque bytes', async (t) => {
  const net = await createTestnet(t, { relays: 2, devices: 3 })
  const [a, b, stranger] = net.devices
  assert.ok(a !== undefined && b !== undefined && stranger !== undefined)
  const key = new Uint8Array(randomBytes(32))
  // the caller encrypts: here, opaque random bytes stand for the XChaCha20-Poly1305 ciphertext
  const value = new Uint8Array(randomBytes(300))
  await a.publishPresence(key, value)
  assert.deepEqual(await b.lookupPresence(key), value)
  // a newer record under the same key wins
  const newer = new Uint8Array(randomBytes(300))
  await new Promise((resolve) => setTimeout(resolve, 5))
  await a.publishPresence(key, newer)
  assert.deepEqual(await b.lookupPresence(key), newer)
  // a node that does not know the rendezvous key finds nothing under any other key
  assert.equal(await stranger.lookupPresence(new Uint8Array(randomBytes(32))), undefined)

  const held = (await Promise.all(net.relays.map(async (r) => await storedPresence(r.handle)))).flat()
  assert.ok(held.length >= 1, 'at least one DHT server stores the record')
  for (const h of held) {
    assert.equal(h.key, PRESENCE_KEY_PREFIX + Buffer.from(key).toString('hex'))
    const rec = decodePresenceRecord(h.value)
    assert.deepEqual(rec.value, newer, 'the stored bytes are exactly the opaque value given (after a 9-byte version+time header)')
    assert.equal(h.value.length, 9 + newer.length)
    for (const d of [a, b]) assert.ok(!Buffer.from(h.value).includes(Buffer.from(d.peerId)), 'no peer id in the record')
  }
})

test('presence: relayOnly devices publish and look up through their relays', async (t) => {
  const net = await createTestnet(t, { relays: 2, devices: 2, relayOnly: true })
  const [a, b] = net.devices
  assert.ok(a !== undefined && b !== undefined)
  const key = new Uint8Array(randomBytes(32))
  const value = new Uint8Array(randomBytes(200))
  await a.publishPresence(key, value)
  assert.deepEqual(await b.lookupPresence(key), value)
})
