// The messenger host tells the network node who may negotiate WebRTC: its current contacts. Two contacts
// reachable only through a relay upgrade to a hole-punched link; a stranger who opens a circuit to the same
// device (it knows the peer id and relay from the device's addresses) gets no WebRTC link either way.
import { test } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import assert from 'node:assert/strict'
import { createDeviceNode, type DeviceNode } from '../../src/net/node.ts'
import { HOLEPUNCH_TICK_MS } from '../../src/net/holepunch.ts'
import { isWebRTC } from '../../src/net/path.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { introduce, person, startTestRelay, waitForReservations } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'

test('webrtc: contacts (through the host) upgrade to hole-punched; a stranger with a circuit gets no WebRTC link', { timeout: 120_000 }, async (t) => {
  const relay = await startTestRelay(t)
  let aliceNode: DeviceNode | undefined
  const alice = await person(t, 'alice', { relays: [relay.addr], listen: () => [], onNetwork: (n) => { aliceNode = n } })
  const bob = await person(t, 'bob', { relays: [relay.addr], listen: () => [] })
  const { aToB, bToA } = await introduce(alice, bob)
  await alice.m().send(aToB, 'hello')
  const link = async (p: typeof alice, id: string): Promise<string | undefined> => (await p.m().contacts()).find((c) => c.id === id)?.link
  await waitFor(async () => await link(alice, aToB) === 'hole-punched' && await link(bob, bToA) === 'hole-punched', 'contacts upgrade to WebRTC', 60_000)

  // A stranger that would upgrade with anyone, holding a circuit to alice through her relay.
  const stranger = await createDeviceNode({ listen: [], relays: [relay.addr], allowWebRTC: () => true, logger: silentLogger })
  t.after(async () => { await stranger.stop() })
  await waitForReservations(stranger, 1)
  const aliceAddrs = (await alice.m().status()).addresses
  const alicePeer = aliceAddrs[0]?.split('/p2p/').at(-1)
  assert.ok(alicePeer !== undefined && aliceAddrs.every((a) => a.includes('/p2p-circuit')), aliceAddrs.join(' '))
  await stranger.deliver({ peerId: alicePeer, addresses: [...aliceAddrs] }, new Uint8Array(64), {}).catch(() => {}) // refused as an envelope; the circuit stays
  await waitFor(() => stranger.linkTo(alicePeer) === 'relayed', 'the stranger holds a circuit to alice')
  await new Promise((resolve) => setTimeout(resolve, HOLEPUNCH_TICK_MS * 4)) // several upgrade ticks on both sides
  assert.equal(stranger.linkTo(alicePeer), 'relayed')
  assert.ok(stranger.libp2p.getConnections().every((c) => !isWebRTC(c.remoteAddr)), 'no WebRTC connection between alice and the stranger')
  assert.equal(await link(alice, aToB), 'hole-punched', 'the contact keeps its link')

  // Nor will alice dial a stranger's own address (what DCUtR does for any peer with a circuit to us, which
  // would hand that peer our public IP and port): the host's gater allows direct dials to contacts only.
  const listener = await createDeviceNode({ listen: ['/ip4/127.0.0.1/tcp/0'], relays: [], logger: silentLogger })
  t.after(async () => { await listener.stop() })
  const direct = listener.addresses().find((a) => !a.includes('/p2p-circuit'))
  assert.ok(direct !== undefined && aliceNode !== undefined)
  await assert.rejects(aliceNode.libp2p.dial(multiaddr(direct)), 'a direct dial to a stranger is refused')
  assert.ok(aliceNode.libp2p.getConnections().every((c) => c.remotePeer.toString() !== listener.peerId))
})
