// Crash safety of the encrypted store: a child writing in a loop is SIGKILLed at random moments, many
// times over the same data directory; each time the store opens cleanly with the same key, passes
// SQLite's and SQLCipher's integrity checks, holds every transaction the child saw committed, and
// holds whole transactions only.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDatabase, resolveDatabaseKey, DATABASE_FILE } from '../../src/store/db.ts'
import { spawnChild } from '../helpers/procs.ts'
import { BATCH, CRASH_MIGRATIONS } from './fixtures/store-schema.ts'

/** Kill cycles: enough to land in different phases (mid-transaction, mid-checkpoint, between). */
const CYCLES = 8

test(`store: SIGKILL mid-write ${CYCLES} times, reopens cleanly with every committed transaction, whole`, { timeout: 180_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), '0m1-crash-store-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  let lastCommitted = 0
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    const child = spawnChild('test/crash/fixtures/store-writer.ts', { name: `writer#${cycle}`, args: [dir], t })
    await child.waitEvent((e) => e.event === 'ready', 30_000)
    // Let it write for a while (at least a few commits), then kill it without warning.
    const target = 3 + Math.floor(Math.random() * 40)
    await child.waitEvent((e) => e.event === 'committed' && Number(e.batch) >= lastCommitted / BATCH + target, 60_000).catch(() => undefined)
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 30))
    await child.kill('SIGKILL')
    const committed = child.events.filter((e) => e.event === 'committed')
    const seenBatch = committed.length === 0 ? 0 : Number(committed[committed.length - 1]?.batch)

    const db = openDatabase({ path: join(dir, DATABASE_FILE), key: resolveDatabaseKey(dir, { create: false }), migrations: CRASH_MIGRATIONS })
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok')
      assert.deepEqual(db.pragma('cipher_integrity_check'), [], 'SQLCipher page HMACs all verify')
      const maxBatch = Number((db.prepare('SELECT coalesce(max(batch), 0) AS b FROM items').get() as { b: number }).b)
      assert.ok(maxBatch >= seenBatch, `batch ${seenBatch} was reported committed but the store ends at ${maxBatch}`)
      const partial = db.prepare('SELECT batch, count(*) AS n FROM items GROUP BY batch HAVING n != ?').all([BATCH])
      assert.deepEqual(partial, [], 'only whole transactions')
      lastCommitted = maxBatch * BATCH
      console.log(`crash store cycle ${cycle}: killed after batch ${seenBatch} was reported; reopened at batch ${maxBatch}, integrity ok`)
    } finally {
      db.close()
    }
  }
})
