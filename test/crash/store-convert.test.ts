// Crash safety of the device store's page-size conversion (issue 10, src/store/db.ts convertPageSize) and of its
// checkpoints in a later turn: a store made at SQLCipher's default page size, as main made them, is opened by a child
// with the device's page size (which converts it) and written to, and SIGKILLed at a random moment: during the
// conversion, just after it, or while writing. Each time the store opens (converting it if the child had not), passes
// SQLite's and SQLCipher's integrity checks, holds every row it had before and every transaction the child saw
// committed, whole, and ends at the device's page size.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { openDatabase, resolveDatabaseKey, DATABASE_FILE } from '../../src/store/db.ts'
import { DEVICE_PAGE_SIZE } from '../../src/store/schema.ts'
import { spawnChild } from '../helpers/procs.ts'
import { BATCH, CRASH_MIGRATIONS } from './fixtures/store-schema.ts'

const CYCLES = 6
/** Batches in the legacy store: a few MB, so the conversion takes long enough to be killed in. */
const LEGACY_BATCHES = 60

test(`store conversion: SIGKILL during or after the page-size conversion ${CYCLES} times, the store is whole`, { timeout: 240_000 }, async (t) => {
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    const dir = mkdtempSync(join(tmpdir(), '0m1-crash-convert-'))
    t.after(() => { rmSync(dir, { recursive: true, force: true }) })
    const key = resolveDatabaseKey(dir, { create: true })
    const legacy = openDatabase({ path: join(dir, DATABASE_FILE), key, migrations: CRASH_MIGRATIONS })
    const insert = legacy.prepare('INSERT INTO items (batch, body) VALUES (?, ?)')
    for (let b = 1; b <= LEGACY_BATCHES; b++) {
      legacy.transaction(() => { for (let i = 0; i < BATCH; i++) insert.run([b, randomBytes(i % 7 === 0 ? 48 * 1024 : 200)]) })()
    }
    legacy.close()

    const child = spawnChild('test/crash/fixtures/device-store-writer.ts', { name: `converter#${cycle}`, args: [dir], t })
    await child.waitEvent((e) => e.event === 'opening', 30_000)
    // The first half of the cycles land in the conversion (it takes a few hundred ms here), the others after it.
    if (cycle >= CYCLES / 2) await child.waitEvent((e) => e.event === 'ready', 60_000)
    await new Promise((resolve) => setTimeout(resolve, Math.random() * (cycle >= CYCLES / 2 ? 100 : 300)))
    await child.kill('SIGKILL')
    const committed = child.events.filter((e) => e.event === 'committed')
    const seenBatch = committed.length === 0 ? LEGACY_BATCHES : Number(committed[committed.length - 1]?.batch)
    const converted = child.events.some((e) => e.event === 'ready')
    const midway = readdirSync(dir).some((f) => f.includes('converting'))

    const db = openDatabase({ path: join(dir, DATABASE_FILE), key, migrations: CRASH_MIGRATIONS, pageSize: DEVICE_PAGE_SIZE, checkpoint: 'idle' })
    try {
      assert.equal(db.pragma('cipher_page_size', { simple: true }), String(DEVICE_PAGE_SIZE))
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok')
      assert.deepEqual(db.pragma('cipher_integrity_check'), [], 'SQLCipher page HMACs all verify')
      const maxBatch = Number((db.prepare('SELECT coalesce(max(batch), 0) AS b FROM items').get() as { b: number }).b)
      assert.ok(maxBatch >= seenBatch, `batch ${seenBatch} was reported committed but the store ends at ${maxBatch}`)
      const counts = db.prepare('SELECT count(DISTINCT batch) AS batches, count(*) AS n FROM items WHERE batch <= ?').get([LEGACY_BATCHES]) as { batches: number, n: number }
      assert.deepEqual([counts.batches, counts.n], [LEGACY_BATCHES, LEGACY_BATCHES * BATCH], 'every row made before the conversion')
      assert.deepEqual(db.prepare('SELECT batch, count(*) AS n FROM items GROUP BY batch HAVING n != ?').all([BATCH]), [], 'only whole transactions')
      assert.deepEqual(readdirSync(dir).filter((f) => f.includes('converting')), [])
      console.log(`crash convert cycle ${cycle}: killed ${converted ? `after the conversion, at batch ${seenBatch}` : `before the conversion ended${midway ? ' (a partial copy left)' : ''}`}; reopened at batch ${maxBatch}, integrity ok`)
    } finally {
      db.close()
    }
  }
})
