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
import { LATENCY_WARMUP, latencyStats, nowMs } from '../harness.ts'

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
  const count = ctx.n(5000, 2000)
  for (let i = 0; i < LATENCY_WARMUP; i++) { stream.send(msg); await read(MESSAGE_BYTES) }
  const samples: number[] = []
  for (let i = 0; i < count && !ctx.signal.aborted; i++) {
    const t0 = nowMs()
    stream.send(msg)
    await read(MESSAGE_BYTES)
    samples.push(nowMs() - t0)
  }
  await stream.close()
  const s = latencyStats(samples)

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

  // Memory per open connection on the echoing node: the floor of what a relay holds per device.
  // Measured twice before: the first collection frees the garbage of the echo loop above, and the RSS that
  // frees is returned only by the time of the second.
  echo.send({ type: 'measure' })
  await echo.next('memory')
  echo.send({ type: 'measure' })
  const before = await echo.next<{ rss: number, heapUsed: number }>('memory')
  const clients: Libp2p[] = []
  ctx.defer(async () => { await Promise.allSettled(clients.map(async (n) => { await n.stop() })) })
  const m = ctx.n(300, 200)
  for (let i = 0; i < m && !ctx.signal.aborted; i += 10) {
    clients.push(...await Promise.all(Array.from({ length: Math.min(10, m - i) }, async () => {
      const n = await plainNode()
      await n.dial(addresses.map((x) => multiaddr(x)))
      return n
    })))
  }
  echo.send({ type: 'measure' })
  const after = await echo.next<{ rss: number, heapUsed: number, connections: number }>('memory')
  const added = Math.max(1, clients.length)
  const perConnection = (after.rss - before.rss) / added / 1024
  ctx.record('libp2p.rtt.p50', s.p50)
  ctx.record('libp2p.rtt.p99', s.p99)
  ctx.record('libp2p.connect.p50', c.p50)
  ctx.record('libp2p.connection.kb', perConnection)
  return [
    { ...ROWS[0], value: s.p50 },
    { ...ROWS[1], value: s.p99 },
    { ...ROWS[2], value: c.p50, note: `${ROWS[2].note}; ${connects.length} connections` },
    { ...ROWS[3], value: perConnection, note: `${ROWS[3].note}; ${clients.length} connections added (${after.connections} open), RSS ${(before.rss / 2 ** 20).toFixed(1)} -> ${(after.rss / 2 ** 20).toFixed(1)} MB, heap delta ${((after.heapUsed - before.heapUsed) / added / 1024).toFixed(1)} KB per connection` }
  ]
}

const ROWS = [
  { name: 'baseline.libp2p.rtt.p50', unit: 'ms', better: 'lower', baseline: null, goal: null, note: `1 KiB echo on one libp2p stream (TCP loopback with the product's one write per send, Noise, Yamux), the echoing node in another process; after ${LATENCY_WARMUP} round trips` },
  { name: 'baseline.libp2p.rtt.p99', unit: 'ms', better: 'lower', baseline: null, goal: null },
  { name: 'baseline.libp2p.connect.p50', unit: 'ms', better: 'lower', baseline: null, goal: null, note: 'dial a new connection (TCP, Noise, Yamux), open a stream, one 1 KiB round trip' },
  { name: 'baseline.libp2p.connection_memory', unit: 'KB/connection', better: 'lower', baseline: null, goal: null, note: 'RSS delta of a plain libp2p node in its own process holding idle inbound connections (TCP, Noise, Yamux), per connection' }
] as const

export const libp2pBaseline: Benchmark = {
  name: 'baseline.libp2p',
  timeoutMs: 120_000,
  quickTimeoutMs: 60_000,
  rows: ROWS,
  run
}
