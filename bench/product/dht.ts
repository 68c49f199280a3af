// dht.lookup: a 100-node DHT in this process, a device publishes presence records, another device looks
// them up. The servers run the product's DHT settings (our protocol name, the presence validator and
// selector, src/net/libp2p.ts) on TCP+Noise+Yamux, without the relay profile's AutoNAT and circuit relay.
// Building the network by letting 100 nodes discover each other costs ~1,400 Noise handshakes (over a
// minute of CPU on 2 cores, with handshakes timing out), so the routing tables are written directly in the
// state a converged Kademlia network reaches (every other server known, at most k per bucket) and the
// periodic self-query is pushed past the run. Servers connect lazily, as lookups dial them.
// Hops = length of the chain of sequential queries that led to the first peer answering with the record
// (a peer from the looker's own routing table is hop 1; a peer learnt from hop-k's answer is hop k+1).
// N stays 100 in --quick (the hop figure depends on N); only the number of lookups shrinks.
import { createHash, randomBytes } from 'node:crypto'
import type { QueryEvent } from '@libp2p/kad-dht'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { DHT_PROTOCOL, type NodeLibp2p } from '../../src/net/libp2p.ts'
import { createShortLivedLibp2p } from '../../src/net/short-lived.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { PRESENCE_NAMESPACE, selectPresence, validatePresence } from '../../src/wire/presence.ts'
import { encodePresenceRecord, presenceDhtKey } from '../../src/wire/presence.ts'
import type { Benchmark, BenchContext, RowInput } from '../harness.ts'
import { latencyStats, nowMs } from '../harness.ts'

export const DHT_NODES = 100
/** kad-dht's default bucket size. */
const K = 20
/** Parallel node start-ups. */
const START_BATCH = 10
/** Longer than any run: the converged tables are written in, no self-query storm while measuring. */
const NO_SELF_QUERY_MS = 3_600_000

const LISTEN = ['/ip4/127.0.0.1/tcp/0']

async function dhtServer (): Promise<NodeLibp2p> {
  const node = await createLibp2p({
    addresses: { listen: LISTEN },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { inboundConnectionThreshold: 10_000, maxConnections: 10_000 },
    services: {
      identify: identify(),
      ping: ping(),
      dht: kadDHT({
        protocol: DHT_PROTOCOL,
        clientMode: false,
        querySelfInterval: NO_SELF_QUERY_MS,
        initialQuerySelfInterval: NO_SELF_QUERY_MS,
        peerInfoMapper: passthroughMapper,
        validators: { [PRESENCE_NAMESPACE]: async (key, value) => { validatePresence(key, value, Date.now()) } },
        selectors: { [PRESENCE_NAMESPACE]: (_key, values) => selectPresence(values) }
      })
    }
  })
  return node as unknown as NodeLibp2p
}

export async function lookupWithHops (node: NodeLibp2p, key: Uint8Array, signal: AbortSignal): Promise<{ hops: number | null, ms: number, queried: number }> {
  const depth = new Map<string, number>()
  let hops: number | null = null
  let queried = 0
  const t0 = nowMs()
  let firstMs: number | undefined
  try {
    for await (const e of node.services.dht.get(key, { signal }) as AsyncIterable<QueryEvent>) {
      if (e.name === 'SEND_QUERY') {
        queried++
        const id = e.to.toString()
        if (!depth.has(id)) depth.set(id, 1)
      } else if (e.name === 'PEER_RESPONSE') {
        const d = depth.get(e.from.toString()) ?? 1
        for (const c of e.closer) {
          const id = c.id.toString()
          if (!depth.has(id)) depth.set(id, d + 1)
        }
        if (e.record !== undefined && hops === null) hops = d
      } else if (e.name === 'VALUE' && hops === null) {
        hops = depth.get(e.from.toString()) ?? 0
      }
      if (hops !== null && firstMs === undefined) firstMs = nowMs() - t0
    }
  } catch (err) {
    // A walk cut short by its deadline: what it found counts, timed to the first value.
    if (hops === null) throw err
    return { hops, ms: firstMs ?? nowMs() - t0, queried }
  }
  return { hops, ms: nowMs() - t0, queried }
}

async function run (ctx: BenchContext): Promise<RowInput[]> {
  const servers: NodeLibp2p[] = []
  ctx.defer(async () => { await Promise.allSettled(servers.map(async (s) => { await s.stop() })) })
  for (let i = 0; i < DHT_NODES; i += START_BATCH) {
    const batch = await Promise.all(Array.from({ length: Math.min(START_BATCH, DHT_NODES - i) }, async () =>
      await dhtServer()))
    servers.push(...batch)
    if (ctx.signal.aborted) throw new Error('aborted while starting DHT servers')
  }
  ctx.progress(`  ${servers.length} DHT servers started`)
  // Converged tables: server i knows, in each bucket (common prefix length with its own Kademlia id), up
  // to K of the servers that fall in it; kad-dht's id is SHA-256 of the peer id's multihash.
  const kadId = (n: NodeLibp2p): Buffer => createHash('sha256').update(n.peerId.toMultihash().bytes).digest()
  const ids = servers.map(kadId)
  const cpl = (a: Buffer, b: Buffer): number => {
    for (let i = 0; i < a.length; i++) {
      const x = (a[i] as number) ^ (b[i] as number)
      if (x !== 0) return i * 8 + Math.clz32(x) - 24
    }
    return a.length * 8
  }
  let entries = 0
  for (const [i, s] of servers.entries()) {
    const buckets = new Map<number, number[]>()
    for (let j = 0; j < servers.length; j++) {
      if (j === i) continue
      const b = cpl(ids[i] as Buffer, ids[j] as Buffer)
      buckets.set(b, [...(buckets.get(b) ?? []), j])
    }
    // kad-dht's public add() pings every new contact first (a dial each); the converged state is written
    // straight into its k-bucket trie instead, as contacts pinged just now.
    const kb = (s.services.dht as unknown as { routingTable: { kb: { _add: (p: unknown) => Promise<void> } } }).routingTable.kb
    for (const members of buckets.values()) {
      for (const j of members.sort(() => Math.random() - 0.5).slice(0, K)) {
        const peer = servers[j] as NodeLibp2p
        await s.peerStore.merge(peer.peerId, { multiaddrs: peer.getMultiaddrs() })
        await kb._add({ peerId: peer.peerId, kadId: new Uint8Array(ids[j] as Buffer), lastPing: Date.now() })
        entries++
      }
    }
  }
  const sizes = servers.map((s) => (s.services.dht as unknown as { routingTable: { size: number } }).routingTable.size).sort((a, b) => a - b)
  const tables = `routing tables min ${sizes[0]}, median ${sizes[50]}, max ${sizes[sizes.length - 1]} (${entries} entries written)`
  ctx.progress(`  ${tables}`)

  const device = async (): Promise<NodeLibp2p> => {
    // A device's presence puts and gets run on a short-lived identity (the main node has no DHT).
    const d = await createShortLivedLibp2p({ relays: [], bootstrap: [], relayOnly: false, lan: true, logger: silentLogger }, true) as unknown as NodeLibp2p
    ctx.defer(async () => { await d.stop() })
    for (const k of [0, 1, 2].map(() => Math.floor(Math.random() * DHT_NODES))) await d.dial(servers[k]!.getMultiaddrs())
    const deadline = Date.now() + 10_000
    while ((d.services.dht as unknown as { routingTable: { size: number } }).routingTable.size === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    return d
  }
  const publisher = await device()
  const looker = await device()

  const lookups = ctx.n(30, 5)
  const keys: Uint8Array[] = []
  for (let i = 0; i < lookups; i++) {
    const key = presenceDhtKey(randomBytes(32))
    const value = encodePresenceRecord({ publishedAt: Date.now(), value: randomBytes(200) })
    for await (const _event of publisher.services.dht.put(key, value, { signal: ctx.signal })) { /* drain the query */ }
    keys.push(key)
  }
  ctx.progress(`  ${lookups} records published`)
  const hops: number[] = []
  const ms: number[] = []
  let queried = 0
  let misses = 0
  for (const key of keys) {
    if (ctx.signal.aborted) break
    const r = await lookupWithHops(looker, key, ctx.signal)
    if (r.hops === null) { misses++; continue }
    hops.push(r.hops)
    ms.push(r.ms)
    queried += r.queried
  }
  if (hops.length === 0) throw new Error('no lookup found its record')
  const meanHops = hops.reduce((a, b) => a + b, 0) / hops.length
  const s = latencyStats(ms)
  // dht.grown (bench/product/dht-growth.ts) compares its lookups with this one.
  ctx.record('dht.lookup.ms', s.p50)
  const detail = `${hops.length} lookups in a ${DHT_NODES}-server DHT (max ${Math.max(...hops)} hops, ${(queried / hops.length).toFixed(1)} peers queried per lookup${misses > 0 ? `, ${misses} misses` : ''}; ${tables})`
  return [
    { ...ROWS[0], value: meanHops, baselineValue: Math.log2(DHT_NODES), note: `mean; ${detail}` },
    { ...ROWS[1], value: s.p50, note: `p50 of a complete lookup; p99 ${s.p99.toFixed(1)} ms` }
  ]
}

const ROWS = [
  { name: 'dht.lookup.hops', unit: 'hops', better: 'lower', baseline: `log2(N), N=${DHT_NODES}`, goal: { text: '<= log2(N) hops', on: 'ratio', op: '<=', target: 1 } },
  { name: 'dht.lookup.ms', unit: 'ms', better: 'lower', baseline: null, goal: null }
] as const

export const dhtLookup: Benchmark = { name: 'dht.lookup', timeoutMs: 240_000, quickTimeoutMs: 75_000, rows: ROWS, run }
