// A relay alone in this process, so its memory is measurable apart from the devices that connect to it.
// argv: data directory, optional limits as JSON.
// Started as `0message1 relay` runs it: alone in its process (ownProcess: its buffer pool and heap trimmer), under
// the launch settings of the bin's first line (the parent passes them, test/helpers/launch.ts).
// Messages: -> { type: 'measure' } <- { type: 'memory', rss, heapUsed, heapTotal, young, trims, connections } (medians of settled readings).
import { getHeapSpaceStatistics } from 'node:v8'
import { startRelay, type RelayLimits } from '../../src/relay/service.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { settledMemory } from '../lib/child.ts'

// The parent gone (a Ctrl-C, a killed benchmark): a child in a session of its own (BENCH_OWN_SESSION=1) gets no
// signal from the terminal, so it ends when its IPC channel closes instead of living on.
process.on('disconnect', () => { process.exit(0) })

const send = (m: unknown): void => { process.send?.(m) }

/** Settled readings taken a second apart: with devices connected the relay keeps allocating (each connection is
 * pinged every 10 s, both ways), and one reading lands anywhere between two collections, before or after V8
 * hands freed pages back. */
const READINGS = 5
const READING_GAP_MS = 1000

/** The median of each quantity over READINGS settled readings; `young`: V8's young generation (committed), whose
 * size depends on the allocation of the last seconds, not on the devices. */
async function readings (): Promise<{ rss: number, heapUsed: number, heapTotal: number, young: number }> {
  const all: Array<{ rss: number, heapUsed: number, heapTotal: number, young: number }> = []
  for (let i = 0; i < READINGS; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, READING_GAP_MS))
    const mem = await settledMemory()
    const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0
    all.push({ rss: mem.rss, heapUsed: mem.heapUsed, heapTotal: process.memoryUsage().heapTotal, young })
  }
  const median = (k: 'rss' | 'heapUsed' | 'heapTotal' | 'young'): number => all.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(READINGS / 2)] as number
  return { rss: median('rss'), heapUsed: median('heapUsed'), heapTotal: median('heapTotal'), young: median('young') }
}
const dataDir = process.argv[2]
if (dataDir === undefined) throw new Error('usage: relay.ts <dataDir> [limits as JSON]')
const limits = process.argv[3] !== undefined ? JSON.parse(process.argv[3]) as Partial<RelayLimits> : undefined
startRelay({ dataDir, listen: ['/ip4/127.0.0.1/tcp/0'], logger: silentLogger, ownProcess: true, ...(limits !== undefined ? { limits } : {}) }).then((relay) => {
  send({ type: 'ready', addresses: relay.addresses })
  process.on('message', (m: { type?: string }) => {
    if (m.type === 'measure') {
      readings().then((mem) => {
        send({ type: 'memory', ...mem, trims: relay.heapTrimmer?.trims() ?? 0, connections: relay.libp2p.getConnections().length })
      }, (err: unknown) => { send({ type: 'error', message: String(err) }) })
    } else if (m.type === 'exit') {
      // Exits whatever stop() does; nothing is left to handle a rejection.
      void relay.stop().finally(() => process.exit(0))
    }
  })
}, (err: unknown) => { send({ type: 'error', message: String(err) }) })
