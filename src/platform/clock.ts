// Time as a dependency: the messenger reads the time and sets its timers through a Clock, so tests
// can run its state machine on simulated time (test/helpers/sim-clock.ts) instead of waiting.

export interface Timer {
  cancel: () => void
}

export interface TimerOptions {
  /** Lets the process exit while the timer waits (Node's `unref`). */
  readonly unref?: boolean
}

export interface Clock {
  /** ms since the epoch. */
  now: () => number
  /** ms on a clock that never steps back (the wall clock may: NTP), for measuring how long ago something was on
   * the same timeline as this clock's timers. Clocks without one (simulated time) measure with now(). */
  monotonic?: () => number
  setTimeout: (fn: () => void, ms: number, o?: TimerOptions) => Timer
  setInterval: (fn: () => void, ms: number, o?: TimerOptions) => Timer
  /** Runs `fn` on the next turn of the event loop, after pending I/O callbacks. */
  setImmediate: (fn: () => void) => void
  /** A signal that aborts after `ms` with a TimeoutError, as AbortSignal.timeout does. */
  timeout: (ms: number) => AbortSignal
}

/** The real clock: Date.now and Node's timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout: (fn, ms, o) => {
    const t = setTimeout(fn, ms)
    if (o?.unref === true) t.unref()
    return { cancel: () => { clearTimeout(t) } }
  },
  setInterval: (fn, ms, o) => {
    const t = setInterval(fn, ms)
    if (o?.unref === true) t.unref()
    return { cancel: () => { clearInterval(t) } }
  },
  setImmediate: (fn) => { setImmediate(fn) },
  timeout: (ms) => AbortSignal.timeout(ms)
}

/** The real clock with another source of the time (tests that move the date but keep real timers). */
export function clockWithNow (now: () => number, base: Clock = systemClock): Clock {
  return { ...base, now }
}
