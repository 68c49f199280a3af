import { test } from 'node:test'
import assert from 'node:assert/strict'
import { backoffDelay, BACKOFF_BASE_MS, BACKOFF_MAX_MS } from '../../src/messenger/backoff.ts'

test('backoff doubles, is capped, and jitters within half of its ceiling', () => {
  assert.equal(backoffDelay(1, () => 0), BACKOFF_BASE_MS / 2)
  assert.equal(backoffDelay(1, () => 0.999999), Math.round(BACKOFF_BASE_MS * 0.9999995))
  assert.equal(backoffDelay(2, () => 0), BACKOFF_BASE_MS)
  assert.equal(backoffDelay(40, () => 0), BACKOFF_MAX_MS / 2)
  assert.ok(backoffDelay(40, Math.random) <= BACKOFF_MAX_MS)
  assert.throws(() => backoffDelay(0), RangeError)
})
