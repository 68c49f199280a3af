// Lightweight relay stand-ins for the DHT growth benchmark (bench/product/dht-growth.ts): kad-dht servers on
// our protocol (TCP, Noise, Yamux, identify, ping), no circuit relay or mailboxes. Some provide the relay key
// and serve a signed record on /0m1/relay-info/1.0.0, as relays do. Routing tables grow by the protocol only:
// each node dials a few seeds, then kad-dht's own self-queries and the provide walks fill the tables.
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { dhtService, type NodeLibp2p } from '../../src/net/libp2p.ts'
import { startRelayAdvertising } from '../../src/net/relay-info.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { RELAY_SERVICE } from '../../src/wire/relay-record.ts'

const nodes: NodeLibp2p[] = []
const send = (m: unknown): void => { process.send?.(m) }
const size = (n: NodeLibp2p): number => (n.services.dht as unknown as { routingTable: { size: number } }).routingTable.size

async function start (count: number): Promise<void> {
  for (let i = 0; i < count; i += 10) {
    await Promise.all(Array.from({ length: Math.min(10, count - i) }, async () => {
      const privateKey = await generateKeyPair('Ed25519')
      const node = await createLibp2p({
        privateKey,
        addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
        transports: [tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        // Hundreds of peers join at once through the same seeds: the defaults (10 pending inbound) refuse most.
        connectionManager: { inboundConnectionThreshold: 10_000, maxConnections: 10_000, maxIncomingPendingConnections: 1_000 },
        services: { identify: identify(), ping: ping(), dht: await dhtService({ clientMode: false, lan: true, now: Date.now }) }
      }) as unknown as NodeLibp2p
      nodes.push(node)
      ;(node as unknown as { _key: unknown })._key = privateKey
    }))
  }
  send({ type: 'started', addrs: nodes.map((n) => n.getMultiaddrs()[0]?.toString()) })
}

/** A few at a time: 100 nodes' dials at once in one process time out their Noise handshakes. */
async function inWaves (jobs: Array<() => Promise<void>>, width = 8): Promise<void> {
  for (let i = 0; i < jobs.length; i += width) await Promise.all(jobs.slice(i, i + width).map(async (j) => { await j().catch(() => {}) }))
}

process.on('disconnect', () => { process.exit(0) })
process.on('message', (m: { type: string, seeds?: string[][], providers?: number }) => {
  const run = async (): Promise<void> => {
    if (m.type === 'start') await start((m as unknown as { count: number }).count)
    else if (m.type === 'join') {
      // Each node dials its own few seeds (the protocol's bootstrap); kad-dht then self-queries.
      await inWaves(nodes.map((n, i) => async () => {
        for (const s of m.seeds?.[i] ?? []) await n.dial(multiaddr(s)).catch(() => {})
      }))
      send({ type: 'joined' })
    } else if (m.type === 'self-query') {
      // Kademlia's join: look up our own id, which fills the buckets near us (kad-dht repeats it on a timer).
      await inWaves(nodes.map((n) => async () => {
        for await (const _e of n.services.dht.getClosestPeers(n.peerId.toMultihash().bytes, { signal: AbortSignal.timeout(15_000) })) { /* drain */ }
      }), 25)
      send({ type: 'self-queried' })
    } else if (m.type === 'provide') {
      const k = m.providers ?? 0
      await Promise.all(nodes.slice(0, k).map(async (n, i) => {
        await startRelayAdvertising(n, {
          privateKey: (n as unknown as { _key: Parameters<typeof startRelayAdvertising>[1]['privateKey'] })._key,
          advertise: true,
          operator: `bench-${i % 7}`,
          services: RELAY_SERVICE.circuit | RELAY_SERVICE.mailbox,
          capacity: () => ({ reservationsFree: 1000, reservationsMax: 1024, mailboxFreeMiB: 0xffffffff }),
          logger: silentLogger
        })
      }))
      send({ type: 'providing' })
    } else if (m.type === 'tables') {
      send({ type: 'tables', sizes: nodes.map(size), connections: nodes.reduce((a, n) => a + n.getConnections().length, 0) })
    } else if (m.type === 'exit') {
      await Promise.allSettled(nodes.map(async (n) => { await n.stop() }))
      process.exit(0)
    }
  }
  run().catch((err: unknown) => { send({ type: 'error', message: String(err) }) })
})
