// Issue 10: a device store copies its WAL into the database file in a later turn of the event loop, not inside the
// COMMIT that crossed WAL_CHECKPOINT_PAGES (that commit is a message's, which waits for it before its send or
// receipt). SQLite's default, in the commit, is what the relay keeps; both are checked so the test sees the difference.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { DATABASE_FILE, WAL_CHECKPOINT_CAP_PAGES, WAL_CHECKPOINT_PAGES, addWalHook, openDatabase, resolveDatabaseKey, type Database } from '../../src/store/db.ts'
import { DEVICE_PAGE_SIZE } from '../../src/store/schema.ts'
import { tempDir } from '../e2ee/helpers.ts'

const migrations = [{ version: 1, name: 'blobs', up: 'CREATE TABLE blobs (id INTEGER PRIMARY KEY, body BLOB NOT NULL)' }]
/** Bytes of a WAL frame's header (before each page) and of the WAL file's header. */
const FRAME_HEADER = 24
const WAL_HEADER = 32

function open (t: { after: (fn: () => void) => void }, checkpoint: 'in-commit' | 'next-turn'): { db: Database, path: string } {
  const dir = tempDir(t, '0m1-checkpoint-')
  const path = join(dir, DATABASE_FILE)
  const db = openDatabase({ path, key: resolveDatabaseKey(dir, { create: true }), migrations, pageSize: DEVICE_PAGE_SIZE, checkpoint, synchronous: 'NORMAL' })
  t.after(() => { db.close() })
  return { db, path }
}

const framesInWal = (path: string): number => Math.max(0, (statSync(path + '-wal').size - WAL_HEADER) / (FRAME_HEADER + DEVICE_PAGE_SIZE))

/** Commits rows of several pages each until the WAL holds WAL_CHECKPOINT_PAGES frames; the database file's size
 * before the first commit, just before the last and just after it, and the rows committed. */
function fillWal (db: Database, path: string): { start: number, before: number, after: number, rows: number } {
  const insert = db.prepare('INSERT INTO blobs (body) VALUES (?)')
  const start = statSync(path).size
  for (let rows = 1; ; rows++) {
    const before = statSync(path).size
    const crossing = framesInWal(path) + 12 >= WAL_CHECKPOINT_PAGES
    insert.run([randomBytes(8 * DEVICE_PAGE_SIZE)])
    if (crossing && framesInWal(path) >= WAL_CHECKPOINT_PAGES) return { start, before, after: statSync(path).size, rows }
  }
}

const countRows = (db: Database): number => Number(db.prepare('SELECT count(*) AS n FROM blobs').get()?.n)

test('checkpoint next-turn: the commit that fills the WAL does not copy it, nor does the end of its turn; the next turn does, and the WAL starts over', async (t) => {
  const { db, path } = open(t, 'next-turn')
  const { start, before, after, rows } = fillWal(db, path)
  assert.equal(after, before, 'no page reached the database file inside the commit')
  assert.equal(after, start, 'no commit of the fill copied the WAL into the file')
  const walFull = statSync(path + '-wal').size
  // What the commit's turn queued after it (the frames it let out, written at the end of the turn) goes first.
  const inTurn = await nextTurn().then(() => statSync(path).size)
  assert.equal(inTurn, before, 'the end of the commit\'s turn came before the copy')
  await nextTurn()
  assert.ok(statSync(path).size > before + (WAL_CHECKPOINT_PAGES / 2) * DEVICE_PAGE_SIZE, 'the next turn copied the WAL into the file')
  db.prepare('INSERT INTO blobs (body) VALUES (?)').run([randomBytes(100)])
  assert.ok(statSync(path + '-wal').size <= walFull, 'the next commit wrote at the start of the WAL, not after its end')
  assert.equal(countRows(db), rows + 1)
})

test('checkpoint in-commit (SQLite default): the commit that fills the WAL copies it into the file itself', (t) => {
  const { db, path } = open(t, 'in-commit')
  const { before, after } = fillWal(db, path)
  assert.ok(after > before + (WAL_CHECKPOINT_PAGES / 2) * DEVICE_PAGE_SIZE)
})

test('checkpoint next-turn: a store closed before that turn is still whole when reopened', async (t) => {
  const dir = tempDir(t, '0m1-checkpoint-')
  const path = join(dir, DATABASE_FILE)
  const key = resolveDatabaseKey(dir, { create: true })
  const db = openDatabase({ path, key, migrations, pageSize: DEVICE_PAGE_SIZE, checkpoint: 'next-turn', synchronous: 'NORMAL' })
  const { start, rows } = fillWal(db, path)
  // Closed with every filling commit still only in the WAL (none was copied into the file: in-commit would have).
  assert.equal(statSync(path).size, start)
  assert.ok(framesInWal(path) >= WAL_CHECKPOINT_PAGES)
  const n = countRows(db)
  assert.equal(n, rows)
  db.close()
  await nextTurn()
  const again = openDatabase({ path, key, migrations, pageSize: DEVICE_PAGE_SIZE, checkpoint: 'next-turn' })
  assert.equal(Number(again.prepare('SELECT count(*) AS n FROM blobs').get()?.n), n)
  assert.equal(again.pragma('quick_check', { simple: true }), 'ok')
  again.close()
})

test('checkpoint next-turn: commits that never yield checkpoint inside the commit at WAL_CHECKPOINT_CAP_PAGES, and the WAL shrinks back after', async (t) => {
  const { db, path } = open(t, 'next-turn')
  const insert = db.prepare('INSERT INTO blobs (body) VALUES (?)')
  const ROW_PAGES = 8
  let most = 0
  let hooked = 0
  addWalHook(db, (_name, pages) => { most = Math.max(most, pages); hooked++ })
  // Twice the cap's pages, all in one turn of the event loop: the next turn never comes during it.
  for (let i = 0; i < (2 * WAL_CHECKPOINT_CAP_PAGES) / ROW_PAGES; i++) insert.run([randomBytes(ROW_PAGES * DEVICE_PAGE_SIZE)])
  assert.equal(hooked, (2 * WAL_CHECKPOINT_CAP_PAGES) / ROW_PAGES, 'a hook added beside the checkpoint sees every commit')
  assert.ok(most < WAL_CHECKPOINT_CAP_PAGES + 2 * ROW_PAGES, `the WAL held at most ${most} pages`)
  assert.ok(framesInWal(path) < WAL_CHECKPOINT_CAP_PAGES + 2 * ROW_PAGES, 'the WAL file stayed under the cap')
  // After the checkpoint (queued two hops on, as above) the WAL starts over, cut back to the checkpoint mark's size
  // (journal_size_limit).
  await nextTurn()
  await nextTurn()
  insert.run([randomBytes(100)])
  assert.ok(framesInWal(path) <= WAL_CHECKPOINT_PAGES, `the WAL file holds ${framesInWal(path)} frames after it started over`)
  assert.equal(countRows(db), (2 * WAL_CHECKPOINT_CAP_PAGES) / ROW_PAGES + 1)
})
