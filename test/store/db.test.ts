import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDatabase, resolveDatabaseKey, schemaVersion, DATABASE_FILE, KEY_FILE, type Migration } from '../../src/store/db.ts'
import { StoreError } from '../../src/store/errors.ts'

const migrations: Migration[] = [
  { version: 1, name: 'notes', up: 'CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)' },
  { version: 2, name: 'notes.at', up: 'ALTER TABLE notes ADD COLUMN at INTEGER NOT NULL DEFAULT 0' }
]

function tempDir (t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), '0m1-db-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

test('key file store: created 0600, reopens, plaintext never on disk', (t) => {
  const dir = tempDir(t)
  const key = resolveDatabaseKey(dir, { create: true })
  assert.equal(statSync(join(dir, KEY_FILE)).mode & 0o777, 0o600)
  const db = openDatabase({ path: join(dir, DATABASE_FILE), key, migrations })
  db.prepare('INSERT INTO notes (body) VALUES (?)').run(['secret-marker-7f3a'])
  db.pragma('wal_checkpoint(TRUNCATE)')
  db.close()
  assert.ok(!readFileSync(join(dir, DATABASE_FILE)).includes('secret-marker-7f3a'))
  const again = openDatabase({ path: join(dir, DATABASE_FILE), key: resolveDatabaseKey(dir, { create: false }), migrations })
  assert.equal(again.prepare('SELECT body FROM notes').get()?.body, 'secret-marker-7f3a')
  assert.equal(schemaVersion(again), 2)
  again.close()
})

test('wrong passphrase gives WRONG_KEY and leaves the file intact', (t) => {
  const dir = tempDir(t)
  const path = join(dir, DATABASE_FILE)
  const db = openDatabase({ path, key: resolveDatabaseKey(dir, { create: true, passphrase: 'correct horse' }), migrations })
  db.prepare('INSERT INTO notes (body) VALUES (?)').run(['kept'])
  db.close()
  const before = readFileSync(path)
  assert.throws(
    () => openDatabase({ path, key: resolveDatabaseKey(dir, { create: false, passphrase: 'wrong horse' }), migrations }),
    (err) => StoreError.is(err, 'WRONG_KEY')
  )
  assert.throws(() => resolveDatabaseKey(dir, { create: false }), (err) => StoreError.is(err, 'PASSPHRASE_REQUIRED'))
  assert.deepEqual(readFileSync(path), before)
  const ok = openDatabase({ path, key: resolveDatabaseKey(dir, { create: false, passphrase: 'correct horse' }), migrations })
  assert.equal(ok.prepare('SELECT body FROM notes').get()?.body, 'kept')
  ok.close()
})

test('migrations apply in order, one at a time, and a failing one rolls back', (t) => {
  const dir = tempDir(t)
  const key = resolveDatabaseKey(dir, { create: true })
  const path = join(dir, DATABASE_FILE)
  openDatabase({ path, key, migrations: migrations.slice(0, 1) }).close()
  const bad: Migration[] = [...migrations, { version: 3, name: 'broken', up: 'CREATE TABLE x (a); SELECT nope FROM missing' }]
  assert.throws(() => openDatabase({ path, key, migrations: bad }), (err) => StoreError.is(err, 'MIGRATION_FAILED'))
  const db = openDatabase({ path, key, migrations })
  assert.equal(schemaVersion(db), 2)
  assert.equal(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'x'").get()?.n, 0)
  db.close()
  assert.throws(() => openDatabase({ path, key, migrations: migrations.slice(0, 1) }), (err) => StoreError.is(err, 'SCHEMA_TOO_NEW'))
})
