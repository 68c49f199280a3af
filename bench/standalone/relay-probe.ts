// The relay's CPU per relayed round trip (issue 10): 1 KiB echoed over a circuit relay v2 connection between two
// plain libp2p nodes, each in its own process, through a relay in this process, which does nothing else while the
// round trips are timed. `bare`: a libp2p node with only the circuit relay server (the floor); `ours`: startRelay.
// gapMs: a pause before each round trip, as between the messages of a one-at-a-time latency run (a relay woken
// every few ms runs colder than one kept busy).
// Run: node --import tsx bench/standalone/relay-probe.ts [bare|ours] [count=1000] [gapMs=0] [profile file]
import '../../src/platform/shims.ts'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Session } from 'node:inspector/promises'
import { startRelay } from '../../src/relay/service.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { latencyStats, type BenchContext } from '../harness.ts'
import { circuitNode } from '../baselines/circuit.ts'
import { startChild } from '../lib/child.ts'

const kind = process.argv[2] === 'ours' ? 'ours' : 'bare'
const count = Number(process.argv[3] ?? 1000)
const gapMs = Number(process.argv[4] ?? 0)
const profFile = process.argv[5]
const cleanups: Array<() => unknown> = []
const root = mkdtempSync(join(tmpdir(), '0m1-relay-probe-'))
const ctx = { defer: (fn: () => unknown) => { cleanups.push(fn) }, signal: new AbortController().signal } as unknown as BenchContext
try {
  let address: string
  if (kind === 'ours') {
    const relay = await startRelay({ dataDir: root, listen: ['/ip4/127.0.0.1/tcp/0'], logger: silentLogger })
    cleanups.push(async () => { await relay.stop() })
    address = relay.addresses.find((a) => a.includes('/tcp/') && !a.includes('/ws')) as string
  } else {
    const relay = await circuitNode({ relay: true })
    cleanups.push(async () => { await relay.stop() })
    address = relay.getMultiaddrs().map((a) => a.toString()).find((a) => a.includes('/tcp/')) as string
  }
  const echo = startChild(ctx, 'circuit-echo.ts', [address])
  const { peerId } = await echo.next<{ peerId: string }>('ready', 60_000)
  const dial = startChild(ctx, 'circuit-dial.ts', [address, peerId])
  await dial.next('ready', 60_000)
  dial.send({ type: 'run', count: 300 })
  await dial.next('run', 60_000)
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const profiler = profFile !== undefined ? new Session() : undefined
  if (profiler !== undefined) {
    profiler.connect()
    await profiler.post('Profiler.enable')
    await profiler.post('Profiler.setSamplingInterval', { interval: 100 })
    await profiler.post('Profiler.start')
  }
  const i0 = process.cpuUsage()
  await new Promise((resolve) => setTimeout(resolve, 2000))
  const idle = process.cpuUsage(i0)
  console.log(`idle relay CPU ${((idle.user + idle.system) / 2000).toFixed(2)} ms/s`)
  const c0 = process.cpuUsage()
  dial.send({ type: 'run', count, gapMs })
  const { samples } = await dial.next<{ samples: number[] }>('run', 600_000)
  const c = process.cpuUsage(c0)
  if (profiler !== undefined) {
    const { profile } = await profiler.post('Profiler.stop')
    writeFileSync(profFile as string, JSON.stringify(profile))
    profiler.disconnect()
  }
  const s = latencyStats(samples)
  console.log(`${kind} gap ${gapMs} ms: p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms over ${count}; relay CPU per round trip ${((c.user + c.system) / count / 1000).toFixed(3)} ms (user ${(c.user / count / 1000).toFixed(3)})`)
  dial.send({ type: 'exit' })
  echo.send({ type: 'exit' })
} finally {
  for (const fn of cleanups.reverse()) { try { await fn() } catch { /* best effort */ } }
  rmSync(root, { recursive: true, force: true })
}
