// Raw libp2p: a node here and an echoing node in its own process (TCP on 127.0.0.1, Noise, Yamux), one
// connection, one stream, 1 KiB echoed back and forth one at a time. Baseline of direct.latency (whose
// devices are in two processes too): the floor under any protocol the product runs on such a connection.
import { createLibp2p, type Libp2p } from 'libp2p'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@libp2p/yamux'
import type { Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { tcpWritingOnce } from '../../src/net/tcp-writes.ts'
import type { Benchmark, BenchContext, RowInput } from '../harness.ts'
import { startChild } from '../lib/child.ts'
import { perEach, WARMUP_CONNECTIONS, type MemoryReading } from '../lib/memory-reading.ts'
import { binLaunch } from '../../test/helpers/launch.ts'
import { COLD_COUNT, COLD_SKIP, LATENCY_WARMUP, latencyStats, nowMs } from '../harness.ts'

export const ECHO = '/0m1-bench/echo/1.0.0'
/** The smallest envelope bucket: what one text message occupies on the wire. */
const MESSAGE_BYTES = 1024

export async function plainNode (): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    // The product's TCP transport (one socket write per send, src/net/tcp-writes.ts), so the comparison is not
    // flattered by a transport tweak the raw stream lacks.
    transports: [tcpWritingOnce()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // The default refuses more than 5 inbound connections a second from one address: the connect figure
    // dials one after another.
    connectionManager: { inboundConnectionThreshold: 10_000, maxConnections: 10_000 }
  })
}

/** Resolves with the next `n` bytes read from the stream (Yamux may split or merge frames). */
function reader (stream: Stream): (n: number) => Promise<void> {
  let have = 0
  let waiting: { n: number, resolve: () => void } | undefined
  stream.addEventListener('message', (e) => {
    have += e.data.byteLength
    if (waiting !== undefined && have >= waiting.n) {
      have -= waiting.n
      const w = waiting
      waiting = undefined
      w.resolve()
    }
  })
  return async (n) => {
    if (have >= n) { have -= n; return }
    await new Promise<void>((resolve) => { waiting = { n, resolve } })
  }
}

async function run (ctx: BenchContext): Promise<RowInput[]> {
  const a = await plainNode()
  ctx.defer(async () => { await a.stop() })
  const echo = startChild(ctx, 'echo.ts', [])
  const { addresses } = await echo.next<{ addresses: string[] }>('ready', 60_000)
  const stream = await a.dialProtocol(addresses.map((x) => multiaddr(x)), ECHO)
  const read = reader(stream)
  const msg = new Uint8Array(MESSAGE_BYTES).fill(7)
  const roundTrips = async (n: number): Promise<number[]> => {
    const samples: number[] = []
    for (let i = 0; i < n && !ctx.signal.aborted; i++) {
      const t0 = nowMs()
      stream.send(msg)
      await read(MESSAGE_BYTES)
      samples.push(nowMs() - t0)
    }
    return samples
  }
  // The first round trips (cold), then the warm-up every latency figure shares (LATENCY_WARMUP).
  await roundTrips(COLD_SKIP)
  const coldCount = ctx.n(...COLD_COUNT)
  const cold = latencyStats(await roundTrips(coldCount))
  await roundTrips(LATENCY_WARMUP - COLD_SKIP - coldCount)
  const samples = await roundTrips(ctx.n(5000, 2000))
  await stream.close()
  const s = latencyStats(samples)
  ctx.record('libp2p.rtt.cold.p50', cold.p50)

  // A new connection each time (TCP, Noise handshake, Yamux, protocol negotiation) and one 1 KiB round
  // trip on it: what a first message to a device not yet connected cannot avoid.
  const peer = a.getConnections()[0]?.remotePeer
  const connects: number[] = []
  for (let i = 0; i < ctx.n(30, 10) && !ctx.signal.aborted; i++) {
    if (peer !== undefined) await a.hangUp(peer)
    const t0 = nowMs()
    const fresh = await a.dialProtocol(addresses.map((x) => multiaddr(x)), ECHO)
    const readFresh = reader(fresh)
    fresh.send(msg)
    await readFresh(MESSAGE_BYTES)
    connects.push(nowMs() - t0)
    await fresh.close()
  }
  const c = latencyStats(connects)

  echo.send({ type: 'exit' })

  // Memory per idle inbound connection, the floor of what a relay holds per device: read as relay.memory reads its
  // relay (bench/lib/memory-reading.ts), in a fresh echoing node started as that relay is (the bin's first line:
  // one malloc arena); the echoing node above, a peer of the latency rows, starts as the other baselines' do.
  const launch = binLaunch()
  const held = startChild(ctx, 'echo.ts', [], launch.execArgv, launch.env)
  const heldAt = (await held.next<{ addresses: string[] }>('ready', 60_000)).addresses.map((x) => multiaddr(x))
  const clients: Libp2p[] = []
  ctx.defer(async () => { await Promise.allSettled(clients.map(async (n) => { await n.stop() })) })
  const connect = async (count: number): Promise<void> => {
    const until = clients.length + count
    while (clients.length < until && !ctx.signal.aborted) {
      clients.push(...await Promise.all(Array.from({ length: Math.min(10, until - clients.length) }, async () => {
        const n = await plainNode()
        await n.dial(heldAt)
        return n
      })))
    }
  }
  await connect(WARMUP_CONNECTIONS)
  held.send({ type: 'measure' })
  const before = await held.next<MemoryReading>('memory')
  await connect(ctx.n(300, 200))
  held.send({ type: 'measure' })
  const after = await held.next<MemoryReading & { connections: number }>('memory')
  held.send({ type: 'exit' })
  const added = Math.max(1, clients.length - WARMUP_CONNECTIONS)
  const per = perEach(before, after, added)
  const perConnection = per.value
  ctx.record('libp2p.rtt.p50', s.p50)
  ctx.record('libp2p.rtt.p99', s.p99)
  ctx.record('libp2p.connect.p50', c.p50)
  ctx.record('libp2p.connection.kb', perConnection)
  return [
    { ...ROWS[0], value: s.p50 },
    { ...ROWS[1], value: s.p99 },
    { ...ROWS[2], value: c.p50, note: `${ROWS[2].note}; ${connects.length} connections` },
    { ...ROWS[3], value: perConnection, note: `${ROWS[3].note}; ${added} connections added after ${WARMUP_CONNECTIONS} (${after.connections} open): ${per.note}` },
    { ...ROWS[4], value: cold.p50, note: `the same echo, its first ${coldCount} round trips after ${COLD_SKIP} (cold)` }
  ]
}

const ROWS = [
  { name: 'baseline.libp2p.rtt.p50', unit: 'ms', better: 'lower', baseline: null, goal: null, note: `1 KiB echo on one libp2p stream (TCP loopback with the product's one write per send, Noise, Yamux), the echoing node in another process; after ${LATENCY_WARMUP} round trips` },
  { name: 'baseline.libp2p.rtt.p99', unit: 'ms', better: 'lower', baseline: null, goal: null },
  { name: 'baseline.libp2p.connect.p50', unit: 'ms', better: 'lower', baseline: null, goal: null, note: 'dial a new connection (TCP, Noise, Yamux), open a stream, one 1 KiB round trip' },
  { name: 'baseline.libp2p.connection_memory', unit: 'KB/connection', better: 'lower', baseline: null, goal: null, note: 'RSS delta less V8\'s young generation of a plain libp2p node in its own process (started as relay.memory\'s relay) holding idle inbound connections (TCP, Noise, Yamux), per connection' },
  { name: 'baseline.libp2p.rtt.cold.p50', unit: 'ms', better: 'lower', baseline: null, goal: null }
] as const

export const libp2pBaseline: Benchmark = {
  name: 'baseline.libp2p',
  timeoutMs: 120_000,
  quickTimeoutMs: 60_000,
  rows: ROWS,
  run
}
