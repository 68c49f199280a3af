// One method for the rows that read a process's memory per connection (relay.memory and its floor,
// baseline.libp2p.connection_memory): the child reads itself (memoryReading), the bench divides the change
// between two readings (perEach).
//
// A process holding connections never stops allocating (libp2p pings each one every 10 s, both ways), so one
// reading lands anywhere between two collections, before or after V8 hands freed pages back: each reading is the
// median of a few settled readings a second apart. And V8's young generation (2 x 16 MB semi-spaces on Node 20)
// is a fixed cost of any busy process, not one per connection: V8 grows it to its largest while the process
// allocates and shrinks it only after some seconds of little allocation, which a process with many connections
// never has and one with a few sometimes has. So beside the raw RSS change, the change of RSS less the young
// generation (read per reading, the median taken of the difference) is the figure per connection.
import { getHeapSpaceStatistics } from 'node:v8'
import { settledMemory } from './child.ts'

const READINGS = 5
const READING_GAP_MS = 1000

/** Connections (or devices) made before the first reading: what a process pays once, at its first ones (code
 * compiled on first use, tables and pools sized up), is not a cost per connection. */
export const WARMUP_CONNECTIONS = 20

export interface MemoryReading {
  rss: number
  heapUsed: number
  heapTotal: number
  /** V8's young generation, the pages it holds (physical). */
  young: number
  rssLessYoung: number
}

/** The median of each quantity over READINGS settled readings of this process (needs --expose-gc). */
export async function memoryReading (): Promise<MemoryReading> {
  const all: MemoryReading[] = []
  for (let i = 0; i < READINGS; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, READING_GAP_MS))
    const mem = await settledMemory()
    const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.physical_space_size ?? 0
    all.push({ rss: mem.rss, heapUsed: mem.heapUsed, heapTotal: process.memoryUsage().heapTotal, young, rssLessYoung: mem.rss - young })
  }
  const median = (k: keyof MemoryReading): number => all.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(READINGS / 2)] as number
  return { rss: median('rss'), heapUsed: median('heapUsed'), heapTotal: median('heapTotal'), young: median('young'), rssLessYoung: median('rssLessYoung') }
}

const KB = 1024
const MB = 1024 * 1024

/** KB per connection between two readings: `value` less the young generation, `raw` the RSS change. */
export function perEach (before: MemoryReading, after: MemoryReading, count: number): { value: number, raw: number, heap: number, note: string } {
  const value = (after.rssLessYoung - before.rssLessYoung) / count / KB
  const raw = (after.rss - before.rss) / count / KB
  const heap = (after.heapUsed - before.heapUsed) / count / KB
  return {
    value,
    raw,
    heap,
    note: `RSS less V8's young generation, change per connection; raw RSS change ${raw.toFixed(1)} KB per connection (young generation ${(before.young / MB).toFixed(0)} -> ${(after.young / MB).toFixed(0)} MB, a fixed cost of a busy process, not one per connection); heap delta ${heap.toFixed(1)} KB; RSS ${(before.rss / MB).toFixed(0)} -> ${(after.rss / MB).toFixed(0)} MB, heap committed ${(before.heapTotal / MB).toFixed(0)} -> ${(after.heapTotal / MB).toFixed(0)} MB; each reading the median of ${READINGS} settled readings ${READING_GAP_MS / 1000} s apart`
  }
}
