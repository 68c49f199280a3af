// src/messenger/deadline.ts: an attempt's deadline leaves no timer behind once the attempt settles (AbortSignal.timeout
// fired seconds later for every message), and still aborts work that outlives it, as AbortSignal.timeout would.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { withDeadline } from '../../src/messenger/deadline.ts'
import { systemClock, type Clock } from '../../src/platform/clock.ts'

/** The real clock, counting the timers still armed. */
function countingClock (): { clock: Clock, armed: () => number } {
  let armed = 0
  const clock: Clock = {
    ...systemClock,
    setTimeout: (fn, ms, o) => {
      armed++
      let done = false
      const t = systemClock.setTimeout(() => { done = true; armed--; fn() }, ms, o)
      return { cancel: () => { if (!done) { done = true; armed--; t.cancel() } } }
    }
  }
  return { clock, armed: () => armed }
}

test('a settled attempt cancels its deadline: no timer left armed, success or failure', async () => {
  const { clock, armed } = countingClock()
  assert.equal(await withDeadline(clock, 60_000, async (signal) => { assert.equal(signal.aborted, false); return 'ok' }), 'ok')
  assert.equal(armed(), 0)
  await assert.rejects(withDeadline(clock, 60_000, async () => { throw new Error('refused') }), /refused/)
  assert.equal(armed(), 0)
})

test('work that outlives the deadline sees its signal abort with a TimeoutError', async (t) => {
  // The clock's timers are unref'd (they never hold a node open): something else must keep this test's loop alive,
  // as a running node does.
  const alive = setInterval(() => {}, 1_000)
  t.after(() => { clearInterval(alive) })
  const { clock, armed } = countingClock()
  const reason = await withDeadline(clock, 20, async (signal) => await new Promise<unknown>((resolve) => {
    signal.addEventListener('abort', () => { resolve(signal.reason) }, { once: true })
  }))
  assert.ok(reason instanceof DOMException)
  assert.equal(reason.name, 'TimeoutError')
  assert.equal(armed(), 0)
})
