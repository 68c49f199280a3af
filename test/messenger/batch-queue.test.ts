// BatchQueue (src/messenger/batch-queue.ts): calls made while a batch waits for its turn go together, at most
// `max` per batch, in call order; an item's error fails only that item; a throwing batch fails all of its own.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BatchQueue, type BatchResult } from '../../src/messenger/batch-queue.ts'

/** A one-at-a-time turn queue like the messenger's crypto queue. */
function serial (): (job: () => Promise<void>) => Promise<void> {
  let tail: Promise<unknown> = Promise.resolve()
  return async (job) => { const next = tail.then(job, job); tail = next.catch(() => {}); await next }
}

test('batch queue: a burst goes in batches of at most max, in call order, each item answered', async () => {
  const batches: number[][] = []
  const q = new BatchQueue<number, string>(4, serial(), async (items) => { batches.push(items); return items.map((i) => ({ ok: `v${i}` })) })
  const out = await Promise.all(Array.from({ length: 10 }, async (_, i) => await q.add(i)))
  assert.deepEqual(out, Array.from({ length: 10 }, (_, i) => `v${i}`))
  assert.deepEqual(batches, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]])
})

test('batch queue: calls made while a batch runs form the next batch', async () => {
  const batches: number[][] = []
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  const q = new BatchQueue<number, number>(64, serial(), async (items) => {
    batches.push(items)
    if (items[0] === 0) await gate
    return items.map((i) => ({ ok: i }))
  })
  const first = q.add(0)
  await new Promise((resolve) => setImmediate(resolve))
  const later = [q.add(1), q.add(2), q.add(3)]
  release()
  assert.deepEqual(await Promise.all([first, ...later]), [0, 1, 2, 3])
  assert.deepEqual(batches, [[0], [1, 2, 3]])
})

test('batch queue: an item error fails that item alone; a batch that throws fails its items, not the next batch', async () => {
  let calls = 0
  const q = new BatchQueue<number, number>(2, serial(), async (items): Promise<Array<BatchResult<number>>> => {
    calls++
    if (calls === 2) throw new Error('commit failed')
    return items.map((i) => i === 1 ? { error: new Error('item 1') } : { ok: i })
  })
  const r = await Promise.allSettled([q.add(0), q.add(1), q.add(2), q.add(3), q.add(4)])
  assert.deepEqual(r.map((x) => x.status === 'fulfilled' ? x.value : (x.reason as Error).message), [0, 'item 1', 'commit failed', 'commit failed', 4])
  assert.throws(() => new BatchQueue<number, number>(0, serial(), async () => []), RangeError)
})
