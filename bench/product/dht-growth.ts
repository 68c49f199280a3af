// dht.grown: the DHT built by the protocol itself (issue 16), not written by hand as dht.lookup does. N
// lightweight relay stand-ins (kad-dht servers on our protocol, bench/children/dht-nodes.ts) over 3 child
// processes; each dials 1-3 seeds, kad-dht's self-queries fill the tables, P of them provide the relay key and
// serve signed records. Then fresh short-lived identities, each knowing one random node, look up presence
// records (hops against log2 N) and discover relays (findProviders + record fetches, as devices do).
// --quick: N=60, P=8 (the hop figure then measures a smaller network; its baseline is log2 of that N).
import { randomBytes } from 'node:crypto'
import { multiaddr } from '@multiformats/multiaddr'
import type { NodeLibp2p } from '../../src/net/libp2p.ts'
import { discoverRelays } from '../../src/net/relay-info.ts'
import { createShortLivedLibp2p } from '../../src/net/short-lived.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { encodePresenceRecord, presenceDhtKey } from '../../src/wire/presence.ts'
import type { Benchmark, BenchContext, RowInput } from '../harness.ts'
import { latencyStats, nowMs } from '../harness.ts'
import { startChild, type Child } from '../lib/child.ts'
import { lookupWithHops } from './dht.ts'

const CHILDREN = 3
/** One put walk or one lookup: beyond this it counts as a miss (the run must end even when the network is slow). */
const STEP_MS = 60_000
/** A put walk: kad-dht's put did not end within 60 s at N=300 (every one of them); the record is stored where it got. */
const PUT_MS = 10_000

/** A fresh short-lived identity that knows one node (another one if that dial fails: a loaded machine times
 * out some Noise handshakes). */
async function identity (ctx: BenchContext, pick: () => string): Promise<NodeLibp2p> {
  const d = await createShortLivedLibp2p({ relays: [], bootstrap: [], relayOnly: false, lan: true, logger: silentLogger }, true) as unknown as NodeLibp2p
  ctx.defer(async () => { await d.stop() })
  for (let attempt = 1; ; attempt++) {
    try { await d.dial(multiaddr(pick()), { signal: AbortSignal.timeout(20_000) }); break } catch (err) { if (attempt >= 5) throw err }
  }
  const deadline = Date.now() + 10_000
  while ((d.services.dht as unknown as { routingTable: { size: number } }).routingTable.size === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  return d
}

async function run (ctx: BenchContext): Promise<RowInput[]> {
  const n = ctx.n(300, 60)
  // Providers per child, so the figure names the real count.
  const providers = Math.ceil(ctx.n(24, 8) / CHILDREN) * CHILDREN
  const t0 = nowMs()
  const kids: Child[] = []
  for (let c = 0; c < CHILDREN; c++) kids.push(startChild(ctx, 'dht-nodes.ts'))
  const per = Math.ceil(n / CHILDREN)
  kids.forEach((k, c) => { k.send({ type: 'start', count: Math.min(per, n - c * per) }) })
  const addrs = (await Promise.all(kids.map(async (k) => (await k.next<{ addrs: string[] }>('started', 300_000)).addrs)))
  const all = addrs.flat()
  ctx.progress(`  ${all.length} DHT nodes started in ${CHILDREN} processes (${((nowMs() - t0) / 1000).toFixed(1)} s)`)
  // Bootstrap by the protocol: each node dials up to 3 random earlier nodes (node 0 dials node 1); nothing else
  // is given. No node is everyone's seed: 300 nodes dialling node 0 made it the bottleneck of the whole set-up.
  let g = 0
  kids.forEach((k, c) => {
    const seeds = (addrs[c] ?? []).map(() => {
      const i = g++
      if (i === 0) return [all[1] as string]
      return [...new Set([Math.floor(Math.random() * i), Math.floor(Math.random() * i), Math.floor(Math.random() * i)])].map((j) => all[j] as string)
    })
    k.send({ type: 'join', seeds })
  })
  await Promise.all(kids.map(async (k) => await k.next('joined', 300_000)))
  ctx.progress(`  joined (${((nowMs() - t0) / 1000).toFixed(0)} s)`)
  // One self-query per node (Kademlia's join), the children one after the other so that later ones find more.
  for (const k of kids) { k.send({ type: 'self-query' }); await k.next('self-queried', 300_000) }
  // kad-dht's own timers and identify go on filling tables: wait until the median stops growing (or the budget ends).
  const budget = Date.now() + ctx.n(120_000, 30_000)
  let last = -1
  let tables = ''
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 3_000))
    const t = await Promise.all(kids.map(async (k) => { k.send({ type: 'tables' }); return await k.next<{ sizes: number[], connections: number }>('tables') }))
    const sizes = t.flatMap((x) => x.sizes).sort((a, b) => a - b)
    const median = sizes[Math.floor(sizes.length / 2)] ?? 0
    tables = `routing tables min ${sizes[0]}, median ${median}, max ${sizes[sizes.length - 1]}; ${t.reduce((a, x) => a + x.connections, 0)} connections`
    ctx.progress(`  ${tables}`)
    if (median <= last * 1.02 || Date.now() > budget || ctx.signal.aborted) break
    last = median
  }
  kids.forEach((k) => { k.send({ type: 'provide', providers: providers / CHILDREN }) })
  await Promise.all(kids.map(async (k) => await k.next('providing')))
  const setupS = (nowMs() - t0) / 1000
  ctx.progress(`  set-up (start, bootstrap, self-queries, ${providers} providers announcing) ${setupS.toFixed(0)} s`)
  await new Promise((resolve) => setTimeout(resolve, 5_000))

  const pick = (): string => all[Math.floor(Math.random() * all.length)] as string
  const publisher = await identity(ctx, pick)
  const lookups = ctx.n(20, 5)
  const keys: Uint8Array[] = []
  for (let i = 0; i < lookups; i++) {
    const key = presenceDhtKey(randomBytes(32))
    const p0 = nowMs()
    try {
      for await (const _e of publisher.services.dht.put(key, encodePresenceRecord({ publishedAt: Date.now(), value: randomBytes(200) }), { signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(PUT_MS)]) })) { /* drain */ }
    } catch (err) {
      // A put walk cut short still stored the record where it got to; the lookup says whether that was enough.
      if (ctx.signal.aborted) throw err
    }
    ctx.progress(`  put ${i + 1}/${lookups} (${((nowMs() - p0) / 1000).toFixed(1)} s)`)
    keys.push(key)
  }
  const hops: number[] = []
  const ms: number[] = []
  let misses = 0
  for (const key of keys) {
    if (ctx.signal.aborted) break
    const looker = await identity(ctx, pick)
    const r = await lookupWithHops(looker, key, AbortSignal.any([ctx.signal, AbortSignal.timeout(STEP_MS)])).catch((err: unknown) => {
      if (ctx.signal.aborted) throw err
      return { hops: null, ms: STEP_MS, queried: 0 }
    })
    await looker.stop()
    ctx.progress(`  lookup ${hops.length + misses + 1}/${keys.length}: ${r.hops ?? 'miss'} hops, ${(r.ms / 1000).toFixed(1)} s`)
    if (r.hops === null) { misses++; continue }
    hops.push(r.hops)
    ms.push(r.ms)
  }
  const disc: number[] = []
  const found: number[] = []
  for (let i = 0; i < ctx.n(10, 3) && !ctx.signal.aborted; i++) {
    const d = await identity(ctx, pick)
    const s0 = nowMs()
    const r = await discoverRelays(d, { signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(30_000)]), now: Date.now, allowPrivate: true })
    disc.push(nowMs() - s0)
    found.push(r.relays.length)
    await d.stop()
  }
  for (const k of kids) k.send({ type: 'exit' })
  if (hops.length === 0) throw new Error('no lookup found its record')
  const log2 = Math.log2(all.length)
  const meanHops = hops.reduce((a, b) => a + b, 0) / hops.length
  const l = latencyStats(ms)
  const d = latencyStats(disc)
  const setup = `N=${all.length} grown by the protocol (${tables}); set-up ${setupS.toFixed(0)} s`
  return [
    { ...ROWS[0], baseline: `log2(N), N=${all.length}`, value: meanHops, baselineValue: log2, note: `mean over ${hops.length} lookups (max ${Math.max(...hops)}${misses > 0 ? `, ${misses} misses` : ''}), each from a fresh identity knowing one node; ${setup}` },
    { ...ROWS[1], value: l.p50, note: `p50; p99 ${l.p99.toFixed(0)} ms; log2 N = ${log2.toFixed(1)}` },
    { ...ROWS[2], value: d.p50, note: `p50 of ${disc.length} discoveries (findProviders + signed records), found ${Math.min(...found)}..${Math.max(...found)} of ${providers} providers; log2 N = ${log2.toFixed(1)}` },
    { ...ROWS[3], value: setupS, note: `${all.length} nodes in ${CHILDREN} processes: start, dial 1-3 seeds, self-queries until the median table stops growing, ${providers} provide walks` }
  ]
}

const ROWS = [
  { name: 'dht.grown.hops', unit: 'hops', better: 'lower', baseline: 'log2(N)', goal: { text: '<= log2(N) hops', on: 'ratio', op: '<=', target: 1 } },
  { name: 'dht.grown.lookup.ms', unit: 'ms', better: 'lower', baseline: 'dht.lookup p50 (100 nodes, tables written by hand)', baselineKey: 'dht.lookup.ms', goal: null },
  { name: 'dht.grown.discovery.ms', unit: 'ms', better: 'lower', baseline: 'one presence lookup in the same network (p50)', baselineKey: 'dht.grown.lookup.ms', goal: null },
  { name: 'dht.grown.setup.s', unit: 's', better: 'lower', baseline: null, goal: null }
] as const

async function withRecord (ctx: BenchContext): Promise<RowInput[]> {
  const rows = await run(ctx)
  const lookup = rows[1]?.value
  if (typeof lookup === 'number') ctx.record('dht.grown.lookup.ms', lookup)
  return rows
}

export const dhtGrown: Benchmark = { name: 'dht.grown', timeoutMs: 1_800_000, quickTimeoutMs: 300_000, rows: ROWS, run: withRecord }
