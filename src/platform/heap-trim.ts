// Gives back the memory a burst of work leaves behind once the process is idle. Start (loading the modules,
// opening the store, starting libp2p) grows V8's young generation to its largest size (2 x 16 MB semi-spaces)
// and leaves old-space pages half empty; V8 returns them only at a garbage collection that aims to reduce
// memory, and an idle device, which allocates little, goes minutes without one. Measured on an idle started
// device (2-core VM): heap committed 63 MB for 30 MB in use, RSS 134 MB; after one such collection 32 MB and
// 106-113 MB. So: a memory-reducing collection whenever the process has been idle for a whole interval while
// holding much more heap than it uses (in the first minute after start, and after later bursts). Each costs
// ~10-150 ms of one core, never while busy (judged by event-loop utilization): it never sits in a message's path.
// Node exposes no such call without --expose-gc, which a user's `node bin/0message1.js` does not pass: the
// flag is set at run time (Node keeps V8 flags writable, v8.setFlagsFromString) and the collector is taken
// from a fresh context; where that fails, trimming is off and nothing else changes.
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { performance } from 'node:perf_hooks'

/** How often idleness and slack are looked at in the first minute after start, then after that. V8 shrinks the
 * young generation only at a collection that follows a few seconds of low allocation (a trim 5 s after start
 * did not shrink it; one at 10-15 s did), so the first minute looks often. */
export const HEAP_TRIM_EARLY_INTERVAL_MS = 5_000
export const HEAP_TRIM_EARLY_PERIOD_MS = 60_000
export const HEAP_TRIM_INTERVAL_MS = 60_000
/** Committed but unused heap worth a collection: below this the gain is not worth ~100 ms of CPU. */
export const HEAP_TRIM_SLACK_BYTES = 16 * 1024 * 1024
/** Event-loop utilization over the interval under which the process counts as idle (timers and keep-alives only). */
export const HEAP_TRIM_IDLE_UTILIZATION = 0.05

type Collector = (options?: { type?: 'major' | 'minor', execution?: 'sync' | 'async', flavor?: 'regular' | 'last-resort' }) => unknown

let collector: Collector | null | undefined

/** V8's collector, or null where it cannot be had (then trimming is off). */
function gcFunction (): Collector | null {
  if (collector !== undefined) return collector
  try {
    const existing = (globalThis as { gc?: Collector }).gc
    if (typeof existing === 'function') collector = existing
    else {
      setFlagsFromString('--expose-gc')
      const gc = runInNewContext('gc') as unknown
      collector = typeof gc === 'function' ? gc as Collector : null
    }
  } catch {
    collector = null
  }
  return collector
}

/** One full, memory-reducing collection now ('last-resort' also shrinks the young generation). False when unavailable. */
export function trimHeap (): boolean {
  const gc = gcFunction()
  if (gc === null) return false
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' })
  return true
}

export interface HeapTrimmer {
  /** Trims done so far (tests, status). */
  readonly trims: () => number
  stop: () => void
}

export interface HeapTrimOptions {
  readonly earlyIntervalMs?: number
  readonly earlyPeriodMs?: number
  readonly intervalMs?: number
  readonly slackBytes?: number
}

/** Looks every interval (often in the first minute, then seldom) and trims when the loop was idle over it and the
 * heap holds `slackBytes` it does not use. */
export function startHeapTrimmer (o: HeapTrimOptions = {}): HeapTrimmer {
  const slack = o.slackBytes ?? HEAP_TRIM_SLACK_BYTES
  const started = performance.now()
  const earlyPeriod = o.earlyPeriodMs ?? HEAP_TRIM_EARLY_PERIOD_MS
  let trims = 0
  let last = performance.eventLoopUtilization()
  let timer: ReturnType<typeof setTimeout> | undefined
  const schedule = (): void => {
    const early = performance.now() - started < earlyPeriod
    timer = setTimeout(look, early ? o.earlyIntervalMs ?? HEAP_TRIM_EARLY_INTERVAL_MS : o.intervalMs ?? HEAP_TRIM_INTERVAL_MS)
    timer.unref()
  }
  const look = (): void => {
    const elu = performance.eventLoopUtilization(last)
    const m = process.memoryUsage()
    if (elu.utilization < HEAP_TRIM_IDLE_UTILIZATION && m.heapTotal - m.heapUsed >= slack && trimHeap()) trims++
    last = performance.eventLoopUtilization()
    schedule()
  }
  schedule()
  return {
    trims: () => trims,
    stop: () => { clearTimeout(timer) }
  }
}
