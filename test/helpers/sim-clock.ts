// Simulated time for unit tests of the messenger's state machine: timers fire in virtual-time order,
// one at a time, and between two timers every promise chain runs to rest, so an hour of retries
// and backoff takes milliseconds and a schedule replays the same way from the same seed.
import type { Clock, Timer } from '../../src/platform/clock.ts'

interface Entry {
  at: number
  order: number
  fn: () => void
  every: number | undefined
  cancelled: boolean
  /** True when firing it can start no promise reaction (a deadline nobody waits on any more). */
  quiet?: () => boolean
}

/** The reason AbortSignal.timeout gives; one instance, as nothing reads more than its name. */
const TIMEOUT = new DOMException('The operation timed out.', 'TimeoutError')

/** One real turn of the event loop: every pending promise reaction runs before it ends. */
const turn = async (): Promise<void> => { await new Promise<void>((resolve) => { setImmediate(resolve) }) }

export class SimClock implements Clock {
  #now: number
  #order = 0
  readonly #timers: Entry[] = []
  /** Counts timers fired (for figures). */
  steps = 0

  constructor (start = 1_700_000_000_000) {
    this.#now = start
  }

  now = (): number => this.#now

  #add (fn: () => void, ms: number, every?: number): Timer {
    const e: Entry = { at: this.#now + Math.max(0, ms), order: this.#order++, fn, every, cancelled: false }
    this.#timers.push(e)
    return { cancel: () => { e.cancelled = true } }
  }

  setTimeout = (fn: () => void, ms: number): Timer => this.#add(fn, ms)
  setInterval = (fn: () => void, ms: number): Timer => this.#add(fn, ms, Math.max(1, ms))
  setImmediate = (fn: () => void): void => { this.#add(fn, 0) }

  /** Callers of sleep() waiting on each timeout signal; a deadline with none fires without a turn. */
  readonly #waiting = new WeakMap<AbortSignal, number>()

  timeout = (ms: number): AbortSignal => {
    const c = new AbortController()
    this.#add(() => { c.abort(TIMEOUT) }, ms)
    const e = this.#timers[this.#timers.length - 1] as Entry
    e.quiet = () => (this.#waiting.get(c.signal) ?? 0) === 0
    return c.signal
  }

  /** Resolves after `ms` of simulated time; rejects with the signal's reason if it aborts first. */
  sleep = async (ms: number, signal?: AbortSignal): Promise<void> => {
    if (ms <= 0 && signal?.aborted !== true) return
    await new Promise<void>((resolve, reject) => {
      if (signal?.aborted === true) { reject(signal.reason as Error); return }
      const wait = (d: number): void => { if (signal !== undefined) this.#waiting.set(signal, (this.#waiting.get(signal) ?? 0) + d) }
      const onAbort = (): void => { wait(-1); t.cancel(); reject(signal?.reason as Error) }
      const t = this.#add(() => { wait(-1); signal?.removeEventListener('abort', onAbort); resolve() }, ms)
      wait(1)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  #next (): Entry | undefined {
    let best: Entry | undefined
    let bestIndex = -1
    for (let i = this.#timers.length - 1; i >= 0; i--) {
      const e = this.#timers[i] as Entry
      if (e.cancelled) { this.#timers.splice(i, 1); if (bestIndex > i) bestIndex--; continue }
      if (best === undefined || e.at < best.at || (e.at === best.at && e.order < best.order)) { best = e; bestIndex = i }
    }
    if (best === undefined) return undefined
    this.#timers.splice(bestIndex, 1)
    return best
  }

  /**
   * Fires timers in time order until `done()` holds (checked whenever everything is at rest) or
   * simulated time passes `deadline`. Returns whether `done()` held.
   */
  async run (done: () => boolean, deadline: number): Promise<boolean> {
    let rest = false
    for (;;) {
      if (!rest) await turn()
      if (!rest && done()) return true
      const e = this.#next()
      if (e === undefined || e.at > deadline) {
        if (e !== undefined) this.#timers.push(e)
        return false
      }
      this.#now = Math.max(this.#now, e.at)
      if (e.every !== undefined) { e.at = this.#now + e.every; e.order = this.#order++; this.#timers.push(e) }
      rest = e.quiet?.() === true
      if (!rest) this.steps++
      e.fn()
    }
  }
}
