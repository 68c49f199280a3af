// Raw libp2p through a circuit relay v2: the floor under relayed.latency. A relay (TCP, Noise, Yamux, identify,
// circuit relay server without limits) and a dialling node here, an echoing node in its own process holding a
// reservation on that relay; 1 KiB echoed one at a time over one stream on the relayed connection. Every byte
// crosses the relay twice each way, decrypted and re-encrypted by Noise at the relay, as a relayed message does.
import { createLibp2p, type Libp2p } from 'libp2p'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { multiaddr } from '@multiformats/multiaddr'
import { tcpWritingOnce } from '../../src/net/tcp-writes.ts'
import type { Benchmark, BenchContext, RowInput } from '../harness.ts'
import { startChild } from '../lib/child.ts'
import { LATENCY_WARMUP, latencyStats, nowMs } from '../harness.ts'
import { ECHO } from './libp2p.ts'

const MESSAGE_BYTES = 1024

/** A plain node that can reach and accept circuits (`relay`: also serves them). */
export async function circuitNode (o: { relay?: boolean, listen?: string[] } = {}): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: o.listen ?? ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcpWritingOnce(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { inboundConnectionThreshold: 10_000, maxConnections: 10_000 },
    services: {
      identify: identify(),
      ...(o.relay === true ? { relay: circuitRelayServer({ reservations: { applyDefaultLimit: false } }) } : {})
    }
  })
}

async function run (ctx: BenchContext): Promise<RowInput[]> {
  const relay = await circuitNode({ relay: true })
  ctx.defer(async () => { await relay.stop() })
  const relayAddr = relay.getMultiaddrs().find((a) => a.toString().includes('/tcp/'))?.toString()
  if (relayAddr === undefined) throw new Error('relay has no TCP address')
  const echo = startChild(ctx, 'circuit-echo.ts', [relayAddr])
  const { peerId } = await echo.next<{ peerId: string }>('ready', 60_000)
  const client = await circuitNode()
  ctx.defer(async () => { await client.stop() })
  const stream = await client.dialProtocol(multiaddr(`${relayAddr}/p2p-circuit/p2p/${peerId}`), ECHO, { runOnLimitedConnection: true })
  let have = 0
  let waiting: (() => void) | undefined
  stream.addEventListener('message', (e) => {
    have += e.data.byteLength
    if (waiting !== undefined && have >= MESSAGE_BYTES) { have -= MESSAGE_BYTES; const w = waiting; waiting = undefined; w() }
  })
  const roundTrip = async (msg: Uint8Array): Promise<void> => {
    const done = new Promise<void>((resolve) => { waiting = resolve })
    stream.send(msg)
    await done
  }
  const msg = new Uint8Array(MESSAGE_BYTES).fill(7)
  for (let i = 0; i < LATENCY_WARMUP; i++) await roundTrip(msg)
  const samples: number[] = []
  for (let i = 0; i < ctx.n(3000, 1000) && !ctx.signal.aborted; i++) {
    const t0 = nowMs()
    await roundTrip(msg)
    samples.push(nowMs() - t0)
  }
  await stream.close()
  echo.send({ type: 'exit' })
  const s = latencyStats(samples)
  ctx.record('libp2p.circuit.rtt.p50', s.p50)
  return [{ ...ROWS[0], value: s.p50, note: `${ROWS[0].note}; ${samples.length} round trips; p99 ${s.p99.toFixed(2)} ms` }]
}

const ROWS = [
  { name: 'baseline.libp2p.circuit.rtt.p50', unit: 'ms', better: 'lower', baseline: null, goal: null, note: '1 KiB echo on one stream over a circuit relay v2 connection (relay and dialler here, the echoing node in another process)' }
] as const

export const circuitBaseline: Benchmark = { name: 'baseline.libp2p.circuit', timeoutMs: 120_000, quickTimeoutMs: 60_000, rows: ROWS, run }
