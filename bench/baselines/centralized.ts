// The centralized baseline: a WebSocket server over TLS (self-signed for 127.0.0.1, made at run time) in
// this process forwards sealed envelopes between two clients, each in its own process as the devices of
// direct.* are, each doing the end-to-end work of a device (see bench/lib/central.ts). Reports
// send-to-delivered-receipt latency one message at a time (p50/p99) and throughput with a window of
// messages in flight.
import { join } from 'node:path'
import type { Benchmark, BenchContext, RowInput } from '../harness.ts'
import { COLD_COUNT, COLD_SKIP, LATENCY_WARMUP, latencyStats } from '../harness.ts'
import { startCentralServer } from '../lib/central.ts'
import { startChild, type Child } from '../lib/child.ts'
import { devicePair } from '../lib/devices.ts'
import { selfSignedLoopback } from '../lib/tls.ts'

/** Messages in flight during the throughput run: enough to keep both sides busy, as a chat burst would. */
export const WINDOW = 64
export const TEXT = 'x'.repeat(100)

async function run (ctx: BenchContext): Promise<RowInput[]> {
  const dir = ctx.tmpDir('central')
  const { a, b, aToB, bToA } = await devicePair(dir)
  a.close()
  b.close()
  const tls = await selfSignedLoopback()
  const server = await startCentralServer(tls)
  ctx.defer(server.close)
  const client = async (name: string, peer: string, deviceDir: string, contactId: string): Promise<Child> => {
    const c = startChild(ctx, 'central-client.ts', [JSON.stringify({ url: server.url, ca: tls.cert, name, peer, deviceDir, contactId })])
    await c.next('ready', 60_000)
    return c
  }
  const alice = await client('alice', 'bob', join(dir, 'a'), aToB)
  const bob = await client('bob', 'alice', join(dir, 'b'), bToA)
  // CPU time of each client (µs so far): per message, the figure to set beside the direct row's devices.
  const cpu = async (): Promise<[number, number]> => {
    alice.send({ type: 'cpu' })
    bob.send({ type: 'cpu' })
    return [(await alice.next<{ us: number }>('cpu')).us, (await bob.next<{ us: number }>('cpu')).us]
  }

  // The first messages after start (cold), then the warm-up every latency figure shares (LATENCY_WARMUP).
  const coldCount = ctx.n(...COLD_COUNT)
  alice.send({ type: 'latency', warmup: COLD_SKIP, count: coldCount })
  const cold = latencyStats((await alice.next<{ samples: number[] }>('latency', ctx.n(120_000, 40_000))).samples)
  alice.send({ type: 'latency', warmup: LATENCY_WARMUP - COLD_SKIP - coldCount, count: 0 })
  await alice.next('latency', ctx.n(120_000, 60_000))
  const count = ctx.n(1000, 300)
  const c0 = await cpu()
  alice.send({ type: 'latency', warmup: 0, count })
  const { samples } = await alice.next<{ samples: number[] }>('latency', ctx.n(120_000, 40_000))
  const c1 = await cpu()
  const s = latencyStats(samples)
  const cpuNote = `CPU per message ${((c1[0] - c0[0]) / count / 1000).toFixed(2)} ms sender, ${((c1[1] - c0[1]) / count / 1000).toFixed(2)} ms receiver`
  alice.send({ type: 'throughput', total: ctx.n(3000, 1000), window: WINDOW })
  const tp = await alice.next<{ count: number, ms: number }>('throughput', ctx.n(120_000, 40_000))
  const throughput = tp.count / (tp.ms / 1000)

  ctx.record('central.latency.p50', s.p50)
  ctx.record('central.latency.p99', s.p99)
  ctx.record('central.latency.cold.p50', cold.p50)
  ctx.record('central.latency.cold.p99', cold.p99)
  ctx.record('central.throughput', throughput)
  return [
    { ...ROWS[0], value: s.p50, note: `${ROWS[0].note}; ${count} messages after ${LATENCY_WARMUP}; ${cpuNote}` },
    { ...ROWS[1], value: s.p99 },
    { ...ROWS[2], value: throughput },
    { ...ROWS[3], value: cold.p50, note: `the first ${coldCount} messages after ${COLD_SKIP} (cold); p99 ${cold.p99.toFixed(2)} ms` }
  ]
}

const ROWS = [
  { name: 'baseline.centralized.latency.p50', unit: 'ms', better: 'lower', baseline: null, goal: null, note: 'TLS WebSocket server forwarding envelopes between two client processes that do the product Device (seal/openEnvelope) and store work; send to delivered receipt, one at a time' },
  { name: 'baseline.centralized.latency.p99', unit: 'ms', better: 'lower', baseline: null, goal: null },
  { name: 'baseline.centralized.throughput', unit: 'msg/s', better: 'higher', baseline: null, goal: null, note: `${WINDOW} in flight, each stored on both sides and receipted` },
  { name: 'baseline.centralized.latency.cold.p50', unit: 'ms', better: 'lower', baseline: null, goal: null }
] as const

export const centralizedBaseline: Benchmark = { name: 'baseline.centralized', timeoutMs: 180_000, quickTimeoutMs: 90_000, rows: ROWS, run }
