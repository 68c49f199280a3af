// Chaos run (issue 6): relays and devices in separate processes on loopback, contacts among them,
// messages between random pairs while relays are SIGKILLed and restarted and devices go offline
// (SIGKILL or clean stop) and come back. At the end every message must be delivered exactly once, in
// each sender's order, and marked delivered at its sender. Prints one summary line:
//   chaos: sent N, delivered N, duplicates 0, out-of-order 0, lost 0
// and exits non-zero when any figure is off.
// Usage: npm run chaos [-- --ci] [--seed N] [--messages N] [--devices N] [--relays N] [--tolerate-unhandled]
import { createServer } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnChild, type Child, type ChildEvent } from '../helpers/procs.ts'

export interface ChaosOptions {
  readonly relays: number
  readonly devices: number
  /** Messages to send in all. */
  readonly messages: number
  /** Send rate (messages per second), so the faults land while traffic flows. */
  readonly rate: number
  /** Extra contacts per device beyond the ring. */
  readonly extraEdges: number
  readonly seed: number
  /** Bound on the wait for everything to be delivered after the last send. */
  readonly settleMs: number
  /** Mean pause between two faults. */
  readonly faultEveryMs: number
  readonly log: (line: string) => void
  /** Diagnosis: devices report unhandled rejections instead of dying (each still fails the run). */
  readonly tolerateUnhandled?: boolean
}

export const FULL: Omit<ChaosOptions, 'seed' | 'log'> = { relays: 3, devices: 10, messages: 3000, rate: 12, extraEdges: 1, settleMs: 180_000, faultEveryMs: 2500 }
export const CI: Omit<ChaosOptions, 'seed' | 'log'> = { relays: 3, devices: 10, messages: 600, rate: 10, extraEdges: 1, settleMs: 75_000, faultEveryMs: 2500 }

export interface ChaosResult {
  readonly sent: number
  readonly delivered: number
  readonly duplicates: number
  readonly outOfOrder: number
  readonly lost: number
  /** Sent messages that arrived but are not marked delivered (or read) at their sender. */
  readonly notAcknowledged: number
  readonly faults: { relayKills: number, deviceKills: number, deviceStops: number }
  readonly paths: Record<string, number>
  /** Arrival order inversions (a later message shown before an earlier one arrived): informational. */
  readonly arrivalInversions: number
  /** Devices that exited without being told to: each is a failure. */
  readonly crashes: number
  /** Unhandled rejections reported under tolerateUnhandled: each is a failure. */
  readonly unhandled: number
  readonly ms: number
}

export function summaryLine (r: ChaosResult): string {
  return `chaos: sent ${r.sent}, delivered ${r.delivered}, duplicates ${r.duplicates}, out-of-order ${r.outOfOrder}, lost ${r.lost}`
}

export function resultOk (r: ChaosResult): boolean {
  return r.sent > 0 && r.delivered === r.sent && r.duplicates === 0 && r.outOfOrder === 0 && r.lost === 0 && r.notAcknowledged === 0 && r.crashes === 0 && r.unhandled === 0
}

/** mulberry32: a small seeded PRNG so a run's choices can be replayed with --seed. */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => { resolve(port) })
    })
  })
}

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

interface Sent { from: number, to: number, id: string, seq: number, order: number }
interface DeviceSlot {
  readonly index: number
  readonly dir: string
  child: Child
  up: boolean
  draining: boolean
  inFlight: number
  accountId: string
  /** Contact id (in this device's store) of each other device it knows. */
  readonly contactOf: Map<number, string>
  /** 'message' events of every incarnation of this device. */
  readonly events: ChildEvent[]
  readonly incarnations: Child[]
}
interface RelaySlot { readonly index: number, readonly dir: string, readonly port: number, child: Child, up: boolean, peerId: string }

const RELAY_SCRIPT = 'test/chaos/fixtures/relay-proc.ts'
const DEVICE_SCRIPT = 'test/chaos/fixtures/device-proc.ts'
/** Sends awaiting their answer at once, across all pairs. */
const MAX_CONCURRENT_SENDS = 16
/** Start of one process, generous for a loaded 2-core box. */
const START_MS = 60_000

export async function runChaos (o: ChaosOptions): Promise<ChaosResult> {
  const started = Date.now()
  const rand = prng(o.seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T
  const root = mkdtempSync(join(tmpdir(), '0m1-chaos-'))
  const relays: RelaySlot[] = []
  const devices: DeviceSlot[] = []
  const faults = { relayKills: 0, deviceKills: 0, deviceStops: 0 }
  let crashes = 0
  let unhandled = 0
  /** Devices that crashed and await a restart (the run restarts them, as their user would). */
  const crashed: DeviceSlot[] = []
  let finishing = false
  const log = o.log
  try {
    // ---- relays on fixed ports, so a restarted relay is found at its old address ----------------
    for (let i = 0; i < o.relays; i++) {
      const port = await freePort()
      const dir = join(root, `relay${i}`)
      const child = spawnChild(RELAY_SCRIPT, { name: `relay${i}`, args: [dir, `/ip4/127.0.0.1/tcp/${port}`] })
      relays.push({ index: i, dir, port, child, up: true, peerId: '' })
    }
    for (const r of relays) r.peerId = String((await r.child.waitEvent((e) => e.event === 'ready', START_MS)).peerId)
    const relayAddrs = relays.map((r) => `/ip4/127.0.0.1/tcp/${r.port}/p2p/${r.peerId}`)
    const startRelay = (r: RelaySlot): void => {
      r.child = spawnChild(RELAY_SCRIPT, { name: `relay${r.index}`, args: [r.dir, `/ip4/127.0.0.1/tcp/${r.port}`] })
    }

    // ---- devices ------------------------------------------------------------------------------------
    const spawnDevice = (d: { index: number, dir: string }): Child =>
      spawnChild(DEVICE_SCRIPT, {
        name: `device${d.index}`,
        args: [d.dir, JSON.stringify({ name: `device${d.index}`, relays: relayAddrs })],
        ...(o.tolerateUnhandled === true ? { env: { CHAOS_TOLERATE_UNHANDLED: '1' } } : {})
      })
    for (let i = 0; i < o.devices; i++) {
      const dir = join(root, `device${i}`)
      const child = spawnDevice({ index: i, dir })
      devices.push({ index: i, dir, child, up: true, draining: false, inFlight: 0, accountId: '', contactOf: new Map(), events: [], incarnations: [child] })
    }
    const track = (d: DeviceSlot): void => {
      const c = d.child
      const seen = new Set<ChildEvent>()
      // Copy this incarnation's message events as they come (the Child keeps its own list too).
      const timer = setInterval(() => {
        for (const e of c.events) if (!seen.has(e)) { seen.add(e); if (e.event === 'message') d.events.push(e); if (e.event === 'unhandled') { if (unhandled++ === 0) log(`chaos: device${d.index} unhandled rejection (first of possibly many): ${String(e.error)}`) } }
      }, 100)
      void c.exited.then((x) => {
        if (d.child === c && d.up && !d.draining && !finishing) {
          crashes++
          d.up = false
          crashed.push(d)
          log(`chaos: device${d.index} exited on its own (code ${String(x.code)}, signal ${String(x.signal)}); stderr tail:\n${c.stderr().slice(-3000)}`)
        }
        clearInterval(timer)
        for (const e of c.events) if (!seen.has(e)) { seen.add(e); if (e.event === 'message') d.events.push(e) }
      })
    }
    for (const d of devices) {
      d.accountId = String((await d.child.waitEvent((e) => e.event === 'ready', START_MS)).accountId)
      track(d)
    }
    log(`chaos: ${o.relays} relays and ${o.devices} devices up in ${Date.now() - started} ms (seed ${o.seed})`)

    const pair = async (a: number, b: number): Promise<void> => {
      const A = devices[a] as DeviceSlot
      const B = devices[b] as DeviceSlot
      const link = (await A.child.request<{ link: string }>('invite')).link
      const c = await B.child.request<{ id: string }>('accept', { link, name: `device${a}` })
      B.contactOf.set(a, c.id)
      const deadline = Date.now() + START_MS
      for (;;) {
        const found = (await A.child.request<Array<{ id: string, accountId: string }>>('contacts')).find((x) => x.accountId === B.accountId)
        if (found !== undefined) { A.contactOf.set(b, found.id); return }
        if (Date.now() > deadline) throw new Error(`device${a} never learned of device${b}`)
        await sleep(200)
      }
    }
    // ---- contacts: a ring plus random chords ----------------------------------------------------------
    const edges: Array<[number, number]> = []
    const has = (a: number, b: number): boolean => edges.some(([x, y]) => (x === a && y === b) || (x === b && y === a))
    for (let i = 0; i < o.devices; i++) edges.push([i, (i + 1) % o.devices])
    for (let i = 0; i < o.devices * o.extraEdges; i++) {
      const a = Math.floor(rand() * o.devices)
      const b = Math.floor(rand() * o.devices)
      if (a !== b && !has(a, b)) edges.push([a, b])
    }
    // Pairs are made concurrently, but each device takes part in one pairing at a time.
    const busy = new Set<number>()
    const pending = [...edges]
    const pairings = new Set<Promise<void>>()
    while (pending.length > 0 || pairings.size > 0) {
      const i = pending.findIndex(([a, b]) => !busy.has(a) && !busy.has(b))
      if (i < 0) { await Promise.race(pairings); continue }
      const [a, b] = pending.splice(i, 1)[0] as [number, number]
      busy.add(a); busy.add(b)
      const p = pair(a, b).finally(() => { busy.delete(a); busy.delete(b); pairings.delete(p) })
      pairings.add(p)
    }
    log(`chaos: ${edges.length} contact pairs made in ${Date.now() - started} ms`)

    // ---- faults, while the traffic flows ----------------------------------------------------------------
    let sending = true
    const restarts: Array<Promise<void>> = []
    const restartDevice = async (d: DeviceSlot, afterMs: number): Promise<void> => {
      await sleep(afterMs)
      d.child = spawnDevice(d)
      d.incarnations.push(d.child)
      track(d)
      await d.child.waitEvent((e) => e.event === 'ready', START_MS)
      d.up = true
      d.draining = false
    }
    const restartRelay = async (r: RelaySlot, afterMs: number): Promise<void> => {
      await sleep(afterMs)
      startRelay(r)
      await r.child.waitEvent((e) => e.event === 'ready', START_MS)
      r.up = true
    }
    const restartCrashed = (): void => {
      while (crashed.length > 0) {
        const d = crashed.shift() as DeviceSlot
        d.draining = true
        restarts.push(restartDevice(d, 1000))
      }
    }
    const chaos = (async () => {
      while (sending) {
        await sleep(o.faultEveryMs * (0.5 + rand()))
        restartCrashed()
        if (!sending) break
        if (rand() < 0.4) {
          const candidates = relays.filter((r) => r.up)
          if (candidates.length < o.relays) continue // one relay down at a time
          const r = pick(candidates)
          r.up = false
          await r.child.kill('SIGKILL')
          faults.relayKills++
          restarts.push(restartRelay(r, 1000 + rand() * 5000))
        } else {
          const down = devices.filter((d) => !d.up).length
          if (down >= Math.max(1, Math.floor(o.devices / 4))) continue
          const d = pick(devices.filter((x) => x.up && !x.draining))
          d.draining = true
          // No send in flight: every message the run counts as sent had its send() return.
          while (d.inFlight > 0) await sleep(5)
          d.up = false
          if (rand() < 0.6) { await d.child.kill('SIGKILL'); faults.deviceKills++ } else { await d.child.stop(); faults.deviceStops++ }
          restarts.push(restartDevice(d, 1000 + rand() * 7000))
        }
      }
    })()

    // ---- traffic ---------------------------------------------------------------------------------------
    const sent: Sent[] = []
    const order = new Map<string, number>() // per (from,to): next order index
    let failedSends = 0
    const interval = 1000 / o.rate
    const t0 = Date.now()
    const inflight = new Set<Promise<void>>()
    const chains = new Map<string, Promise<void>>()
    for (let n = 0; n < o.messages; n++) {
      const due = t0 + n * interval
      if (due > Date.now()) await sleep(due - Date.now())
      let edge: [number, number] | undefined
      for (let tries = 0; tries < 50 && edge === undefined; tries++) {
        const [x, y] = pick(edges)
        const [from, to] = rand() < 0.5 ? [x, y] : [y, x]
        const d = devices[from] as DeviceSlot
        if (d.up && !d.draining) edge = [from, to]
      }
      if (edge === undefined) { n--; await sleep(50); continue }
      const [from, to] = edge
      const d = devices[from] as DeviceSlot
      const contactId = d.contactOf.get(to) as string
      const key = `${from}>${to}`
      d.inFlight++
      // Per (sender, contact) the sends are serial, as a person typing: the order in which they return
      // is the sender's order. Different pairs run concurrently.
      const p = (chains.get(key) ?? Promise.resolve()).then(async () => {
        try {
          const m = await d.child.request<{ id: string, seq: number }>('send', { contactId, text: `chaos ${from}>${to} #${n}` })
          const idx = order.get(key) ?? 0
          order.set(key, idx + 1)
          sent.push({ from, to, id: m.id, seq: m.seq, order: idx })
        } catch {
          failedSends++
        } finally {
          d.inFlight--
        }
      })
      chains.set(key, p)
      inflight.add(p)
      void p.finally(() => { inflight.delete(p) })
      while (inflight.size > MAX_CONCURRENT_SENDS) await Promise.race(inflight)
    }
    await Promise.all(inflight)
    sending = false
    await chaos
    restartCrashed()
    await Promise.all(restarts)
    log(`chaos: ${sent.length} messages sent in ${Date.now() - t0} ms (${failedSends} send calls failed and are not counted); faults ${JSON.stringify(faults)}; settling`)

    // ---- settle: everything up, wait until every message is in and acknowledged -----------------------
    const incoming = async (): Promise<Map<string, Map<string, { id: string, seq: number }[]>>> => {
      const out = new Map<string, Map<string, { id: string, seq: number }[]>>()
      for (const d of devices) {
        const per = new Map<string, { id: string, seq: number }[]>()
        for (const [other, cid] of d.contactOf) {
          const list = await d.child.request<Array<{ id: string, seq: number, direction: string }>>('messages', { contactId: cid, limit: 1000 }).catch(() => [])
          per.set(String(other), list.filter((m) => m.direction === 'in').map((m) => ({ id: m.id, seq: m.seq })))
        }
        out.set(String(d.index), per)
      }
      return out
    }
    const outgoingStates = async (): Promise<Map<string, { state: string, path?: string }>> => {
      const out = new Map<string, { state: string, path?: string }>()
      for (const d of devices) {
        for (const [, cid] of d.contactOf) {
          const list = await d.child.request<Array<{ id: string, state: string, direction: string, path?: string }>>('messages', { contactId: cid, limit: 1000 }).catch(() => [])
          for (const m of list) if (m.direction === 'out') out.set(`${d.index}:${m.id}`, { state: m.state, ...(m.path !== undefined ? { path: m.path } : {}) })
        }
      }
      return out
    }
    const settleDeadline = Date.now() + o.settleMs
    let inbox = await incoming()
    let states = await outgoingStates()
    const arrived = (s: Sent): boolean => (inbox.get(String(s.to))?.get(String(s.from)) ?? []).some((m) => m.id === s.id)
    const acked = (s: Sent): boolean => ['delivered', 'read'].includes(states.get(`${s.from}:${s.id}`)?.state ?? '')
    while (Date.now() < settleDeadline && !sent.every((s) => arrived(s) && acked(s))) {
      await sleep(2000)
      restartCrashed()
      await Promise.all(restarts)
      inbox = await incoming()
      states = await outgoingStates()
    }

    // Final reading with every device up (one may have crashed during the last poll).
    restartCrashed()
    await Promise.all(restarts)
    inbox = await incoming()
    states = await outgoingStates()

    // ---- figures -------------------------------------------------------------------------------------
    let delivered = 0
    let notAcknowledged = 0
    for (const s of sent) {
      if (arrived(s)) delivered++
      if (arrived(s) && !acked(s)) notAcknowledged++
    }
    // Duplicates: a message shown twice (two 'message' events at its receiver, over all of the
    // receiver's incarnations) or stored twice.
    let duplicates = 0
    for (const d of devices) {
      const counts = new Map<string, number>()
      for (const e of d.events) if (e.direction === 'in') counts.set(String(e.id), (counts.get(String(e.id)) ?? 0) + 1)
      for (const n of counts.values()) if (n > 1) duplicates += n - 1
      for (const list of inbox.get(String(d.index))?.values() ?? []) duplicates += list.length - new Set(list.map((m) => m.id)).size
    }
    // Out of order: in each conversation as the receiver displays it, each sender's messages must keep
    // the order in which its send() calls returned, with the sender's sequence numbers.
    let outOfOrder = 0
    const byId = new Map(sent.map((s) => [`${s.from}>${s.to}:${s.id}`, s]))
    for (const d of devices) {
      for (const [other, list] of inbox.get(String(d.index)) ?? []) {
        let last = -1
        for (const m of list) {
          const s = byId.get(`${other}>${d.index}:${m.id}`)
          if (s === undefined) continue
          if (s.order < last || s.seq !== m.seq) outOfOrder++
          last = Math.max(last, s.order)
        }
      }
    }
    let arrivalInversions = 0
    for (const d of devices) {
      const lastSeq = new Map<string, number>()
      for (const e of d.events) {
        if (e.direction !== 'in') continue
        const c = String(e.contactId)
        if (Number(e.seq) < (lastSeq.get(c) ?? 0)) arrivalInversions++
        lastSeq.set(c, Math.max(lastSeq.get(c) ?? 0, Number(e.seq)))
      }
    }
    const paths: Record<string, number> = {}
    for (const s of sent) {
      const p = states.get(`${s.from}:${s.id}`)?.path ?? 'unknown'
      paths[p] = (paths[p] ?? 0) + 1
    }
    return { sent: sent.length, delivered, duplicates, outOfOrder, lost: sent.length - delivered, notAcknowledged, faults, paths, arrivalInversions, crashes, unhandled, ms: Date.now() - started }
  } finally {
    finishing = true
    await Promise.all([
      ...devices.map(async (d) => { await d.child.stop().catch(() => {}) }),
      ...relays.map(async (r) => { await r.child.stop().catch(() => {}) })
    ])
    for (const d of devices) for (const c of d.incarnations) await c.kill().catch(() => {})
    rmSync(root, { recursive: true, force: true })
  }
}

function parseArgs (argv: readonly string[]): ChaosOptions {
  const ci = argv.includes('--ci')
  const num = (name: string): number | undefined => {
    const i = argv.indexOf(name)
    return i >= 0 ? Number(argv[i + 1]) : undefined
  }
  const base = ci ? CI : FULL
  return {
    ...base,
    messages: num('--messages') ?? base.messages,
    devices: num('--devices') ?? base.devices,
    relays: num('--relays') ?? base.relays,
    seed: num('--seed') ?? (Date.now() % 1_000_000),
    tolerateUnhandled: argv.includes('--tolerate-unhandled'),
    log: (line) => { console.error(line) }
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const o = parseArgs(process.argv.slice(2))
  runChaos(o).then((r) => {
    console.error(`chaos: ${r.ms} ms; faults ${JSON.stringify(r.faults)}; paths ${JSON.stringify(r.paths)}; not acknowledged at sender ${r.notAcknowledged}; device crashes ${r.crashes}; unhandled rejections ${r.unhandled}; arrival-order inversions (shown in order anyway) ${r.arrivalInversions}`)
    console.log(summaryLine(r))
    process.exit(resultOk(r) ? 0 : 1)
  }, (err: unknown) => {
    console.error(`chaos: the run itself failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`)
    process.exit(2)
  })
}
