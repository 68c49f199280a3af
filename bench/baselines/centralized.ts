// The centralized baseline: a ws server forwarding sealed envelopes between two clients in this process,
// each doing the end-to-end work of a device (see bench/lib/central.ts). Reports send-to-delivered-receipt
// latency one message at a time (p50/p99) and throughput with a window of messages in flight.
import type { Benchmark, BenchContext, RowInput } from '../harness.ts'
import { latencyStats, nowMs } from '../harness.ts'
import { connectClient, startCentralServer, type Endpoint } from '../lib/central.ts'
import { rawEndpointPair } from '../lib/raw-endpoint.ts'
import { productEndpointPair } from '../lib/product-endpoint.ts'

/** Messages in flight during the throughput run: enough to keep both sides busy, as a chat burst would. */
export const WINDOW = 64
export const TEXT = 'x'.repeat(100)

async function run (ctx: BenchContext): Promise<RowInput[]> {
  const dir = ctx.tmpDir('central')
  const product = await productEndpointPair(dir, ctx)
  const [ea, eb]: [Endpoint, Endpoint] = product ?? await rawEndpointPair(dir)
  const server = await startCentralServer()
  ctx.defer(server.close)
  const alice = await connectClient(server.url, 'alice', 'bob', ea)
  ctx.defer(alice.close)
  const bob = await connectClient(server.url, 'bob', 'alice', eb)
  ctx.defer(bob.close)

  for (let i = 0; i < 50; i++) await alice.send(TEXT)
  const samples: number[] = []
  const count = ctx.n(1000, 300)
  for (let i = 0; i < count && !ctx.signal.aborted; i++) {
    const t0 = nowMs()
    await alice.send(TEXT)
    samples.push(nowMs() - t0)
  }
  const s = latencyStats(samples)

  const total = ctx.n(3000, 1000)
  const t0 = nowMs()
  let next = 0
  const worker = async (): Promise<void> => { while (next < total && !ctx.signal.aborted) { next++; await alice.send(TEXT) } }
  await Promise.all(Array.from({ length: WINDOW }, worker))
  const throughput = total / ((nowMs() - t0) / 1000)

  ctx.record('central.latency.p50', s.p50)
  ctx.record('central.latency.p99', s.p99)
  ctx.record('central.throughput', throughput)
  const how = product !== undefined
    ? 'clients use the product Device (seal/openEnvelope) and store'
    : 'clients use raw libsignal + SQLCipher inserts (product Device not available)'
  return [
    { ...ROWS[0], value: s.p50, note: `${ROWS[0].note}; ${how}` },
    { ...ROWS[1], value: s.p99 },
    { ...ROWS[2], value: throughput }
  ]
}

const ROWS = [
  { name: 'baseline.centralized.latency.p50', unit: 'ms', better: 'lower', baseline: null, goal: null, note: 'ws server forwarding envelopes, send to delivered receipt, one at a time' },
  { name: 'baseline.centralized.latency.p99', unit: 'ms', better: 'lower', baseline: null, goal: null },
  { name: 'baseline.centralized.throughput', unit: 'msg/s', better: 'higher', baseline: null, goal: null, note: `${WINDOW} in flight, each stored on both sides and receipted` }
] as const

export const centralizedBaseline: Benchmark = { name: 'baseline.centralized', timeoutMs: 120_000, quickTimeoutMs: 40_000, rows: ROWS, run }
