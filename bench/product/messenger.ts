// Messenger figures on real device hosts (createDeviceHost: SQLCipher, libsignal, libp2p) and real relays,
// all on 127.0.0.1 in this process: direct and relayed send-to-delivered-receipt latency, direct throughput,
// first message after accepting an invite, and draining a mailbox on reconnect.
import { randomBytes } from 'node:crypto'
import { Device } from '../../src/e2ee/device.ts'
import { createDeviceNode } from '../../src/net/node.ts'
import { startRelay, type RelayHandle } from '../../src/relay/service.ts'
import { startChild } from '../lib/child.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import type { MessengerEvent } from '../../src/messenger/types.ts'
import { introduce, person, type Person } from '../../test/helpers/testnet.ts'
import type { Benchmark, BenchContext, RowInput } from '../harness.ts'
import { COLD_COUNT, COLD_SKIP, LATENCY_WARMUP, latencyStats, nowMs } from '../harness.ts'
import { introduceRemote, remotePerson, type RemotePerson } from '../lib/people.ts'
import { TEXT, WINDOW } from '../baselines/centralized.ts'
import { textPayload } from '../lib/devices.ts'

/** Relay limits for benchmarks: the per-connection deposit rate limit (600/min) would measure the limiter. */
/** Throughput, not admission, is measured: every node is on loopback (one address prefix, issue 14.2). */
/** The deposit figure uses mailboxes whose owners never open a session: their guest bounds are lifted too. */
const BENCH_RELAY_LIMITS = {
  depositsPerMinutePerConnection: 1_000_000, depositsPerMinutePerPrefix: 1_000_000, prefixSharePercent: 100, maxMailboxCount: 100_000, maxMailboxBytes: 1024 * 1024 * 1024,
  guestMaxMailboxCount: 100_000, guestMaxMailboxBytes: 1024 * 1024 * 1024, guestTotalPercent: 100
}
const STATE_TIMEOUT_MS = 30_000
/** Deposits in flight from one node: the client coalesces them into multi-envelope frames on one stream
 * (src/net/mailbox-deposit.ts), so this is how many a busy device would have queued, not a stream count. */
const DEPOSIT_WINDOW = 512

async function relay (ctx: BenchContext): Promise<{ handle: RelayHandle, address: string }> {
  const handle = await startRelay({ dataDir: ctx.tmpDir('relay'), listen: ['/ip4/127.0.0.1/tcp/0'], logger: silentLogger, limits: BENCH_RELAY_LIMITS })
  ctx.defer(async () => { await handle.stop() })
  const address = handle.addresses.find((a) => a.includes('/tcp/') && !a.includes('/ws'))
  if (address === undefined) throw new Error('relay has no TCP address')
  return { handle, address }
}

const teardown = (ctx: BenchContext): { after: (fn: () => unknown) => void } => ({ after: ctx.defer })

/** Resolves when each given outgoing message reaches `state`, from the messenger's own events. */
function stateWaiter (p: Person, state: 'delivered' | 'stored'): (id: string) => Promise<{ path?: string }> {
  const waiting = new Map<string, (m: { path?: string }) => void>()
  const reached = new Map<string, { path?: string }>()
  p.m().subscribe((e: MessengerEvent) => {
    if (e.type !== 'message-state' || e.message.direction !== 'out') return
    if (e.message.state !== state && !(state === 'stored' && (e.message.state === 'delivered' || e.message.state === 'read'))) return
    const m = { ...(e.message.path !== undefined ? { path: e.message.path } : {}) }
    const w = waiting.get(e.message.id)
    if (w !== undefined) { waiting.delete(e.message.id); w(m) } else reached.set(e.message.id, m)
  })
  return async (id) => {
    const done = reached.get(id)
    if (done !== undefined) { reached.delete(id); return done }
    return await new Promise((resolve, reject) => {
      const t = setTimeout(() => { waiting.delete(id); reject(new Error(`message not ${state} within ${STATE_TIMEOUT_MS} ms`)) }, STATE_TIMEOUT_MS)
      waiting.set(id, (m) => { clearTimeout(t); resolve(m) })
    })
  }
}

function pathsNote (paths: Array<string | undefined>): string {
  const counts = new Map<string, number>()
  for (const p of paths) counts.set(p ?? '?', (counts.get(p ?? '?') ?? 0) + 1)
  return [...counts].map(([k, v]) => `${v} ${k}`).join(', ')
}

/** p50 of a send-to-delivered exchange can go no lower than one stream round trip plus the durable crypto of the
 * message, measured one at a time in this run (baseline.libsignal.durable_oneway: encrypt + commit, decrypt + commit,
 * the sender's commit of 'delivered'). Its receipt is the deliver ack (/0m1/deliver/2.1.0), end-to-end authenticated
 * by the connection's Noise session with the peer id of the contact's card: nothing is sealed back. */
function latencyFloor (ctx: BenchContext): void {
  const rtt = ctx.recorded('libp2p.rtt.p50')
  const crypto = ctx.recorded('libsignal.durable.oneway')
  if (rtt !== undefined && crypto !== undefined) ctx.record('floor.latency', rtt + crypto)
}

/** Where the floor puts a goal on a ratio: the best ratio this machine allows, from figures of this run. */
function floorReach (ctx: BenchContext, floorKey: string, baselineKey: string, goal: { op: '>=' | '<=', target: number }): string {
  const floor = ctx.recorded(floorKey)
  const base = ctx.recorded(baselineKey)
  if (floor === undefined || base === undefined || base === 0) return `floor or ${baselineKey} not measured`
  const best = floor / base
  const ok = goal.op === '<=' ? best <= goal.target : best >= goal.target
  return `floor / ${baselineKey} = ${best.toFixed(2)}: the goal (${goal.op} ${goal.target}) is ${ok ? 'within' : 'beyond'} this machine's floor`
}

/** CPU below which a device counts as settled (ms of CPU per QUIET_WINDOW_MS), and how long to wait for it at most. */
const QUIET_CPU_MS = 25
const QUIET_WINDOW_MS = 500
const QUIET_MAX_MS = 15_000

/**
 * Waits until both devices are settled after the introduction: mailbox sessions, hole punching, presence and
 * the DHT open connections (Noise handshakes) for a few seconds, which the first latency samples would carry
 * (seen in a CPU profile of the receiver). Returns how long it waited. The figures are of the steady state.
 */
async function settled (people: RemotePerson[]): Promise<number> {
  const t0 = nowMs()
  const cpu = async (): Promise<number[]> => await Promise.all(people.map(async (p) => (await p.ask<{ us: number }>('cpu')).us))
  let before = await cpu()
  while (nowMs() - t0 < QUIET_MAX_MS) {
    await new Promise((resolve) => setTimeout(resolve, QUIET_WINDOW_MS))
    const now = await cpu()
    if (now.every((us, i) => (us - (before[i] ?? 0)) / 1000 < QUIET_CPU_MS)) break
    before = now
  }
  return nowMs() - t0
}

async function runDirect (ctx: BenchContext): Promise<RowInput[]> {
  latencyFloor(ctx)
  const r = await relay(ctx)
  const alice = await remotePerson(ctx, 'alice', { relays: [r.address] })
  const bob = await remotePerson(ctx, 'bob', { relays: [r.address] })
  const { aToB } = await introduceRemote(alice, bob)
  // CPU time of each device per message: unlike wall time, barely moved by other work on the machine.
  const cpu = async (): Promise<[number, number]> => [(await alice.ask<{ us: number }>('cpu')).us, (await bob.ask<{ us: number }>('cpu')).us]
  const perMessage = (from: [number, number], to: [number, number], n: number): string =>
    `CPU per message ${((to[0] - from[0]) / n / 1000).toFixed(2)} ms sender, ${((to[1] - from[1]) / n / 1000).toFixed(2)} ms receiver`
  const waited = await settled([alice, bob])
  // The first messages after start (cold), then the warm-up every latency figure shares (LATENCY_WARMUP).
  const coldCount = ctx.n(...COLD_COUNT)
  const cold = latencyStats((await alice.ask<{ samples: number[] }>('latency', { contactId: aToB, warmup: COLD_SKIP, count: coldCount }, ctx.n(240_000, 60_000))).samples)
  await alice.ask('latency', { contactId: aToB, warmup: LATENCY_WARMUP - COLD_SKIP - coldCount, count: 0 }, ctx.n(240_000, 90_000))
  const c0 = await cpu()
  const lat = await alice.ask<{ samples: number[], paths: Array<string | undefined> }>('latency', { contactId: aToB, warmup: 0, count: ctx.n(500, 150) }, ctx.n(240_000, 60_000))
  const c1 = await cpu()
  const s = latencyStats(lat.samples)
  // BENCH_PHASE_PROF=<dir>: CPU profiles of both devices during the throughput run alone (bench/children/person.ts).
  const profiled = process.env.BENCH_PHASE_PROF !== undefined
  // The profiler's cost is inside this run's figures: they are for reading the profile, not for the results.
  if (profiled) console.warn('BENCH_PHASE_PROF is set: direct.throughput includes the CPU profiler\'s overhead; do not record it')
  if (profiled) await Promise.all([alice.ask('profStart'), bob.ask('profStart')])
  const tp = await alice.ask<{ count: number, ms: number, paths: Array<string | undefined> }>('throughput', { contactId: aToB, total: ctx.n(3000, 600), window: WINDOW }, ctx.n(240_000, 60_000))
  const c2 = await cpu()
  if (profiled) await Promise.all([alice.ask('profStop'), bob.ask('profStop')])
  const rate = tp.count / (tp.ms / 1000)
  await alice.exit()
  await bob.exit()
  ctx.record('direct.latency.p50', s.p50)
  ctx.record('direct.throughput', rate)
  const where = 'each device in its own process'
  const batched = ctx.recorded('libsignal.durable.batched')
  const tpReach = batched === undefined ? 'floor not measured' : `the floor is ${batched >= 2000 ? 'above' : 'below'} the 2,000 msg/s goal`
  return [
    { ...DIRECT_ROWS[0], value: rate, note: `${tp.count} messages, ${WINDOW} in flight, ${where} (paths: ${pathsNote(tp.paths)}); ${perMessage(c1, c2, tp.count)}; ${tpReach}` },
    { ...DIRECT_ROWS[1], value: s.p50, note: `${lat.samples.length} messages one at a time after ${LATENCY_WARMUP}, ${where} (paths: ${pathsNote(lat.paths)}); ${perMessage(c0, c1, lat.samples.length)}; started once both devices were settled (${(waited / 1000).toFixed(1)} s after the introduction); ${floorReach(ctx, 'floor.latency', 'central.latency.p50', DIRECT_ROWS[1].goal)}` },
    { ...DIRECT_ROWS[2], value: s.p99 },
    { ...DIRECT_ROWS[3], value: s.p50, note: floorReach(ctx, 'floor.latency', 'libp2p.rtt.p50', DIRECT_ROWS[3].goal) },
    { ...DIRECT_ROWS[4], value: cold.p50, note: `the first ${coldCount} messages after ${COLD_SKIP} (cold), before the warm-up of the rows above` },
    { ...DIRECT_ROWS[5], value: cold.p99 },
    { ...DIRECT_ROWS[6], value: cold.p50 }
  ]
}

const LATENCY_FLOOR = 'raw libp2p RTT p50 + the durable crypto of one message (baseline.libsignal.durable_oneway): its delivered receipt rides the deliver ack, authenticated end to end by the Noise session with the contact\'s own peer id'
const DIRECT_ROWS = [
  { name: 'direct.throughput', unit: 'msg/s', better: 'higher', baseline: 'centralized throughput (same work, same process layout)', baselineKey: 'central.throughput', goal: { text: '>= 2,000 msg/s', on: 'value', op: '>=', target: 2000 }, floor: `lean raw libsignal with the product's batching (${WINDOW} per commit, one receipt per batch), the slower end's rate (baseline.libsignal.durable_batched; no transport)`, floorKey: 'libsignal.durable.batched' },
  { name: 'direct.latency.p50', unit: 'ms', better: 'lower', baseline: 'centralized p50', baselineKey: 'central.latency.p50', goal: { text: 'ratio <= 0.8', on: 'ratio', op: '<=', target: 0.8 }, floor: LATENCY_FLOOR, floorKey: 'floor.latency' },
  { name: 'direct.latency.p99', unit: 'ms', better: 'lower', baseline: 'centralized p99', baselineKey: 'central.latency.p99', goal: { text: 'ratio <= 1.0', on: 'ratio', op: '<=', target: 1 } },
  { name: 'direct.latency.p50.vs_stream', unit: 'ms', better: 'lower', baseline: 'raw libp2p stream RTT p50', baselineKey: 'libp2p.rtt.p50', goal: { text: 'ratio <= 10', on: 'ratio', op: '<=', target: 10 }, floor: LATENCY_FLOOR, floorKey: 'floor.latency' },
  // The same exchanges cold: what a device that has just started gives, beside the baselines' own cold figures.
  { name: 'direct.latency.cold.p50', unit: 'ms', better: 'lower', baseline: 'centralized cold p50', baselineKey: 'central.latency.cold.p50', goal: null },
  { name: 'direct.latency.cold.p99', unit: 'ms', better: 'lower', baseline: 'centralized cold p99', baselineKey: 'central.latency.cold.p99', goal: null },
  { name: 'direct.latency.cold.p50.vs_stream', unit: 'ms', better: 'lower', baseline: 'raw libp2p stream cold RTT p50', baselineKey: 'libp2p.rtt.cold.p50', goal: null }
] as const

export const direct: Benchmark = { name: 'direct', timeoutMs: 300_000, quickTimeoutMs: 120_000, rows: DIRECT_ROWS, run: runDirect }

/** The relayed exchange's floor: a round trip over a raw libp2p circuit (bench/baselines/circuit.ts) plus the same
 * durable crypto of one message: the deliver ack is its receipt on a circuit too (Noise runs end to end through the
 * relay, which cannot forge it). */
function relayedFloor (ctx: BenchContext): void {
  const rtt = ctx.recorded('libp2p.circuit.rtt.p50')
  const crypto = ctx.recorded('libsignal.durable.oneway')
  if (rtt !== undefined && crypto !== undefined) ctx.record('floor.relayed', rtt + crypto)
}

async function runRelayed (ctx: BenchContext): Promise<RowInput[]> {
  relayedFloor(ctx)
  const r = await relay(ctx)
  const alice = await remotePerson(ctx, 'alice', { relays: [r.address], relayOnly: true })
  const bob = await remotePerson(ctx, 'bob', { relays: [r.address], relayOnly: true })
  const { aToB } = await introduceRemote(alice, bob)
  await settled([alice, bob])
  await alice.ask('latency', { contactId: aToB, warmup: LATENCY_WARMUP, count: 0 }, ctx.n(180_000, 80_000))
  // CPU per message (message and receipt) of each device and of the relay: the relay is in this process, which
  // only waits on the devices meanwhile. Barely moved by other load on the machine, unlike the latency.
  const devCpu = async (): Promise<[number, number]> => [(await alice.ask<{ us: number }>('cpu')).us, (await bob.ask<{ us: number }>('cpu')).us]
  const d0 = await devCpu()
  const r0 = process.cpuUsage()
  const lat = await alice.ask<{ samples: number[], paths: Array<string | undefined> }>('latency', { contactId: aToB, warmup: 0, count: ctx.n(300, 80) }, ctx.n(180_000, 60_000))
  const r1 = process.cpuUsage(r0)
  const d1 = await devCpu()
  const n = Math.max(1, lat.samples.length)
  const ms = (us: number): string => (us / n / 1000).toFixed(2)
  const s = latencyStats(lat.samples)
  await alice.exit()
  await bob.exit()
  return [{ ...RELAYED_ROWS[0], value: s.p50, note: `relayOnly devices, each in its own process, one relay; ${lat.samples.length} messages after ${LATENCY_WARMUP} (paths: ${pathsNote(lat.paths)}); p99 ${s.p99.toFixed(1)} ms; CPU per message: sender ${ms(d1[0] - d0[0])} ms, receiver ${ms(d1[1] - d0[1])} ms, relay ${ms(r1.user + r1.system)} ms; ${floorReach(ctx, 'floor.relayed', 'central.latency.p50', RELAYED_ROWS[0].goal)}` }]
}

const RELAYED_ROWS = [
  { name: 'relayed.latency.p50', unit: 'ms', better: 'lower', baseline: 'centralized p50', baselineKey: 'central.latency.p50', goal: { text: 'ratio <= 1.2', on: 'ratio', op: '<=', target: 1.2 }, floor: 'raw libp2p RTT p50 over a circuit relay (baseline.libp2p.circuit) + the durable crypto of one message (baseline.libsignal.durable_oneway): the deliver ack is its receipt, Noise running end to end through the relay', floorKey: 'floor.relayed' }
] as const

export const relayed: Benchmark = { name: 'relayed', timeoutMs: 180_000, quickTimeoutMs: 100_000, rows: RELAYED_ROWS, run: runRelayed }

async function runFirstMessage (ctx: BenchContext): Promise<RowInput[]> {
  // Floor: a new connection with one round trip, the session setup, and the durable crypto of the message
  // and of its receipt.
  const connect = ctx.recorded('libp2p.connect.p50')
  const setup = ctx.recorded('libsignal.setup.ms')
  const durable = ctx.recorded('libsignal.durable')
  if (connect !== undefined && setup !== undefined && durable !== undefined) ctx.record('floor.first', connect + setup + 2 * 1000 / durable)
  const r = await relay(ctx)
  const rounds = ctx.n(5, 2)
  const alice = await remotePerson(ctx, 'alice', { relays: [r.address] })
  const samples: number[] = []
  for (let i = 0; i < rounds && !ctx.signal.aborted; i++) {
    // A new accepter each round (a person accepts one invite per contact); the clock runs in its process.
    const bob = await remotePerson(ctx, `bob${i}`, { relays: [r.address] })
    const { link } = await alice.ask<{ link: string }>('invite')
    samples.push((await bob.ask<{ ms: number }>('first', { link, name: 'alice' })).ms)
    await bob.exit()
  }
  await alice.exit()
  const s = latencyStats(samples)
  return [{ ...FIRST_ROWS[0], value: s.p50, note: `median of ${samples.length}, each device in its own process: acceptInvite, send, until the accepter sees the delivered receipt (max ${Math.max(...samples).toFixed(0)} ms)` }]
}

const FIRST_ROWS = [
  { name: 'first.message', unit: 'ms', better: 'lower', baseline: null, goal: { text: '<= 100 ms', on: 'value', op: '<=', target: 100 }, floor: 'raw libp2p new connection + round trip, raw libsignal session setup, 2 x durable encrypt+decrypt', floorKey: 'floor.first' }
] as const

export const firstMessage: Benchmark = { name: 'first.message', timeoutMs: 180_000, quickTimeoutMs: 60_000, rows: FIRST_ROWS, run: runFirstMessage }

/** The relay in a child process with the bench limits: what the bench process does (deposit, drain) is
 * then measured with the relay's CPU apart from it, as between a device and a relay on another machine. */
async function remoteRelay (ctx: BenchContext): Promise<string> {
  const child = startChild(ctx, 'relay.ts', [ctx.tmpDir('relay'), JSON.stringify(BENCH_RELAY_LIMITS)])
  const { addresses } = await child.next<{ addresses: string[] }>('ready', 60_000)
  const address = addresses.find((a) => a.includes('/tcp/') && !a.includes('/ws'))
  if (address === undefined) throw new Error('relay has no TCP address')
  return address
}

async function runMailbox (ctx: BenchContext): Promise<RowInput[]> {
  const address = await remoteRelay(ctx)
  // mailbox.deposit: a device node here deposits 1 KiB envelopes on the relay in its own process, with
  // DEPOSIT_WINDOW in flight; each resolves only when the relay says the envelope is durable
  // (SQLCipher, synchronous=FULL).
  const depositor = await createDeviceNode({ listen: ['/ip4/127.0.0.1/tcp/0'], relays: [], logger: silentLogger })
  ctx.defer(async () => { await depositor.stop() })
  const boxes = Array.from({ length: 16 }, () => new Uint8Array(randomBytes(32)))
  const envelope = new Uint8Array(randomBytes(1024))
  for (let i = 0; i < 50; i++) await depositor.deposit(address, boxes[i % 16] as Uint8Array, envelope)
  const deposits = ctx.n(5000, 1500)
  let next = 0
  const t0 = nowMs()
  await Promise.all(Array.from({ length: DEPOSIT_WINDOW }, async () => {
    while (next < deposits && !ctx.signal.aborted) {
      const i = next++
      await depositor.deposit(address, boxes[i % 16] as Uint8Array, envelope)
    }
  }))
  const depositRate = deposits / ((nowMs() - t0) / 1000)
  return [{ ...MAILBOX_ROWS[0], value: depositRate, note: `${deposits} deposits of 1 KiB, ${DEPOSIT_WINDOW} in flight, from one device node to a relay in another process` }]
}

/** Seals n texts from alice to an offline bob, deposits them in his mailbox, then times bob's host from its
 * start until all n are in his store (the receipts go back too). Bob runs in this process, the relay in its
 * own; alice is stopped before the clock starts. */
async function drainOnce (ctx: BenchContext, address: string, n: number, tag: string): Promise<{ rate: number, note: string }> {
  const depositor = await createDeviceNode({ listen: ['/ip4/127.0.0.1/tcp/0'], relays: [], logger: silentLogger })
  ctx.defer(async () => { await depositor.stop() })
  const alice = await person(teardown(ctx), `alice${tag}`, { relays: [address] })
  const bob = await person(teardown(ctx), `bob${tag}`, { relays: [address] })
  const { aToB, bToA } = await introduce(alice, bob)
  const ready = stateWaiter(alice, 'delivered')
  await ready((await alice.m().send(aToB, 'hello')).id)
  await bob.stop()
  await alice.stop()
  const device = await Device.open(alice.dir, { logger: silentLogger })
  const contact = device.contact(aToB)
  if (contact === undefined) throw new Error('alice lost her contact')
  const sealed: Uint8Array[] = []
  for (let i = 0; i < n && !ctx.signal.aborted; i++) sealed.push(await device.seal(aToB, textPayload(i + 2, TEXT)))
  device.close()
  let next = 0
  await Promise.all(Array.from({ length: DEPOSIT_WINDOW }, async () => {
    while (next < sealed.length && !ctx.signal.aborted) {
      const e = sealed[next++] as Uint8Array
      await depositor.deposit(address, contact.theirMailboxId, e)
    }
  }))
  await depositor.stop()
  ctx.progress(`  ${sealed.length} envelopes waiting for bob`)
  const t1 = nowMs()
  await bob.start()
  // Counted in bob's store (the events of the first envelopes may fire before a subscriber is attached):
  // every incoming message is unread, and 'hello' was the one before these (a page of messages() holds
  // at most 1,000, so it cannot count 10,000).
  const deadline = Date.now() + ctx.n(300_000, 60_000)
  for (;;) {
    const have = ((await bob.m().contacts()).find((c) => c.id === bToA)?.unread ?? 1) - 1
    if (have >= n) break
    if (Date.now() > deadline || ctx.signal.aborted) {
      const s = (nowMs() - t1) / 1000
      return { rate: have / s, note: `INCOMPLETE: ${have} of ${n} waiting envelopes arrived in ${s.toFixed(0)} s; rate over that time` }
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const rate = n / ((nowMs() - t1) / 1000)
  await bob.stop()
  return { rate, note: `${n} waiting envelopes, from bob's host start until all are in his store; relay in another process` }
}

/** The small backlog the issue compares with: a drain must not slow down as the backlog grows. */
const SMALL_BACKLOG = 300

async function runDrain (ctx: BenchContext): Promise<RowInput[]> {
  const address = await remoteRelay(ctx)
  const small = await drainOnce(ctx, address, SMALL_BACKLOG, 's')
  ctx.record('drain.small', small.rate)
  const n = ctx.n(10_000, 1500)
  const large = await drainOnce(ctx, address, n, 'l')
  const quick = n !== 10_000 ? ` (--quick: ${n.toLocaleString('en-US')} instead of 10,000)` : ''
  return [
    { ...DRAIN_ROWS[0], value: small.rate, note: small.note },
    { ...DRAIN_ROWS[1], value: large.rate, note: large.note + quick },
    { ...DRAIN_ROWS[2], value: large.rate, note: `the large backlog's rate against the ${SMALL_BACKLOG} backlog's${quick}` }
  ]
}

const DURABLE_FLOOR = 'lean raw libsignal + one commit per encrypt and per decrypt (a drained message is one decrypt, its receipt one encrypt)'
const MAILBOX_ROWS = [
  { name: 'mailbox.deposit', unit: 'env/s', better: 'higher', baseline: 'raw SQLCipher insert, one commit per row', baselineKey: 'sqlite.insert.per_commit', goal: { text: '>= 10,000/s', on: 'value', op: '>=', target: 10_000 }, floor: 'raw SQLCipher inserts of the same rows, 100 per commit (the relay store alone, grouped)', floorKey: 'sqlite.insert.batched' }
] as const
const DRAIN_ROWS = [
  { name: 'mailbox.drain.300', unit: 'msg/s', better: 'higher', baseline: null, goal: null, floor: DURABLE_FLOOR, floorKey: 'libsignal.durable' },
  { name: 'mailbox.drain.10000', unit: 'msg/s', better: 'higher', baseline: null, goal: { text: '>= 2,000 msg/s', on: 'value', op: '>=', target: 2000 }, floor: DURABLE_FLOOR, floorKey: 'libsignal.durable' },
  { name: 'mailbox.drain.10000.vs_300', unit: 'msg/s', better: 'higher', baseline: `drain at a ${SMALL_BACKLOG} backlog`, baselineKey: 'drain.small', goal: { text: 'ratio >= 0.8', on: 'ratio', op: '>=', target: 0.8 } }
] as const

export const mailboxDeposit: Benchmark = { name: 'mailbox.deposit', timeoutMs: 120_000, quickTimeoutMs: 40_000, rows: MAILBOX_ROWS, run: runMailbox }
export const mailboxDrain: Benchmark = { name: 'mailbox.drain', timeoutMs: 600_000, quickTimeoutMs: 120_000, rows: DRAIN_ROWS, run: runDrain }
