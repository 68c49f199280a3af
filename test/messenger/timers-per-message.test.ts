// Issue 10: the timers a message costs. The pump's wake-up (src/messenger/wake-timer.ts) is kept while it fires no
// later than needed, and delivery attempts share their deadline's signal and timer (src/messenger/shared-deadline.ts):
// their rules on a hand-driven clock, then the count on two real messengers (libsignal, SQLCipher) sending one at a
// time, which was two or three timers per message on the sender and one on the receiver.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { WakeTimer } from '../../src/messenger/wake-timer.ts'
import { SHARE_WINDOW_MS, SharedDeadlines } from '../../src/messenger/shared-deadline.ts'
import type { Clock, Timer, TimerOptions } from '../../src/platform/clock.ts'
import { HoldClock, stateReached, twoMessengers } from '../helpers/two-messengers.ts'
import { waitFor } from '../helpers/wait.ts'

/** Time moved by hand; timers fire in order as it passes them. Counts the timers armed and cancelled. */
class HandClock implements Clock {
  t = 1_000_000
  armed = 0
  cancelled = 0
  readonly #timers: Array<{ at: number, fn: () => void, live: boolean }> = []
  now = (): number => this.t
  setTimeout = (fn: () => void, ms: number): Timer => {
    this.armed++
    const e = { at: this.t + ms, fn, live: true }
    this.#timers.push(e)
    return { cancel: () => { if (e.live) { e.live = false; this.cancelled++ } } }
  }

  setInterval = (): Timer => { throw new Error('not used') }
  setImmediate = (fn: () => void): void => { setImmediate(fn) }
  timeout = (): AbortSignal => { throw new Error('not used') }
  /** Live timers. */
  get pending (): number { return this.#timers.filter((e) => e.live).length }
  advance (ms: number): void {
    const end = this.t + ms
    for (;;) {
      const due = this.#timers.filter((e) => e.live && e.at <= end).sort((a, b) => a.at - b.at)[0]
      if (due === undefined) break
      this.t = due.at
      due.live = false
      due.fn()
    }
    this.t = end
  }
}

test('the pump wake-up: kept while armed for no later than asked, re-armed for earlier, fires once', () => {
  const clock = new HandClock()
  const w = new WakeTimer()
  let fired = 0
  const fn = (): void => { fired++ }
  w.wakeBy(clock, clock.t + 5_000, fn)
  // Later wishes (each next message's receipt wait) keep the timer: no new one armed, none cancelled.
  for (let i = 1; i <= 100; i++) { clock.t += 3; w.wakeBy(clock, clock.t + 5_000, fn) }
  assert.equal(clock.armed, 1)
  assert.equal(clock.cancelled, 0)
  // An earlier wish replaces it.
  w.wakeBy(clock, clock.t + 100, fn)
  assert.equal(clock.armed, 2)
  assert.equal(clock.cancelled, 1)
  clock.advance(99)
  assert.equal(fired, 0, 'not before its time')
  clock.advance(1)
  assert.equal(fired, 1)
  assert.equal(w.armed, false)
  // Once fired, the next wish arms a new one; cancel() disarms it.
  w.wakeBy(clock, clock.t + 10, fn)
  assert.equal(w.armed, true)
  w.cancel()
  clock.advance(1_000)
  assert.equal(fired, 1, 'a cancelled wake-up never fires')
})

test('shared deadlines: attempts of one window share a signal; each gets at least the deadline, at most the window more', async () => {
  const clock = new HandClock()
  const d = new SharedDeadlines(clock, 4_000)
  const signals: AbortSignal[] = []
  const hold: Array<() => void> = []
  const started: Array<Promise<void>> = []
  // Three attempts within the window, still running.
  for (let i = 0; i < 3; i++) {
    started.push(d.run(async (signal) => { signals.push(signal); await new Promise<void>((resolve) => { hold.push(resolve) }) }))
    clock.t += SHARE_WINDOW_MS / 4
  }
  assert.equal(d.made, 1)
  assert.equal(new Set(signals).size, 1, 'one signal for the attempts of a window')
  // The last one started at +750 ms: its deadline is not before +4,750 ms.
  clock.advance(4_000 + SHARE_WINDOW_MS - 3 * SHARE_WINDOW_MS / 4 - 1)
  assert.equal(signals[0]?.aborted, false, 'no attempt of the share is cut short of the deadline')
  clock.advance(1)
  assert.equal(signals[0]?.aborted, true)
  assert.equal((signals[0]?.reason as DOMException).name, 'TimeoutError', 'the reason AbortSignal.timeout gives')
  for (const r of hold) r()
  await Promise.all(started)
  // An aborted share is not joined again.
  let next: AbortSignal | undefined
  await d.run(async (signal) => { next = signal })
  assert.equal(next?.aborted, false)
  assert.equal(d.made, 2)
})

test('shared deadlines: a share whose attempts all ended is cancelled once the next window starts, never fired', async () => {
  const clock = new HandClock()
  const d = new SharedDeadlines(clock, 4_000)
  let first: AbortSignal | undefined
  await d.run(async (signal) => { first = signal })
  // Still current (within its window) and idle: kept for the next attempt, so a message sent one at a time reuses it.
  clock.t += SHARE_WINDOW_MS - 1
  let again: AbortSignal | undefined
  await d.run(async (signal) => { again = signal })
  assert.equal(again, first)
  assert.equal(clock.armed, 1)
  // Past the window: a new share, and the old one's timer is cancelled (no abort for work long finished).
  clock.t += 1
  await d.run(async () => {})
  assert.equal(d.made, 2)
  assert.equal(clock.cancelled, 1)
  clock.advance(10_000 + SHARE_WINDOW_MS)
  assert.equal(first?.aborted, false, 'the finished share never fired')
  // A share still in use when the window moves on is cancelled when its last attempt ends.
  const c2 = new HandClock()
  const d2 = new SharedDeadlines(c2, 4_000)
  let release = (): void => {}
  const long = d2.run(async () => { await new Promise<void>((resolve) => { release = resolve }) })
  c2.t += SHARE_WINDOW_MS
  await d2.run(async () => {})
  assert.equal(c2.cancelled, 0, 'the running attempt keeps its deadline')
  release()
  await long
  assert.equal(c2.cancelled, 1)
  // stop(): the current share's timer is cancelled once nothing runs on it.
  d2.stop()
  assert.equal(c2.pending, 0)
})

/** A held clock (test/helpers/two-messengers.ts) that counts the timers armed through it: the messenger's own. */
function countingClock (base: HoldClock): Clock & { timers: number } {
  const c = {
    timers: 0,
    now: () => base.now(),
    setTimeout: (fn: () => void, ms: number, o?: TimerOptions): Timer => { c.timers++; return base.setTimeout(fn, ms, o) },
    setInterval: (fn: () => void, ms: number, o?: TimerOptions): Timer => { c.timers++; return base.setInterval(fn, ms, o) },
    setImmediate: (fn: () => void): void => { base.setImmediate(fn) },
    timeout: (ms: number): AbortSignal => { c.timers++; return base.timeout(ms) }
  }
  return c
}

test('one message at a time: the messengers arm a few timers in all, not one or more per message', async (t) => {
  const held = new HoldClock()
  const clock = countingClock(held)
  const w = await twoMessengers({ clock, searchIdleMs: false })
  t.after(w.close)
  await waitFor(() => [w.a, w.b].every((s) => s.history.setting('announced-card') !== undefined && s.history.outboxSize() === 0), 'cards announced and outboxes empty')
  const N = 30
  // Time held still: every attempt falls in one window, and no retry or debounce timer comes due meanwhile.
  held.hold()
  clock.timers = 0
  for (let i = 0; i < N; i++) {
    const m = await w.a.core.send(w.a.contactId, `one at a time ${i}`)
    await stateReached(w.a, m.id, 'delivered')
  }
  console.log(`timers armed by both messengers for ${N} messages one at a time: ${clock.timers}`)
  // Before: a deadline per attempt on each side (2N) and a pump wake-up per message on the sender (N or more).
  assert.ok(clock.timers <= 6, `${clock.timers} timers for ${N} messages`)
  const got = await w.b.core.messages(w.b.contactId)
  assert.equal(got.filter((m) => m.text.startsWith('one at a time')).length, N)
})
