// relay.memory: a relay in a child process; N device nodes in this process each hold a circuit-relay
// reservation on it; the relay's settled RSS after minus before, divided by N (heap delta in the note).
// device.idle_rss: a device host with 20 contacts, idle in a child process, settled RSS.
import { join } from 'node:path'
import { Device } from '../../src/e2ee/device.ts'
import { createDeviceNode, type DeviceNode } from '../../src/net/node.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import type { Benchmark, BenchContext, RowInput } from '../harness.ts'
import { startChild } from '../lib/child.ts'

const KB = 1024
const MB = 1024 * 1024
const CONTACTS = 20
/** Device nodes started at once: each makes a Noise handshake and a reservation with the one relay. */
const START_BATCH = 10

async function runRelayMemory (ctx: BenchContext): Promise<RowInput[]> {
  const relay = startChild(ctx, 'relay.ts', [ctx.tmpDir('relay-mem')])
  const { addresses } = await relay.next<{ addresses: string[] }>('ready', 30_000)
  const address = addresses.find((a) => a.includes('/tcp/') && !a.includes('/ws'))
  if (address === undefined) throw new Error('relay has no TCP address')
  relay.send({ type: 'measure' })
  const before = await relay.next<{ rss: number, heapUsed: number }>('memory')
  const n = ctx.n(1000, 100)
  const nodes: DeviceNode[] = []
  ctx.defer(async () => { await Promise.allSettled(nodes.map(async (d) => { await d.stop() })) })
  for (let i = 0; i < n && !ctx.signal.aborted; i += START_BATCH) {
    nodes.push(...await Promise.all(Array.from({ length: Math.min(START_BATCH, n - i) }, async () =>
      await createDeviceNode({ listen: ['/ip4/127.0.0.1/tcp/0'], relays: [address], logger: silentLogger }))))
  }
  const deadline = Date.now() + ctx.n(120_000, 30_000)
  const reserved = (): number => nodes.filter((d) => d.addresses().some((a) => a.includes('/p2p-circuit'))).length
  while (reserved() < nodes.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 500))
  const withReservation = reserved()
  relay.send({ type: 'measure' })
  const after = await relay.next<{ rss: number, heapUsed: number, connections: number }>('memory')
  relay.send({ type: 'exit' })
  if (withReservation === 0) throw new Error('no device got a reservation')
  const perDevice = (after.rss - before.rss) / withReservation / KB
  const heapPer = (after.heapUsed - before.heapUsed) / withReservation / KB
  return [{
    ...RELAY_ROWS[0],
    value: perDevice,
    note: `RSS delta of the relay process / ${withReservation} devices with a reservation (of ${n}); heap delta ${heapPer.toFixed(0)} KB per device; relay RSS ${(before.rss / MB).toFixed(0)} -> ${(after.rss / MB).toFixed(0)} MB, ${after.connections} connections`
  }]
}

const RELAY_ROWS = [
  { name: 'relay.memory', unit: 'KB/device', better: 'lower', baseline: null, goal: { text: '<= 200 KB', on: 'value', op: '<=', target: 200 } }
] as const

export const relayMemory: Benchmark = { name: 'relay.memory', timeoutMs: 300_000, quickTimeoutMs: 45_000, rows: RELAY_ROWS, run: runRelayMemory }

async function runIdle (ctx: BenchContext): Promise<RowInput[]> {
  const dir = ctx.tmpDir('idle')
  const me = await Device.create(join(dir, 'me'), { name: 'me', logger: silentLogger })
  try {
    for (let i = 0; i < CONTACTS; i++) {
      const other = await Device.create(join(dir, `c${i}`), { name: `c${i}`, logger: silentLogger })
      const invite = await other.createInvite({ relays: [], addresses: [] })
      const { envelope } = await me.acceptInvite(invite.link, { card: { relays: [], addresses: [] } })
      await other.openEnvelope(envelope)
      other.close()
    }
  } finally {
    me.close()
  }
  const child = startChild(ctx, 'device.ts', [join(dir, 'me')])
  const { contacts } = await child.next<{ contacts: number }>('ready', 30_000)
  // Idle: let start-up work (reservations, presence, timers) finish before measuring.
  await new Promise((resolve) => setTimeout(resolve, ctx.n(5000, 3000)))
  child.send({ type: 'measure' })
  const m = await child.next<{ rss: number, heapUsed: number }>('memory')
  child.send({ type: 'exit' })
  return [{ ...IDLE_ROWS[0], value: m.rss / MB, note: `createDeviceHost with ${contacts} contacts, no relay, idle; heap ${(m.heapUsed / MB).toFixed(0)} MB; tsx+shims alone: see baseline.node_tsx.rss` }]
}

const IDLE_ROWS = [
  { name: 'device.idle_rss', unit: 'MB', better: 'lower', baseline: 'bare Node process', baselineKey: 'node.bare.rss', goal: { text: '<= 150 MB', on: 'value', op: '<=', target: 150 } }
] as const

export const deviceIdle: Benchmark = { name: 'device.idle_rss', timeoutMs: 120_000, quickTimeoutMs: 40_000, rows: IDLE_ROWS, run: runIdle }
