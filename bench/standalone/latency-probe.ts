// Where one message's latency goes (issue 10): two device hosts in child processes (as in the `direct` and
// `relayed` rows), one message at a time, each child's CPU profiled over the timed messages only.
// Run: node --import tsx bench/standalone/latency-probe.ts [direct|relayed|throughput] [count=500] [profile dir]
// (throughput: the `direct.throughput` row's load, 64 in flight, for its CPU per message and profile; PROBE_WINDOW=n
// puts n in flight instead)
// With BENCH_HEAP_PROFILE=1 and a profile dir, each device also writes <mode>-<side>.heapprofile: its allocations
// over the timed messages, per message by function and package with bench/standalone/heap-summary.mjs.
// Time inside a function and all it calls (the summary above is self time): bench/standalone/profile-inclusive.mjs
// The relay runs in this process (which does nothing else while the messages are timed): its CPU per message is
// this process's, and with a profile dir its profile is written as <mode>-relay.cpuprofile.
// Read a profile with: node bench/standalone/profile-summary.mjs <file.cpuprofile>
// Count what one message does on each side (writes, reads, timers, statements): bench/standalone/probe-counters.mjs
import '../../src/platform/shims.ts'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Session } from 'node:inspector/promises'
import { startRelay } from '../../src/relay/service.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { latencyStats, type BenchContext } from '../harness.ts'
import { introduceRemote, remotePerson } from '../lib/people.ts'

const mode = process.argv[2] === 'relayed' ? 'relayed' : process.argv[2] === 'throughput' ? 'throughput' : 'direct'
const count = Number(process.argv[3] ?? 500)
const profDir = process.argv[4]
const cleanups: Array<() => unknown> = []
const ac = new AbortController()
const root = mkdtempSync(join(tmpdir(), '0m1-latency-probe-'))
let k = 0
const ctx: BenchContext = {
  quick: false,
  n: (full) => full,
  record: () => {},
  recorded: () => undefined,
  tmpDir: (prefix) => mkdtempSync(join(root, `${prefix}-${k++}-`)),
  defer: (fn) => { cleanups.push(fn) },
  signal: ac.signal,
  progress: (line) => { console.log(line) }
}
try {
  const relay = await startRelay({ dataDir: ctx.tmpDir('relay'), listen: ['/ip4/127.0.0.1/tcp/0'], logger: silentLogger })
  cleanups.push(async () => { await relay.stop() })
  const address = relay.addresses.find((a) => a.includes('/tcp/') && !a.includes('/ws')) as string
  const relayOnly = mode === 'relayed'
  const alice = await remotePerson(ctx, 'alice', { relays: [address], relayOnly })
  const bob = await remotePerson(ctx, 'bob', { relays: [address], relayOnly })
  const { aToB } = await introduceRemote(alice, bob)
  // PROBE_WARMUP=n: messages sent before the timed ones (50): the devices' code is still being optimized (V8's
  // TurboFan, on its helper threads) for the first few thousand.
  await alice.ask('latency', { contactId: aToB, warmup: Number(process.env.PROBE_WARMUP ?? 50), count: 1 }, 600_000)
  await new Promise((resolve) => setTimeout(resolve, 3000))
  if (profDir !== undefined) await Promise.all([alice.ask('profileStart'), bob.ask('profileStart')])
  const usage = async (): Promise<Array<{ us: number, idleMs: number, activeMs: number }>> => await Promise.all([alice, bob].map(async (p) => await p.ask<{ us: number, idleMs: number, activeMs: number }>('cpu')))
  const cpu = async (): Promise<number[]> => (await usage()).map((u) => u.us)
  // Event-loop utilisation of each child over the run: the share of wall time its loop was busy (not waiting).
  const elu = (a: Array<{ idleMs: number, activeMs: number }>, b: Array<{ idleMs: number, activeMs: number }>): string[] =>
    a.map((x, i) => { const d = b[i]!; const active = d.activeMs - x.activeMs; return (active / (active + d.idleMs - x.idleMs)).toFixed(2) })
  const relayProfiler = profDir !== undefined ? new Session() : undefined
  if (relayProfiler !== undefined) {
    relayProfiler.connect()
    await relayProfiler.post('Profiler.enable')
    await relayProfiler.post('Profiler.setSamplingInterval', { interval: 100 })
    await relayProfiler.post('Profiler.start')
  }
  const u0 = await usage()
  const c0 = u0.map((u) => u.us)
  if (mode === 'throughput') {
    const r = await alice.ask<{ count: number, ms: number }>('throughput', { contactId: aToB, total: count, window: Number(process.env.PROBE_WINDOW ?? 64) }, 600_000)
    const u1 = await usage()
    const c1 = u1.map((u) => u.us)
    const [eluA, eluB] = elu(u0, u1)
    if (profDir !== undefined) {
      await alice.ask('profileStop', { path: join(profDir, `${mode}-sender.cpuprofile`) })
      await bob.ask('profileStop', { path: join(profDir, `${mode}-receiver.cpuprofile`) })
    }
    console.log(`${mode}: ${(r.count / r.ms * 1000).toFixed(0)} msg/s over ${r.count}; CPU/msg sender ${((c1[0]! - c0[0]!) / count / 1000).toFixed(2)} ms, receiver ${((c1[1]! - c0[1]!) / count / 1000).toFixed(2)} ms; event-loop utilisation sender ${eluA}, receiver ${eluB}`)
  } else {
    const r0 = process.cpuUsage()
    const lat = await alice.ask<{ samples: number[], paths: Array<string | undefined> }>('latency', { contactId: aToB, warmup: 0, count }, 600_000)
    const r1 = process.cpuUsage(r0)
    const c1 = await cpu()
    if (relayProfiler !== undefined) {
      const { profile } = await relayProfiler.post('Profiler.stop')
      writeFileSync(join(profDir as string, `${mode}-relay.cpuprofile`), JSON.stringify(profile))
      relayProfiler.disconnect()
    }
    if (profDir !== undefined) {
      await alice.ask('profileStop', { path: join(profDir, `${mode}-sender.cpuprofile`) })
      await bob.ask('profileStop', { path: join(profDir, `${mode}-receiver.cpuprofile`) })
    }
    const s = latencyStats(lat.samples)
    const paths = new Map<string, number>()
    for (const p of lat.paths) paths.set(p ?? '?', (paths.get(p ?? '?') ?? 0) + 1)
    console.log(`${mode}: p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms over ${count}; CPU/msg sender ${((c1[0]! - c0[0]!) / count / 1000).toFixed(2)} ms, receiver ${((c1[1]! - c0[1]!) / count / 1000).toFixed(2)} ms, relay ${((r1.user + r1.system) / count / 1000).toFixed(2)} ms (user ${(r1.user / count / 1000).toFixed(2)}); paths ${[...paths].map(([p, n]) => `${n} ${p}`).join(', ')}`)
  }
  await alice.exit()
  await bob.exit()
} finally {
  for (const fn of cleanups.reverse()) { try { await fn() } catch { /* best effort */ } }
  rmSync(root, { recursive: true, force: true })
}
