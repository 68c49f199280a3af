// Deadlines shared by delivery attempts (src/messenger/shared-deadline.ts) against a wall clock that steps back (NTP)
// while the timers run on their own timeline, and after stop(). Found by review: an attempt joined an old share and
// was aborted after 2 s instead of at least the deliver deadline; a share made after stop() kept its timer armed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { SharedDeadlines } from '../../src/messenger/shared-deadline.ts'
import type { Clock, Timer } from '../../src/platform/clock.ts'

// Wall time (now) and timer time (real, also the clock's monotonic time) kept apart, as Date.now and performance.now.
class SplitClock implements Clock {
  wall = 1_000_000
  real = 0
  readonly timers: Array<{ at: number, fn: () => void, live: boolean }> = []
  now = (): number => this.wall
  monotonic = (): number => this.real
  setTimeout = (fn: () => void, ms: number): Timer => { const e = { at: this.real + ms, fn, live: true }; this.timers.push(e); return { cancel: () => { e.live = false } } }
  setInterval = (): Timer => { throw new Error('x') }
  setImmediate = (fn: () => void): void => { setImmediate(fn) }
  timeout = (): AbortSignal => { throw new Error('x') }
  advance (ms: number): void { // both clocks move together
    const end = this.real + ms
    for (;;) {
      const due = this.timers.filter((e) => e.live && e.at <= end).sort((a, b) => a.at - b.at)[0]
      if (due === undefined) break
      this.wall += due.at - this.real
      this.real = due.at
      due.live = false
      due.fn()
    }
    this.wall += end - this.real; this.real = end
  }
  get pending (): number { return this.timers.filter((e) => e.live).length }
}

test('shared deadline: after the wall clock steps back, a new attempt still gets its whole deadline', async () => {
  const c = new SplitClock()
  const d = new SharedDeadlines(c, 4_000)
  await d.run(async () => {}) // one-at-a-time message: share made, kept current
  c.advance(3_000)
  c.wall -= 2_900 // NTP step back
  let sig: AbortSignal | undefined
  let release = (): void => {}
  const p = d.run(async (s) => { sig = s; await new Promise<void>((resolve) => { release = resolve }) })
  c.advance(2_001)
  const early = sig?.aborted
  release()
  await p
  assert.equal(early, false, 'attempt cut short after 2,001 ms of real time')
})

test('shared deadline: an attempt run after stop() leaves no timer armed', async () => {
  const c = new SplitClock()
  const d = new SharedDeadlines(c, 4_000)
  d.stop()
  await d.run(async () => {})
  assert.equal(c.pending, 0, 'a timer left armed after stop()')
})
