// The idle heap trim (src/platform/heap-trim.ts): the collector is reachable without --expose-gc on the command
// line, a trim after a burst gives the committed heap back, and the trimmer trims only when there is slack.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startHeapTrimmer, trimHeap } from '../../src/platform/heap-trim.ts'
import { waitFor } from '../helpers/wait.ts'

/** A burst of survivors and garbage that grows the young generation, as a start does. */
function burst (): number {
  let kept: unknown[] = []
  let n = 0
  for (let i = 0; i < 400_000; i++) {
    kept.push({ i, s: `item ${i}`, a: [i, i + 1] })
    if (kept.length > 50_000) { n += kept.length; kept = [] }
  }
  return n + kept.length
}

test('heap trim: after a burst, an idle trim gives back committed heap', { timeout: 60_000 }, async () => {
  assert.ok(burst() > 0)
  const grown = process.memoryUsage().heapTotal
  // V8 shrinks the young generation only once allocation has been low for a few seconds: retry until it does.
  const after = await waitFor(() => {
    assert.equal(trimHeap(), true, 'the collector is available without --expose-gc on the command line')
    const now = process.memoryUsage().heapTotal
    return now < grown ? now : undefined
  }, 'committed heap below its size after the burst', 30_000)
  assert.ok(after < grown)
})

test('heap trim: the trimmer trims an idle process holding slack, and never without slack', { timeout: 30_000 }, async () => {
  const none = startHeapTrimmer({ earlyIntervalMs: 20, slackBytes: Number.MAX_SAFE_INTEGER })
  const some = startHeapTrimmer({ earlyIntervalMs: 20, slackBytes: 0 })
  try {
    await waitFor(() => some.trims() >= 2, 'two trims of an idle process with slack')
    assert.equal(none.trims(), 0, 'no slack, no collection')
  } finally {
    none.stop()
    some.stop()
  }
})
