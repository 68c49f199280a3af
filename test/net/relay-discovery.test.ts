// Issue 16 at the network layer: relays advertise in the DHT and serve a signed record; a device finds them
// under a short-lived identity, checks each record and ignores (and counts) forged, oversized and foreign ones.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createDeviceNode } from '../../src/net/node.ts'
import { createProfileLibp2p, type NodeLibp2p } from '../../src/net/libp2p.ts'
import { RELAY_INFO_PROTOCOL, relayProviderCid, signRelayRecord } from '../../src/net/relay-info.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { startRelay } from '../../src/relay/service.ts'
import { MAX_RELAY_RECORD_BYTES, RELAY_SERVICE, hasService } from '../../src/wire/relay-record.ts'
import { tempDir, type TestContext } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'

async function relay (t: TestContext, o: { bootstrap?: string[], advertise?: boolean, operator?: string, announce?: string[], ws?: boolean } = {}): Promise<Awaited<ReturnType<typeof startRelay>>> {
  const r = await startRelay({
    dataDir: tempDir(t, '0m1-relay-'),
    listen: ['/ip4/127.0.0.1/tcp/0', ...(o.ws === true ? ['/ip4/127.0.0.1/tcp/0/ws'] : [])],
    logger: silentLogger,
    stun: 'off',
    advertiseIntervalMs: 500,
    ...(o.bootstrap !== undefined ? { bootstrap: o.bootstrap } : {}),
    ...(o.advertise !== undefined ? { advertise: o.advertise } : {}),
    ...(o.operator !== undefined ? { operator: o.operator } : {}),
    ...(o.announce !== undefined ? { announce: o.announce } : {})
  })
  t.after(async () => { await r.stop() })
  return r
}

const tcpOf = (addrs: readonly string[]): string => addrs.find((a) => a.includes('/tcp/') && !a.includes('/ws')) as string

/** A DHT server that provides the relay key and answers /0m1/relay-info/1.0.0 with whatever bytes it is given. */
async function liar (t: TestContext, bootstrap: string, answer: (node: NodeLibp2p) => Promise<Uint8Array>, privateKey?: PrivateKey): Promise<NodeLibp2p> {
  const node = await createProfileLibp2p({ profile: 'relay', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [bootstrap], privateKey })
  t.after(async () => { await node.stop() })
  await node.handle(RELAY_INFO_PROTOCOL, (stream) => {
    const lp = lpStream(stream, { maxDataLength: 1 << 20 })
    void answer(node).then(async (b) => { await lp.write(b); await stream.close() }).catch(() => { stream.abort(new Error('x')) })
  })
  await node.dial(multiaddr(bootstrap))
  await waitFor(async () => {
    let n = 0
    try {
      for await (const ev of node.services.dht.provide(relayProviderCid(), { signal: AbortSignal.timeout(5_000) })) if (ev.name === 'PEER_RESPONSE') n++
    } catch {
      // A walk cut short (a loaded machine) counts what it reached; the next attempt goes on.
    }
    return n > 0
  }, 'liar provides the relay key')
  return node
}

test('advertised relays are found and checked; a --no-advertise relay never shows; forged, oversized and foreign records are ignored and counted', async (t) => {
  const r0 = await relay(t, { operator: 'op-a' })
  const boot = tcpOf(r0.addresses)
  const r1 = await relay(t, { bootstrap: [boot], operator: 'op-b' })
  const r2 = await relay(t, { bootstrap: [boot] })
  const hidden = await relay(t, { bootstrap: [boot], advertise: false })
  const otherKey = await generateKeyPair('Ed25519')
  // Signed by a key that is not the serving peer's.
  await liar(t, boot, async (n) => await signRelayRecord(otherKey, { issuedAt: Date.now(), peerId: n.peerId.toMultihash().bytes, services: 3, reservationsFree: 1, reservationsMax: 1, mailboxFreeMiB: 1, addresses: ['/ip4/127.0.0.1/tcp/1'], operator: '' }))
  // Signed by its own key, but it hands out another relay's address (traffic steering).
  const ownKey = await generateKeyPair('Ed25519')
  await liar(t, boot, async (n) => await signRelayRecord(ownKey, { issuedAt: Date.now(), peerId: n.peerId.toMultihash().bytes, services: 3, reservationsFree: 1, reservationsMax: 1, mailboxFreeMiB: 1, addresses: [tcpOf(r1.addresses)], operator: '' }), ownKey)
  // Over the size bound.
  await liar(t, boot, async () => new Uint8Array(MAX_RELAY_RECORD_BYTES + 10).fill(1))

  const device = await createDeviceNode({ listen: [], relays: [tcpOf(r2.addresses)], logger: silentLogger })
  t.after(async () => { await device.stop() })
  const found = await waitFor(async () => {
    const d = await device.discoverRelays({ bootstrap: [] })
    return d.relays.length >= 3 && Object.values(d.rejected).reduce((a, b) => a + b, 0) >= 3 ? d : undefined
  }, 'three relays and three rejected records', 30_000)
  const ids = found.relays.map((r) => r.peerId).sort()
  assert.deepEqual(ids, [r0.peerId, r1.peerId, r2.peerId].sort(), 'the three advertising relays, nothing else')
  assert.ok(!ids.includes(hidden.peerId), 'a --no-advertise relay is not found')
  assert.equal(found.rejected.signature, 1, 'the forged signature is counted')
  assert.equal(found.rejected.oversized, 1, 'the oversized record is counted')
  assert.equal(found.rejected['foreign-address'], 1, 'the record listing another peer\'s address is counted')
  const info0 = found.relays.find((r) => r.peerId === r0.peerId)
  assert.equal(info0?.operator, 'op-a')
  assert.ok(info0 !== undefined && hasService(info0, 'circuit') && hasService(info0, 'mailbox'))
  assert.ok(info0.addresses.every((a) => a.endsWith(`/p2p/${r0.peerId}`)))
  assert.equal(info0.services & RELAY_SERVICE.stun, 0, 'stun off: not offered')
  // Discovery ran under the short-lived identity: relays other than the device's own never saw its peer id.
  for (const r of [r0, r1, hidden]) assert.ok(!r.libp2p.getConnections().some((c) => c.remotePeer.toString() === device.peerId))

  // Probe: TCP, ping, mailbox round trip.
  const p = await device.probeRelay(info0.addresses)
  assert.ok(p.address?.includes('/tcp/') && !p.address.includes('/ws'))
  assert.ok(p.rttMs !== undefined && p.mailbox)
})

test('a relay whose TCP address does not answer is reached over its WebSocket address', async (t) => {
  const r = await relay(t, { ws: true })
  const ws = r.addresses.find((a) => a.includes('/ws')) as string
  // A TCP port nobody listens on (the relay's own, closed after it stopped is racy; port 9 is discard, refused on loopback).
  const deadTcp = `/ip4/127.0.0.1/tcp/9/p2p/${r.peerId}`
  const device = await createDeviceNode({ listen: [], relays: [], logger: silentLogger })
  t.after(async () => { await device.stop() })
  const p = await device.probeRelay([ws, deadTcp])
  assert.ok(p.address?.includes('/ws'), 'fell back to WebSocket after TCP failed (TCP tried first)')
  assert.ok(p.mailbox)
})
