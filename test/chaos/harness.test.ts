// The chaos harness itself must be exact: a read that fails is retried, never taken as absence
// (issue 14.11: a failed `messages` read once counted a whole conversation as lost).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { percentiles, readConversation, type DeviceSlot, type Row } from './run.ts'
import type { Child } from '../helpers/procs.ts'

function flakyDevice (failures: number, rows: Row[]): { slot: DeviceSlot, calls: () => number } {
  let calls = 0
  const child = {
    request: async () => {
      calls++
      if (calls <= failures) throw new Error('device0: messages took more than 60000 ms')
      return rows
    }
  } as unknown as Child
  const slot = { index: 0, dir: '', child, up: true, draining: false, inFlight: 0, accountId: '', contactOf: new Map(), events: [], incarnations: [child] }
  return { slot, calls: () => calls }
}

test('chaos harness: a failed conversation read is retried until it answers, not counted as absent', { timeout: 30_000 }, async () => {
  const rows: Row[] = [{ id: 'aa', seq: 1, direction: 'in', state: 'delivered', at: 1 }]
  const d = flakyDevice(2, rows)
  let healed = 0
  const got = await readConversation(d.slot, 'c1', async () => { healed++ }, { tries: 10, retryMs: 1 })
  assert.deepEqual(got, rows)
  assert.equal(d.calls(), 3)
  assert.equal(healed, 2, 'each failure gives crashed devices a chance to come back first')
})

test('chaos harness: a device that never answers fails the run instead of reporting its messages lost', { timeout: 30_000 }, async () => {
  const d = flakyDevice(Number.POSITIVE_INFINITY, [])
  await assert.rejects(readConversation(d.slot, 'c1', async () => {}, { tries: 3, retryMs: 1 }), /cannot tell lost from unread/)
})

test('chaos harness: delay percentiles', () => {
  assert.deepEqual(percentiles([]), { p50: 0, p99: 0, max: 0 })
  const xs = Array.from({ length: 100 }, (_, i) => i + 1)
  assert.deepEqual(percentiles(xs), { p50: 51, p99: 100, max: 100 })
})
