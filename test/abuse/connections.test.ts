// Connection and reservation bounds of the relay (real startRelay, real libp2p on loopback): one peer
// cannot hold more than one circuit reservation nor take all reservation slots, and cannot pile up
// connections.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { createLibp2p } from 'libp2p'
import { FaultTolerance } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { multiaddr } from '@multiformats/multiaddr'
import { startRelay, type RelayHandle, type RelayLimits } from '../../src/relay/service.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { bareNode } from './client.ts'
import { waitFor } from '../helpers/wait.ts'

/** A device needs one connection to its relay; a few more cover reconnect races. */
const MAX_CONNECTIONS_PER_PEER = 8
/** How long a refused reservation is given to show (the transport's own timeout is 10 s). */
const RESERVATION_WAIT_MS = 12_000

async function relayFor (t: TestContext, limits: Partial<RelayLimits>): Promise<{ relay: RelayHandle, addr: string }> {
  const dir = mkdtempSync(join(tmpdir(), '0m1-abuse-conn-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const relay = await startRelay({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], logger: silentLogger, limits })
  t.after(async () => { await relay.stop() })
  return { relay, addr: relay.addresses.find((a) => a.includes('/tcp/')) as string }
}

async function reservingNode (t: TestContext, relayAddr: string): Promise<Awaited<ReturnType<typeof createLibp2p>>> {
  const node = await createLibp2p({
    addresses: { listen: [`${relayAddr}/p2p-circuit`] },
    transports: [tcp(), circuitRelayTransport({ reservationCompletionTimeout: 10_000 })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
    transportManager: { faultTolerance: FaultTolerance.NO_FATAL } // a refused reservation must not fail start()
  })
  t.after(async () => { await node.stop() })
  return node
}

const hasCircuit = (node: { getMultiaddrs: () => Array<{ toString: () => string }> }): boolean => node.getMultiaddrs().some((m) => m.toString().includes('/p2p-circuit'))

async function until (cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (cond()) return true
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return cond()
}

test('abuse: reservations are bounded; the slot after the last is refused; one peer holds one', { timeout: 90_000 }, async (t) => {
  const maxReservations = 3
  const { relay, addr } = await relayFor(t, { maxReservations })
  const reservations = (): number => (relay.libp2p.services as unknown as { relay: { reservations: { size: number } } }).relay.reservations.size
  const nodes = []
  for (let i = 0; i < maxReservations; i++) {
    const n = await reservingNode(t, addr)
    assert.ok(await until(() => hasCircuit(n), RESERVATION_WAIT_MS), `reservation ${i + 1} of ${maxReservations} is granted`)
    nodes.push(n)
  }
  const extra = await reservingNode(t, addr)
  const got = await until(() => hasCircuit(extra), 3000)
  console.log(`abuse reservations: limit ${maxReservations}, relay holds ${reservations()}, extra peer got one: ${got}`)
  assert.equal(got, false, 'the reservation over the limit is refused')
  assert.equal(reservations(), maxReservations)

  // The same peer asking again (a new connection, a new reservation request) still holds one slot.
  const first = nodes[0]!
  const before = relay.libp2p.getConnections(first.peerId).length
  await first.dial(multiaddr(addr), { force: true })
  // Once the relay holds the new connection, any reservation it carried would be counted.
  await waitFor(() => relay.libp2p.getConnections(first.peerId).length > before, 'the relay to hold the new connection')
  assert.equal(reservations(), maxReservations)
})

test('abuse: one peer cannot pile up connections to the relay', {
  timeout: 90_000,

}, async (t) => {
  const { relay, addr } = await relayFor(t, {})
  const node = await bareNode()
  t.after(async () => { await node.stop() })
  let opened = 0
  let refused = 0
  for (let i = 0; i < 50; i++) {
    try { await node.dial(multiaddr(addr), { force: true, signal: AbortSignal.timeout(5000) }); opened++ } catch { refused++ }
  }
  // The relay closes the excess connections it accepted; wait for that rather than a fixed time.
  await waitFor(() => relay.libp2p.getConnections(node.peerId).length <= MAX_CONNECTIONS_PER_PEER, 'the relay to shed excess connections', 10_000)
    .catch(() => undefined)
  const held = relay.libp2p.getConnections(node.peerId).length
  console.log(`abuse connections: one peer dialed 50 times: ${opened} opened, ${refused} refused; the relay holds ${held} connections from it (bound ${MAX_CONNECTIONS_PER_PEER})`)
  assert.ok(held <= MAX_CONNECTIONS_PER_PEER, `relay holds ${held} connections from one peer`)
})

test('abuse 14.2: fresh peer ids from one address prefix cannot take all reservations; the relay keeps free slots', { timeout: 120_000 }, async (t) => {
  const maxReservations = 12
  const maxReservationsPerPrefix = 3
  const { relay, addr } = await relayFor(t, { maxReservations, maxReservationsPerPrefix })
  const reservations = (): number => (relay.libp2p.services as unknown as { relay: { reservations: { size: number } } }).relay.reservations.size
  // Loopback is one /24: every fresh identity below comes from the same prefix.
  const granted = []
  for (let i = 0; i < maxReservationsPerPrefix; i++) {
    const n = await reservingNode(t, addr)
    assert.ok(await until(() => hasCircuit(n), RESERVATION_WAIT_MS), `reservation ${i + 1} of ${maxReservationsPerPrefix} is granted`)
    granted.push(n)
  }
  const extras = await Promise.all([0, 1, 2].map(async () => await reservingNode(t, addr)))
  const got = await until(() => extras.some(hasCircuit), 3000)
  console.log(`abuse 14.2 reservations: per-prefix limit ${maxReservationsPerPrefix} of ${maxReservations}; relay holds ${reservations()}; a 4th..6th fresh peer id got one: ${got}`)
  assert.equal(got, false, 'fresh keys over the per-prefix bound are refused')
  assert.equal(reservations(), maxReservationsPerPrefix, 'the rest of the slots stay free for other networks')
  // A peer that holds a reservation may refresh it: the per-prefix bound never refuses a peer's own slot.
  const first = granted[0]!
  await first.dial(multiaddr(addr), { force: true })
  await waitFor(() => relay.libp2p.getConnections(first.peerId).length >= 2, 'the relay to hold the new connection')
  assert.ok(hasCircuit(first))
  assert.equal(reservations(), maxReservationsPerPrefix)
})
