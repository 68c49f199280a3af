// Messenger figures on real device hosts (createDeviceHost: SQLCipher, libsignal, libp2p) and real relays,
// all on 127.0.0.1 in this process: direct and relayed send-to-delivered-receipt latency, direct throughput,
// first message after accepting an invite, and draining a mailbox on reconnect.
import { randomBytes } from 'node:crypto'
import { Device } from '../../src/e2ee/device.ts'
import { createDeviceNode } from '../../src/net/node.ts'
import { startRelay, type RelayHandle } from '../../src/relay/service.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import type { MessengerEvent } from '../../src/messenger/types.ts'
import { introduce, person, type Person } from '../../test/helpers/testnet.ts'
import type { Benchmark, BenchContext, RowInput } from '../harness.ts'
import { latencyStats, nowMs } from '../harness.ts'
import { TEXT, WINDOW } from '../baselines/centralized.ts'
import { textPayload } from '../lib/devices.ts'

/** Relay limits for benchmarks: the per-connection deposit rate limit (600/min) would measure the limiter. */
const BENCH_RELAY_LIMITS = { depositsPerMinutePerConnection: 1_000_000, maxMailboxCount: 100_000, maxMailboxBytes: 1024 * 1024 * 1024 }
const STATE_TIMEOUT_MS = 30_000
/** Deposits in flight from one node. At 24 and 64 in flight the relay reset streams here (its limit is
 * MAILBOX_MAX_INBOUND_STREAMS = 32 per connection, counted before closed streams are released); 8 never did.
 */
const DEPOSIT_WINDOW = 8

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

async function sendAndWait (p: Person, contactId: string, delivered: (id: string) => Promise<{ path?: string }>): Promise<{ ms: number, path?: string }> {
  const t0 = nowMs()
  const m = await p.m().send(contactId, TEXT)
  const r = await delivered(m.id)
  return { ms: nowMs() - t0, ...(r.path !== undefined ? { path: r.path } : {}) }
}

function pathsNote (paths: Array<string | undefined>): string {
  const counts = new Map<string, number>()
  for (const p of paths) counts.set(p ?? '?', (counts.get(p ?? '?') ?? 0) + 1)
  return [...counts].map(([k, v]) => `${v} ${k}`).join(', ')
}

async function runDirect (ctx: BenchContext): Promise<RowInput[]> {
  const r = await relay(ctx)
  const alice = await person(teardown(ctx), 'alice', { relays: [r.address] })
  const bob = await person(teardown(ctx), 'bob', { relays: [r.address] })
  const { aToB } = await introduce(alice, bob)
  const delivered = stateWaiter(alice, 'delivered')
  for (let i = 0; i < 20; i++) await sendAndWait(alice, aToB, delivered)

  const count = ctx.n(500, 150)
  const samples: number[] = []
  const paths: Array<string | undefined> = []
  for (let i = 0; i < count && !ctx.signal.aborted; i++) {
    const s = await sendAndWait(alice, aToB, delivered)
    samples.push(s.ms)
    paths.push(s.path)
  }
  const lat = latencyStats(samples)

  const total = ctx.n(3000, 600)
  const t0 = nowMs()
  let next = 0
  const tputPaths: Array<string | undefined> = []
  const worker = async (): Promise<void> => {
    while (next < total && !ctx.signal.aborted) {
      next++
      const m = await alice.m().send(aToB, TEXT)
      tputPaths.push((await delivered(m.id)).path)
    }
  }
  await Promise.all(Array.from({ length: WINDOW }, worker))
  const rate = tputPaths.length / ((nowMs() - t0) / 1000)
  ctx.record('direct.latency.p50', lat.p50)
  ctx.record('direct.throughput', rate)
  return [
    { ...DIRECT_ROWS[0], value: rate, note: `${tputPaths.length} messages, ${WINDOW} in flight (paths: ${pathsNote(tputPaths)}); centralized baseline on the same work: see baseline.centralized.throughput` },
    { ...DIRECT_ROWS[1], value: lat.p50, note: `${samples.length} messages one at a time (paths: ${pathsNote(paths)})` },
    { ...DIRECT_ROWS[2], value: lat.p99 },
    { ...DIRECT_ROWS[3], value: lat.p50 }
  ]
}

const DIRECT_ROWS = [
  { name: 'direct.throughput', unit: 'msg/s', better: 'higher', baseline: 'raw libsignal one-direction burst', baselineKey: 'libsignal.burst', goal: { text: '>= 2,000 msg/s', on: 'value', op: '>=', target: 2000 } },
  { name: 'direct.latency.p50', unit: 'ms', better: 'lower', baseline: 'centralized p50', baselineKey: 'central.latency.p50', goal: { text: 'p50 <= centralized p50', on: 'ratio', op: '<=', target: 1 } },
  { name: 'direct.latency.p99', unit: 'ms', better: 'lower', baseline: 'centralized p99', baselineKey: 'central.latency.p99', goal: null },
  { name: 'direct.latency.p50.vs_stream', unit: 'ms', better: 'lower', baseline: 'raw libp2p stream RTT p50', baselineKey: 'libp2p.rtt.p50', goal: null }
] as const

export const direct: Benchmark = { name: 'direct', timeoutMs: 240_000, quickTimeoutMs: 45_000, rows: DIRECT_ROWS, run: runDirect }

async function runRelayed (ctx: BenchContext): Promise<RowInput[]> {
  const r = await relay(ctx)
  const alice = await person(teardown(ctx), 'alice', { relays: [r.address], relayOnly: true })
  const bob = await person(teardown(ctx), 'bob', { relays: [r.address], relayOnly: true })
  const { aToB } = await introduce(alice, bob)
  const delivered = stateWaiter(alice, 'delivered')
  for (let i = 0; i < 10; i++) await sendAndWait(alice, aToB, delivered)
  const samples: number[] = []
  const paths: Array<string | undefined> = []
  const count = ctx.n(300, 80)
  for (let i = 0; i < count && !ctx.signal.aborted; i++) {
    const s = await sendAndWait(alice, aToB, delivered)
    samples.push(s.ms)
    paths.push(s.path)
  }
  const lat = latencyStats(samples)
  return [{ ...RELAYED_ROWS[0], value: lat.p50, note: `relayOnly devices, one relay; ${samples.length} messages (paths: ${pathsNote(paths)}); p99 ${lat.p99.toFixed(1)} ms` }]
}

const RELAYED_ROWS = [
  { name: 'relayed.latency.p50', unit: 'ms', better: 'lower', baseline: 'centralized p50', baselineKey: 'central.latency.p50', goal: { text: '<= 1.5 x centralized', on: 'ratio', op: '<=', target: 1.5 } }
] as const

export const relayed: Benchmark = { name: 'relayed', timeoutMs: 120_000, quickTimeoutMs: 35_000, rows: RELAYED_ROWS, run: runRelayed }

async function runFirstMessage (ctx: BenchContext): Promise<RowInput[]> {
  const r = await relay(ctx)
  const rounds = ctx.n(5, 2)
  const samples: number[] = []
  for (let i = 0; i < rounds && !ctx.signal.aborted; i++) {
    const alice = await person(teardown(ctx), `alice${i}`, { relays: [r.address] })
    const bob = await person(teardown(ctx), `bob${i}`, { relays: [r.address] })
    const invite = await alice.m().createInvite()
    const delivered = stateWaiter(bob, 'delivered')
    const t0 = nowMs()
    const contact = await bob.m().acceptInvite(invite.link, { name: 'alice' })
    const m = await bob.m().send(contact.id, TEXT)
    await delivered(m.id)
    samples.push(nowMs() - t0)
    await alice.stop()
    await bob.stop()
  }
  const s = latencyStats(samples)
  return [{ ...FIRST_ROWS[0], value: s.p50, note: `median of ${samples.length}: acceptInvite, send, until the accepter sees the delivered receipt (max ${Math.max(...samples).toFixed(0)} ms)` }]
}

const FIRST_ROWS = [
  { name: 'first.message', unit: 'ms', better: 'lower', baseline: null, goal: { text: '<= 500 ms', on: 'value', op: '<=', target: 500 } }
] as const

export const firstMessage: Benchmark = { name: 'first.message', timeoutMs: 120_000, quickTimeoutMs: 30_000, rows: FIRST_ROWS, run: runFirstMessage }

async function runMailbox (ctx: BenchContext): Promise<RowInput[]> {
  const r = await relay(ctx)
  // mailbox.deposit: a device node deposits padded envelopes with WINDOW in flight; each resolves only when
  // the relay says the envelope is durable (one SQLCipher transaction, synchronous=FULL, per deposit).
  const depositor = await createDeviceNode({ listen: ['/ip4/127.0.0.1/tcp/0'], relays: [], logger: silentLogger })
  ctx.defer(async () => { await depositor.stop() })
  const boxes = Array.from({ length: 16 }, () => new Uint8Array(randomBytes(32)))
  const envelope = new Uint8Array(randomBytes(1024))
  for (let i = 0; i < 50; i++) await depositor.deposit(r.address, boxes[i % 16] as Uint8Array, envelope)
  const deposits = ctx.n(5000, 1500)
  let next = 0
  const t0 = nowMs()
  await Promise.all(Array.from({ length: DEPOSIT_WINDOW }, async () => {
    while (next < deposits && !ctx.signal.aborted) {
      const i = next++
      await depositor.deposit(r.address, boxes[i % 16] as Uint8Array, envelope)
    }
  }))
  const depositRate = deposits / ((nowMs() - t0) / 1000)
  return [{ ...MAILBOX_ROWS[0], value: depositRate, note: `${deposits} deposits of 1 KiB, ${DEPOSIT_WINDOW} in flight, one device node to one relay` }]
}

async function runDrain (ctx: BenchContext): Promise<RowInput[]> {
  const r = await relay(ctx)
  const depositor = await createDeviceNode({ listen: ['/ip4/127.0.0.1/tcp/0'], relays: [], logger: silentLogger })
  ctx.defer(async () => { await depositor.stop() })
  // mailbox.drain: bob is offline; alice's Device seals N texts for him and a node deposits them in his
  // mailbox; then bob's host starts and we time until all N are in his store (the receipts go back too).
  const alice = await person(teardown(ctx), 'alice', { relays: [r.address] })
  const bob = await person(teardown(ctx), 'bob', { relays: [r.address] })
  const { aToB, bToA } = await introduce(alice, bob)
  const ready = stateWaiter(alice, 'delivered')
  await ready((await alice.m().send(aToB, 'hello')).id)
  await bob.stop()
  await alice.stop()
  const device = await Device.open(alice.dir, { logger: silentLogger })
  const contact = device.contact(aToB)
  if (contact === undefined) throw new Error('alice lost her contact')
  const n = ctx.n(10_000, 300)
  const sealed: Uint8Array[] = []
  for (let i = 0; i < n && !ctx.signal.aborted; i++) sealed.push(await device.seal(aToB, textPayload(i + 2, TEXT)))
  device.close()
  let next = 0
  await Promise.all(Array.from({ length: DEPOSIT_WINDOW }, async () => {
    while (next < sealed.length && !ctx.signal.aborted) {
      const e = sealed[next++] as Uint8Array
      await depositor.deposit(r.address, contact.theirMailboxId, e)
    }
  }))
  ctx.progress(`  ${sealed.length} envelopes waiting for bob`)
  const t1 = nowMs()
  await bob.start()
  // Counted in bob's store (the events of the first envelopes may fire before a subscriber is attached):
  // every incoming message is unread, and 'hello' was the one before these (a page of messages() holds
  // at most 1,000, so it cannot count 10,000).
  const deadline = Date.now() + ctx.n(240_000, 40_000)
  for (;;) {
    const have = ((await bob.m().contacts()).find((c) => c.id === bToA)?.unread ?? 1) - 1
    if (have >= n) break
    if (Date.now() > deadline || ctx.signal.aborted) {
      const s = (nowMs() - t1) / 1000
      return [{ ...MAILBOX_ROWS[1], value: have / s, note: `INCOMPLETE: ${have} of ${n} waiting envelopes arrived in ${s.toFixed(0)} s; rate over that time` }]
    }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  const drainRate = n / ((nowMs() - t1) / 1000)
  return [{ ...MAILBOX_ROWS[1], value: drainRate, note: `${n} waiting envelopes, from bob's host start until all are in his store` }]
}

const MAILBOX_ROWS = [
  { name: 'mailbox.deposit', unit: 'env/s', better: 'higher', baseline: 'raw SQLCipher insert, one commit per row', baselineKey: 'sqlite.insert.per_commit', goal: { text: '>= 10,000/s', on: 'value', op: '>=', target: 10_000 } },
  { name: 'mailbox.drain', unit: 'msg/s', better: 'higher', baseline: 'direct.throughput', baselineKey: 'direct.throughput', goal: { text: '>= 2,000 msg/s', on: 'value', op: '>=', target: 2000 } }
] as const

export const mailboxDeposit: Benchmark = { name: 'mailbox.deposit', timeoutMs: 120_000, quickTimeoutMs: 30_000, rows: [MAILBOX_ROWS[0]], run: runMailbox }
export const mailboxDrain: Benchmark = { name: 'mailbox.drain', timeoutMs: 420_000, quickTimeoutMs: 70_000, rows: [MAILBOX_ROWS[1]], run: runDrain }
