// relay.memory: a relay in a child process, started as `0message1 relay` runs it (bench/children/relay.ts); N device
// nodes in this process each hold a circuit-relay reservation on it; the relay's RSS after minus before (read once
// a few devices have reserved), less V8's young generation, divided by N; the raw RSS change in the note. Read as
// its floor (baseline.libp2p.connection_memory) is read: bench/lib/memory-reading.ts. The young generation (up to
// 32 MB) is a fixed cost of a busy relay, not one per device: a relay with 1,000 devices never releases it (their
// pings keep it busy), one with 20 sometimes has; whether it had at the first reading moved the raw figure by up
// to 31 KB per device.
// device.idle_rss: `0message1 start` (the bin, compiled) with 20 contacts, idle; beside it the same device
// run from the sources through tsx, and Node with the compiled modules loaded (the floor). All three start Node
// as the bin's first line says (its environment and flags, test/helpers/launch.ts), under this process's Node.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { rmSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { platform } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Device } from '../../src/e2ee/device.ts'
import { createDeviceNode, type DeviceNode } from '../../src/net/node.ts'
import { RELAY_MAX_RESERVATIONS } from '../../src/net/libp2p.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import type { Benchmark, BenchContext, RowInput } from '../harness.ts'
import { startChild } from '../lib/child.ts'
import { perEach, WARMUP_CONNECTIONS, type MemoryReading } from '../lib/memory-reading.ts'
import { BIN, binLaunch } from '../../test/helpers/launch.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const KB = 1024
const MB = 1024 * 1024
const CONTACTS = 20
/** Device nodes started at once: each makes a Noise handshake and a reservation with the one relay. */
const START_BATCH = 10

async function runRelayMemory (ctx: BenchContext): Promise<RowInput[]> {
  // Every device is on loopback, one address prefix: the per-prefix reservation bound (issue 14.2) is lifted.
  // Started as `0message1 relay` starts Node (the bin's first line: one malloc arena).
  const launch = binLaunch()
  const relay = startChild(ctx, 'relay.ts', [ctx.tmpDir('relay-mem'), JSON.stringify({ maxReservationsPerPrefix: RELAY_MAX_RESERVATIONS })], launch.execArgv, launch.env)
  const { addresses } = await relay.next<{ addresses: string[] }>('ready', 30_000)
  const address = addresses.find((a) => a.includes('/tcp/') && !a.includes('/ws'))
  if (address === undefined) throw new Error('relay has no TCP address')
  const nodes: DeviceNode[] = []
  ctx.defer(async () => { await Promise.allSettled(nodes.map(async (d) => { await d.stop() })) })
  const reserved = (): number => nodes.filter((d) => d.addresses().some((a) => a.includes('/p2p-circuit'))).length
  const addDevices = async (count: number): Promise<void> => {
    const until = nodes.length + count
    while (nodes.length < until && !ctx.signal.aborted) {
      nodes.push(...await Promise.all(Array.from({ length: Math.min(START_BATCH, until - nodes.length) }, async () =>
        await createDeviceNode({ listen: ['/ip4/127.0.0.1/tcp/0'], relays: [address], logger: silentLogger }))))
    }
    const deadline = Date.now() + ctx.n(120_000, 30_000)
    while (reserved() < nodes.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 500))
  }
  await addDevices(WARMUP_CONNECTIONS)
  const warm = reserved()
  relay.send({ type: 'measure' })
  const before = await relay.next<RelayMemory>('memory')
  const n = ctx.n(1000, 100)
  await addDevices(n)
  const withReservation = reserved() - warm
  relay.send({ type: 'measure' })
  const after = await relay.next<RelayMemory>('memory')
  relay.send({ type: 'exit' })
  if (withReservation <= 0) throw new Error('no device got a reservation')
  const per = perEach(before, after, withReservation)
  return [{
    ...RELAY_ROWS[0],
    value: per.value,
    note: `relay process, ${withReservation} devices with a reservation (of ${n}) added after ${warm} had reserved: ${per.note}; ${after.trims} heap trims by the relay; ${after.connections} connections`
  }]
}

interface RelayMemory extends MemoryReading { trims: number, connections: number }

const RELAY_ROWS = [
  { name: 'relay.memory', unit: 'KB/device', better: 'lower', baseline: null, goal: { text: '<= 64 KB', on: 'value', op: '<=', target: 64 }, floor: 'a plain libp2p node in its own process, per idle inbound connection (baseline.libp2p.connection_memory)', floorKey: 'libp2p.connection.kb' }
] as const

export const relayMemory: Benchmark = { name: 'relay.memory', timeoutMs: 300_000, quickTimeoutMs: 60_000, rows: RELAY_ROWS, run: runRelayMemory }

/** Idle RSS of one process, read by the OS (no forced collection: what a user sees). */
async function rssOf (pid: number): Promise<number> {
  if (platform() === 'linux') {
    const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))
    if (m !== null) return Number(m[1]) * KB
  }
  const { stdout } = await promisify(execFile)('ps', ['-o', 'rss=', '-p', String(pid)])
  return Number(stdout.trim()) * KB
}

/** Starts Node with `args` as the bin starts it and resolves once it prints `ready` on stdout; killed when the
 * benchmark ends. */
async function daemon (ctx: BenchContext, args: string[], ready: RegExp): Promise<ChildProcess> {
  const launch = binLaunch()
  const child = spawn(process.execPath, [...launch.execArgv, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...launch.env, ZEROM1_LOG: 'warn' } })
  ctx.defer(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => { child.kill('SIGKILL'); resolve() }, 10_000)
      child.once('exit', () => { clearTimeout(t); resolve() })
    })
  })
  let err = ''
  child.stderr.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-2000) })
  let out = ''
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => { reject(new Error(`${args.join(' ')}: not ready in 60 s: ${err}`)) }, 60_000)
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      if (ready.test(out)) { clearTimeout(t); resolve() }
    })
    child.once('exit', (code) => { clearTimeout(t); reject(new Error(`${args.join(' ')} exited ${String(code)}: ${err}`)) })
  })
  return child
}

/** Median RSS over a few samples, once the processes have been idle for `idleMs`. */
async function idleRss (pids: number[], idleMs: number): Promise<number[]> {
  await new Promise((resolve) => setTimeout(resolve, idleMs))
  const samples: number[][] = pids.map(() => [])
  for (let i = 0; i < SAMPLES; i++) {
    for (const [k, pid] of pids.entries()) samples[k]?.push(await rssOf(pid))
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
  return samples.map((xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number)
}

const SAMPLES = 5

async function runIdle (ctx: BenchContext): Promise<RowInput[]> {
  // The compiled build of the current sources (incremental: seconds when nothing changed).
  await promisify(execFile)(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, timeout: 180_000 })
  const dir = ctx.tmpDir('idle')
  const dirs = [join(dir, 'compiled'), join(dir, 'tsx')]
  for (const d of dirs) {
    const me = await Device.create(d, { name: 'me', logger: silentLogger })
    try {
      for (let i = 0; i < CONTACTS; i++) {
        const other = await Device.create(join(dir, `c${i}`), { name: `c${i}`, logger: silentLogger })
        const invite = await other.createInvite({ relays: [], addresses: [] })
        const { envelope } = await me.acceptInvite(invite.link, { card: { relays: [], addresses: [] } })
        await other.openEnvelope(envelope)
        other.close()
        rmSync(join(dir, `c${i}`), { recursive: true, force: true })
      }
    } finally {
      me.close()
    }
  }
  const start = (d: string): string[] => ['start', '--data', d, '--api', '127.0.0.1:0', '--listen', '/ip4/127.0.0.1/tcp/0']
  // The three idle at the same time: the started device as users run it (the bin, compiled JavaScript), the
  // same device run from the sources through tsx, and the floor: Node with the compiled modules that
  // `start` loads, nothing started.
  const compiled = await daemon(ctx, [BIN, ...start(dirs[0] as string)], /Web UI: /)
  const tsx = await daemon(ctx, ['--import', 'tsx', '--import', './src/platform/shims.ts', '--input-type=module', '-e',
    "const { main } = await import('./src/cli/main.ts'); process.exitCode = await main(process.argv.slice(1))", ...start(dirs[1] as string)], /Web UI: /)
  const floor = await daemon(ctx, ['--expose-gc', '--input-type=module', '-e', FLOOR_SCRIPT], /loaded/)
  const [c, t, f] = await idleRss([compiled.pid ?? 0, tsx.pid ?? 0, floor.pid ?? 0], ctx.n(30_000, 20_000))
  ctx.record('device.tsx.rss', (t ?? NaN) / MB)
  ctx.record('device.floor.rss', (f ?? NaN) / MB)
  return [{ ...IDLE_ROWS[0], value: (c ?? NaN) / MB, note: `\`0message1 start\` (bin, compiled dist/) with ${CONTACTS} contacts, no relay, idle ${ctx.n(30, 20)} s, median of ${SAMPLES} readings of the OS's RSS (no forced GC)` }]
}

/** Loads what `0message1 start` loads (the shims, the CLI, the device host and its API server; the API's routes load
 * on the first API request, in the device as here, so neither holds them), starts nothing, and
 * collects twice a second while idle, so the garbage of loading and the bytecode of code run only at load
 * are gone by the time it is read (a device gets there through V8's memory reducer): the code alone. */
const FLOOR_SCRIPT = "await import('./dist/platform/shims.js'); await import('./dist/cli/main.js'); await import('./dist/messenger/host.js'); await import('./dist/api/server.js'); process.stdout.write('loaded\\n'); setInterval(() => { gc() }, 500)"

const IDLE_ROWS = [
  { name: 'device.idle_rss', unit: 'MB', better: 'lower', baseline: 'the same device run from sources through tsx', baselineKey: 'device.tsx.rss', goal: { text: '<= 100 MB', on: 'value', op: '<=', target: 100 }, floor: 'Node with the compiled modules of `start` loaded, nothing started, collected twice a second', floorKey: 'device.floor.rss' }
] as const

export const deviceIdle: Benchmark = { name: 'device.idle_rss', timeoutMs: 300_000, quickTimeoutMs: 240_000, rows: IDLE_ROWS, run: runIdle }
