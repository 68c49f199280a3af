// A messenger device host (createDeviceHost through test/helpers/testnet.ts's person()) alone in this
// process, as a real device is: the direct and relayed figures run two of these, so each end's CPU is its
// own. Times are taken here, around the messenger calls, so the IPC to the bench process is not in them.
// argv: JSON { name, dir, relays, relayOnly? }. Messages (each answered with the same `type`, or `error`):
//   invite -> { link }                      accept { link, name } -> { contactId }
//   contact { name } -> { contactId }       (waits until the contact is known)
//   latency { contactId, warmup, count } -> { samples, paths }
//   throughput { contactId, total, window } -> { count, ms, paths }
//   first { link, name } -> { ms }          (accept an invite, send one text, until its delivered receipt)
//   cpu -> { us, idleMs, activeMs }      (this process's CPU time so far, user + system; its event loop's idle and
//                                            active time so far, performance.eventLoopUtilization())
//   profStart, profStop -> {}                (with BENCH_PHASE_PROF=<dir>: a CPU profile of what runs between them)
//   peerId -> { peerId }                     (this device's libp2p peer id)
//   sendFile { contactId, path } -> { messageId, at }   (at: nowMs() just before files.send)
//   fileDone { messageId, since } -> { ms, path, syncs, syncMs, bgSyncs, bgSyncMs, finalSyncMs } (until the file is delivered here: for an incoming file,
//                                            complete with its hash checked; ms from `since`, another child's `at`)
//   sinkServe -> {}                          (a protocol that reads and discards what rawSend writes)
//   rawSend { peerId, bytes } -> { ms }     (64 KiB length-prefixed writes on a new stream over the open
//                                            direct connection to that peer, until its sink acknowledges all)
//   profileStart -> {}                      (starts a V8 CPU profile of this process: bench/standalone/latency-probe.ts)
//   profileStop { path } -> {}              (writes it as a .cpuprofile to path)
//   exit
// Cross-process times (sendFile's `at`, fileDone's `since`) use nowMs(), process.hrtime: the system's monotonic
// clock, the same in every process on the machine.
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { performance } from 'node:perf_hooks'
import { person, type Person } from '../../test/helpers/testnet.ts'
import { waitFor } from '../../test/helpers/wait.ts'
import type { MessengerEvent } from '../../src/messenger/types.ts'
import type { DeviceNode } from '../../src/net/node.ts'
import { nowMs } from '../harness.ts'
import { fileWaiter, rawSend, serveSink } from '../lib/file-ends.ts'

// The parent gone (a Ctrl-C, a killed benchmark): a child in a session of its own (BENCH_OWN_SESSION=1) gets no
// signal from the terminal, so it ends when its IPC channel closes instead of living on.
process.on('disconnect', () => { process.exit(0) })

const TEXT = 'x'.repeat(100)
const STATE_TIMEOUT_MS = 30_000

interface Options { name: string, dir: string, relays: string[], relayOnly?: boolean }
const o = JSON.parse(process.argv[2] ?? '{}') as Options
const cleanups: Array<() => unknown> = []
const send = (m: unknown): void => { process.send?.(m) }

/** Resolves when an outgoing message is delivered (its receipt came back), from the messenger's events. The time
 * limit is checked by one timer a second, not one timer per message: the harness's own timers would count in the
 * sender's CPU per message, which the centralized baseline's clients do not pay. */
function deliveredWaiter (p: Person): (id: string) => Promise<string | undefined> {
  const waiting = new Map<string, { resolve: (path: string | undefined) => void, reject: (err: Error) => void, until: number }>()
  const reached = new Map<string, string | undefined>()
  p.m().subscribe((e: MessengerEvent) => {
    if (e.type !== 'message-state' || e.message.direction !== 'out') return
    if (e.message.state !== 'delivered' && e.message.state !== 'read') return
    const w = waiting.get(e.message.id)
    if (w !== undefined) { waiting.delete(e.message.id); w.resolve(e.message.path) } else reached.set(e.message.id, e.message.path)
  })
  setInterval(() => {
    const now = nowMs()
    for (const [id, w] of waiting) {
      if (now < w.until) continue
      waiting.delete(id)
      w.reject(new Error(`message not delivered within ${STATE_TIMEOUT_MS} ms`))
    }
  }, 1000).unref()
  return async (id) => {
    if (reached.has(id)) { const path = reached.get(id); reached.delete(id); return path }
    return await new Promise((resolve, reject) => { waiting.set(id, { resolve, reject, until: nowMs() + STATE_TIMEOUT_MS }) })
  }
}

let profStop = async (): Promise<void> => {}

/** BENCH_PHASE_PROF=<dir>: a CPU profile of one phase of a benchmark alone (profStart .. profStop), without the
 * process's start-up, written as <dir>/<name>-<pid>.cpuprofile. */
async function phaseProfile (): Promise<() => Promise<void>> {
  const dir = process.env.BENCH_PHASE_PROF
  if (dir === undefined) return async () => {}
  const { Session } = await import('node:inspector/promises')
  const { mkdirSync, writeFileSync } = await import('node:fs')
  mkdirSync(dir, { recursive: true })
  const s = new Session()
  s.connect()
  await s.post('Profiler.enable')
  await s.post('Profiler.setSamplingInterval', { interval: 250 })
  await s.post('Profiler.start')
  return async () => {
    const { profile } = await s.post('Profiler.stop')
    writeFileSync(`${dir}/${o.name}-${process.pid}.cpuprofile`, JSON.stringify(profile))
    s.disconnect()
  }
}

async function main (): Promise<void> {
  let node: DeviceNode | undefined
  const me = await person({ after: (fn) => { cleanups.push(fn) } }, o.name, { dir: o.dir, relays: o.relays, onNetwork: (n) => { node = n }, ...(o.relayOnly === true ? { relayOnly: true } : {}) })
  const delivered = deliveredWaiter(me)
  const fileDone = fileWaiter(me)
  const network = (): DeviceNode => { if (node === undefined) throw new Error('no network node'); return node }
  const one = async (contactId: string): Promise<{ ms: number, path: string | undefined }> => {
    const t0 = nowMs()
    const m = await me.m().send(contactId, TEXT)
    const path = await delivered(m.id)
    return { ms: nowMs() - t0, path }
  }
  let profiler: Session | undefined
  const handlers: Record<string, (m: Record<string, unknown>) => Promise<Record<string, unknown>>> = {
    invite: async () => ({ link: (await me.m().createInvite()).link }),
    profStart: async () => { profStop = await phaseProfile(); return {} },
    profStop: async () => { await profStop(); return {} },
    cpu: async () => { const u = process.cpuUsage(); const e = performance.eventLoopUtilization(); return { us: u.user + u.system, idleMs: e.idle, activeMs: e.active } },
    accept: async (m) => ({ contactId: (await me.m().acceptInvite(String(m.link), { name: String(m.name) })).id }),
    contact: async (m) => {
      const c = await waitFor(async () => (await me.m().contacts()).find((x) => x.name === m.name), `${o.name} learns ${String(m.name)}`)
      return { contactId: c.id }
    },
    latency: async (m) => {
      const contactId = String(m.contactId)
      for (let i = 0; i < Number(m.warmup); i++) await one(contactId)
      const samples: number[] = []
      const paths: Array<string | undefined> = []
      for (let i = 0; i < Number(m.count); i++) {
        const s = await one(contactId)
        samples.push(s.ms)
        paths.push(s.path)
      }
      return { samples, paths }
    },
    throughput: async (m) => {
      const contactId = String(m.contactId)
      const total = Number(m.total)
      const paths: Array<string | undefined> = []
      let next = 0
      const t0 = nowMs()
      await Promise.all(Array.from({ length: Number(m.window) }, async () => {
        while (next < total) {
          next++
          const sent = await me.m().send(contactId, TEXT)
          paths.push(await delivered(sent.id))
        }
      }))
      return { count: paths.length, ms: nowMs() - t0, paths }
    },
    peerId: async () => ({ peerId: network().peerId }),
    sendFile: async (m) => {
      const files = me.m().files
      if (files === undefined) throw new Error('no file transfers')
      const at = nowMs()
      const sent = await files.send(String(m.contactId), String(m.path))
      return { messageId: sent.message.id, at }
    },
    fileDone: async (m) => {
      const f = await fileDone(String(m.messageId))
      return { ms: f.at - Number(m.since), path: f.path, syncs: f.syncs, syncMs: f.syncMs, bgSyncs: f.bgSyncs, bgSyncMs: f.bgSyncMs, finalSyncMs: f.finalSyncMs }
    },
    profileStart: async () => {
      profiler ??= new Session()
      profiler.connect()
      await profiler.post('Profiler.enable')
      await profiler.post('Profiler.setSamplingInterval', { interval: 100 })
      await profiler.post('Profiler.start')
      // BENCH_HEAP_PROFILE=1: also every allocation (sampled, collected ones too), written beside the CPU profile.
      if (process.env.BENCH_HEAP_PROFILE !== undefined) {
        await profiler.post('HeapProfiler.enable')
        await profiler.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
      }
      return {}
    },
    profileStop: async (m) => {
      if (profiler === undefined) throw new Error('no profile started')
      const { profile } = await profiler.post('Profiler.stop')
      writeFileSync(String(m.path), JSON.stringify(profile))
      if (process.env.BENCH_HEAP_PROFILE !== undefined) {
        const heap = await profiler.post('HeapProfiler.stopSampling')
        writeFileSync(String(m.path).replace(/\.cpuprofile$/, '') + '.heapprofile', JSON.stringify(heap.profile))
      }
      profiler.disconnect()
      return {}
    },
    sinkServe: async () => { await serveSink(network()); return {} },
    rawSend: async (m) => ({ ms: await rawSend(network(), String(m.peerId), Number(m.bytes)) }),
    first: async (m) => {
      const t0 = nowMs()
      const contact = await me.m().acceptInvite(String(m.link), { name: String(m.name) })
      const sent = await me.m().send(contact.id, TEXT)
      await delivered(sent.id)
      return { ms: nowMs() - t0 }
    }
  }
  process.on('message', (m: Record<string, unknown>) => {
    const type = String(m.type)
    if (type === 'exit') {
      void (async () => {
        for (const fn of cleanups.reverse()) { try { await fn() } catch { /* exiting anyway */ } }
        process.exit(0)
      })()
      return
    }
    const h = handlers[type]
    if (h === undefined) { send({ type: 'error', message: `unknown message ${type}` }); return }
    h(m).then((r) => { send({ type, ...r }) }, (err: unknown) => { send({ type: 'error', message: err instanceof Error ? err.message : String(err) }) })
  })
  send({ type: 'ready' })
}

main().catch((err: unknown) => { send({ type: 'error', message: err instanceof Error ? err.message : String(err) }) })
