// Issue 10: the device store's pages are DEVICE_PAGE_SIZE (SQLCipher encrypts and HMACs each page a commit writes,
// whole). A store made before (SQLCipher's default page size, as main made every store) is rewritten once at open with
// the same key and everything in it; a wrong key is still WRONG_KEY; a conversion that fails leaves the original
// store as it was, which then opens at its old page size and is converted at a later open.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import Database from '@signalapp/sqlcipher'
import { DATABASE_FILE, SQLCIPHER_DEFAULT_PAGE_SIZE, openDatabase, resolveDatabaseKey, schemaVersion, type Database as Db } from '../../src/store/db.ts'
import { StoreError } from '../../src/store/errors.ts'
import { DEVICE_PAGE_SIZE, MIGRATIONS } from '../../src/store/schema.ts'
import { History } from '../../src/messenger/history.ts'
import { ChatStore } from '../../src/messenger/chat/chat-store.ts'
import { createLogger } from '../../src/platform/logger.ts'
import { tempDir } from '../e2ee/helpers.ts'
import { addContact } from '../helpers/store-rows.ts'

const MARKER = 'page-size-marker-41c9'

/** A store as main made it (SQLCipher's default page size) with a contact, messages, an outbox row, a session. */
function legacyStore (t: { after: (fn: () => void) => void }): { dir: string, path: string, key: Buffer, record: Buffer } {
  const dir = tempDir(t, '0m1-pagesize-')
  const key = resolveDatabaseKey(dir, { create: true })
  const path = join(dir, DATABASE_FILE)
  const db = openDatabase({ path, key, migrations: MIGRATIONS })
  addContact(db, 'c1')
  const h = new History(db)
  for (let i = 1; i <= 40; i++) h.receive({ contactId: 'c1', id: `m${i}`, seq: i, text: `${MARKER} number ${i}`, sentAt: i, at: i, path: 'direct' })
  h.queueOutgoing({ contactId: 'c1', id: 'o1', seq: 1, text: 'outgoing', at: 50, envelope: randomBytes(700), expiresAt: 1e12 })
  const record = randomBytes(5600)
  db.prepare('INSERT INTO signal_sessions (address, record) VALUES (?, ?)').run(['bob.1', record])
  // Half the messages in the search index, half still pending: both must survive.
  new ChatStore(db, h.searchIndex).search('number')
  for (let i = 41; i <= 60; i++) h.receive({ contactId: 'c1', id: `m${i}`, seq: i, text: `${MARKER} number ${i}`, sentAt: i, at: i, path: 'direct' })
  h.flush()
  assert.equal(pageSizeOf(path, key), SQLCIPHER_DEFAULT_PAGE_SIZE)
  db.close()
  return { dir, path, key, record }
}

/** The page size a store file opens with (SQLCipher cannot read it from the encrypted file: try each). */
function pageSizeOf (path: string, key: Uint8Array): number | undefined {
  for (const size of [1024, 2048, 4096, 8192]) {
    const db = new Database(path)
    try {
      db.pragma('cipher_log_level = NONE')
      db.pragma(`key = "x'${Buffer.from(key).toString('hex')}'"`)
      db.pragma(`cipher_page_size = ${size}`)
      db.prepare('SELECT count(*) FROM sqlite_master').get()
      return size
    } catch {
      // not this size
    } finally {
      db.close()
    }
  }
  return undefined
}

function contents (db: Db): unknown {
  return {
    version: schemaVersion(db),
    messages: db.prepare('SELECT * FROM messages ORDER BY contact_id, direction, id').all(),
    outbox: db.prepare('SELECT * FROM outbox').all(),
    sessions: db.prepare('SELECT * FROM signal_sessions').all(),
    conversations: db.prepare('SELECT * FROM conversations').all(),
    schema: db.prepare('SELECT type, name, sql FROM sqlite_master ORDER BY name').all()
  }
}

test('page size: a new device store is made at DEVICE_PAGE_SIZE and reopens', (t) => {
  const dir = tempDir(t, '0m1-pagesize-')
  const key = resolveDatabaseKey(dir, { create: true })
  const path = join(dir, DATABASE_FILE)
  const db = openDatabase({ path, key, migrations: MIGRATIONS, pageSize: DEVICE_PAGE_SIZE })
  addContact(db, 'c1')
  db.close()
  assert.equal(pageSizeOf(path, key), DEVICE_PAGE_SIZE)
  const again = openDatabase({ path, key, migrations: MIGRATIONS, pageSize: DEVICE_PAGE_SIZE })
  assert.equal(Number(again.prepare('SELECT count(*) AS n FROM contacts').get()?.n), 1)
  again.close()
})

test('page size: a store made by main is converted at open, with all its rows, key, schema version and search index', (t) => {
  const { dir, path, key, record } = legacyStore(t)
  const legacy = openDatabase({ path, key, migrations: MIGRATIONS })
  const before = contents(legacy)
  legacy.close()

  const db = openDatabase({ path, key, migrations: MIGRATIONS, pageSize: DEVICE_PAGE_SIZE })
  assert.deepEqual(contents(db), before)
  assert.ok(record.equals(db.prepare("SELECT record FROM signal_sessions WHERE address = 'bob.1'").get()?.record as Uint8Array))
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal')
  assert.equal(db.pragma('quick_check', { simple: true }), 'ok')
  // The search finds the messages indexed before the conversion and those still pending then.
  const h = new History(db)
  const chat = new ChatStore(db, h.searchIndex)
  assert.deepEqual(chat.search('7').map((x) => x.messageId), ['m7'])
  assert.deepEqual(chat.search('57').map((x) => x.messageId), ['m57'])
  // It takes writes, and they persist at the new page size.
  h.receive({ contactId: 'c1', id: 'm61', seq: 61, text: 'after', sentAt: 61, at: 61, path: 'direct' })
  db.pragma('wal_checkpoint(TRUNCATE)')
  db.close()
  assert.equal(pageSizeOf(path, key), DEVICE_PAGE_SIZE)
  assert.ok(!readFileSync(path).includes(MARKER), 'the converted file holds no plaintext')
  assert.equal(statSync(path).mode & 0o777, 0o600)
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes('converting')), [])
  const again = openDatabase({ path, key, migrations: MIGRATIONS, pageSize: DEVICE_PAGE_SIZE })
  assert.equal(Number(again.prepare('SELECT count(*) AS n FROM messages').get()?.n), 62)
  again.close()
})

test('page size: a wrong key on a store made by main is WRONG_KEY and changes nothing', (t) => {
  const { path, key } = legacyStore(t)
  const before = readFileSync(path)
  assert.throws(() => openDatabase({ path, key: randomBytes(32), migrations: MIGRATIONS, pageSize: DEVICE_PAGE_SIZE }), (err) => StoreError.is(err, 'WRONG_KEY'))
  assert.deepEqual(readFileSync(path), before)
  assert.equal(pageSizeOf(path, key), SQLCIPHER_DEFAULT_PAGE_SIZE)
})

test('page size: a conversion that fails leaves the store as it was, open at its old size; a later open converts it', (t) => {
  const { path, key } = legacyStore(t)
  const legacy = openDatabase({ path, key, migrations: MIGRATIONS })
  const before = contents(legacy)
  legacy.close()
  // Something in the way of the converted copy (here a directory where it goes): the copy cannot be made.
  mkdirSync(path + '.converting')
  writeFileSync(join(path + '.converting', 'x'), 'x')
  const lines: string[] = []
  const logger = createLogger({ level: 'debug', sink: (line) => { lines.push(line) } })
  const db = openDatabase({ path, key, migrations: MIGRATIONS, pageSize: DEVICE_PAGE_SIZE, logger })
  assert.deepEqual(contents(db), before)
  // The failure is reported with a reason code, and the log names no path and no key.
  assert.equal(lines.length, 1)
  assert.match(lines[0] ?? '', / warn .*store\.page_size_conversion_failed reason=[A-Z0-9_]+ from=4096 to=2048$/)
  assert.ok(!lines[0]?.includes(path) && !lines[0]?.includes('converting') && !lines[0]?.includes(key.toString('hex')))
  new History(db).receive({ contactId: 'c1', id: 'm61', seq: 61, text: 'still works', sentAt: 61, at: 61, path: 'direct' })
  db.close()
  assert.equal(pageSizeOf(path, key), SQLCIPHER_DEFAULT_PAGE_SIZE)

  rmSync(path + '.converting', { recursive: true })
  // A crash during an earlier conversion left a partial copy: it is replaced, not used.
  writeFileSync(path + '.converting', randomBytes(3000))
  const converted = openDatabase({ path, key, migrations: MIGRATIONS, pageSize: DEVICE_PAGE_SIZE })
  assert.equal(Number(converted.prepare('SELECT count(*) AS n FROM messages').get()?.n), 62)
  converted.close()
  assert.equal(pageSizeOf(path, key), DEVICE_PAGE_SIZE)
  assert.ok(!existsSync(path + '.converting'))
})

test('page size: a store opened without naming a page size opens at the one it has, unchanged (tools, tests)', (t) => {
  const dir = tempDir(t, '0m1-pagesize-')
  const key = resolveDatabaseKey(dir, { create: true })
  const path = join(dir, DATABASE_FILE)
  const device = openDatabase({ path, key, migrations: MIGRATIONS, pageSize: DEVICE_PAGE_SIZE })
  addContact(device, 'c1')
  device.close()
  const db = openDatabase({ path, key, migrations: MIGRATIONS })
  assert.equal(Number(db.prepare('SELECT count(*) AS n FROM contacts').get()?.n), 1)
  assert.equal(db.pragma('cipher_page_size', { simple: true }), String(DEVICE_PAGE_SIZE))
  db.close()
  assert.equal(pageSizeOf(path, key), DEVICE_PAGE_SIZE)
  assert.throws(() => openDatabase({ path, key: randomBytes(32), migrations: MIGRATIONS }), (err) => StoreError.is(err, 'WRONG_KEY'))
})

test('page size: a store another connection holds locked is OPEN_FAILED (SQLITE_BUSY), not WRONG_KEY, at any page size', (t) => {
  const { path, key } = legacyStore(t)
  // Another process holding the store: an exclusive lock taken by a write, kept (locking_mode EXCLUSIVE).
  const holder = new Database(path)
  let held = true
  t.after(() => { if (held) holder.close() })
  holder.pragma(`key = "x'${key.toString('hex')}'"`)
  holder.pragma(`cipher_page_size = ${SQLCIPHER_DEFAULT_PAGE_SIZE}`)
  holder.pragma('journal_mode = DELETE')
  holder.pragma('locking_mode = EXCLUSIVE')
  holder.exec("INSERT INTO settings (key, value) VALUES ('held', 'x')")
  for (const pageSize of [DEVICE_PAGE_SIZE, undefined]) {
    assert.throws(() => openDatabase({ path, key, migrations: MIGRATIONS, pageSize }), (err) =>
      StoreError.is(err, 'OPEN_FAILED') && (err as { cause?: { code?: string } }).cause?.code === 'SQLITE_BUSY')
  }
  holder.close()
  held = false
  const db = openDatabase({ path, key, migrations: MIGRATIONS, pageSize: DEVICE_PAGE_SIZE })
  assert.equal(db.prepare("SELECT value FROM settings WHERE key = 'held'").get()?.value, 'x')
  db.close()
})

test('page size: a store made at another size by a newer version (higher schema) is SCHEMA_TOO_NEW and not converted', (t) => {
  const { path, key } = legacyStore(t)
  const newer = openDatabase({ path, key, migrations: MIGRATIONS })
  newer.pragma(`user_version = ${MIGRATIONS.length + 1}`)
  newer.close()
  const before = readFileSync(path)
  assert.throws(() => openDatabase({ path, key, migrations: MIGRATIONS, pageSize: DEVICE_PAGE_SIZE }), (err) => StoreError.is(err, 'SCHEMA_TOO_NEW'))
  assert.equal(pageSizeOf(path, key), SQLCIPHER_DEFAULT_PAGE_SIZE)
  assert.deepEqual(readFileSync(path), before)
  assert.ok(!existsSync(path + '.converting'))
})

test('page size: a symlinked store is opened as it is, not converted (the link stays a link), and says why', (t) => {
  const { dir, path, key } = legacyStore(t)
  const real = join(dir, 'elsewhere.db')
  renameSync(path, real)
  symlinkSync(real, path)
  const lines: string[] = []
  const logger = createLogger({ level: 'debug', sink: (line) => { lines.push(line) } })
  const db = openDatabase({ path, key, migrations: MIGRATIONS, pageSize: DEVICE_PAGE_SIZE, logger })
  assert.equal(Number(db.prepare('SELECT count(*) AS n FROM messages').get()?.n), 61)
  db.close()
  assert.ok(lstatSync(path).isSymbolicLink())
  assert.equal(pageSizeOf(real, key), SQLCIPHER_DEFAULT_PAGE_SIZE)
  assert.equal(lines.length, 1)
  assert.match(lines[0] ?? '', /store\.page_size_conversion_failed reason=SYMLINK from=4096 to=2048$/)
})

test('page size: a store made by main whose WAL still holds committed transactions (copied while open) converts with every row', (t) => {
  const { dir, path, key } = legacyStore(t)
  const legacy = openDatabase({ path, key, migrations: MIGRATIONS })
  const h = new History(legacy)
  for (let i = 61; i <= 90; i++) h.receive({ contactId: 'c1', id: `m${i}`, seq: i, text: `${MARKER} in the WAL ${i}`, sentAt: i, at: i, path: 'direct' })
  legacy.prepare("INSERT INTO settings (key, value) VALUES ('wal-only', 'yes')").run()
  const before = contents(legacy)
  // The files as a crash (or a kill) leaves them: the database file, and the WAL holding the last commits.
  const copyDir = tempDir(t, '0m1-pagesize-wal-')
  const copy = join(copyDir, DATABASE_FILE)
  copyFileSync(path, copy)
  copyFileSync(path + '-wal', copy + '-wal')
  legacy.close()
  assert.ok(statSync(copy + '-wal').size > 0, 'the copied WAL holds frames')
  assert.equal(readdirSync(dir).filter((f) => f.endsWith('-wal')).length, 0)

  const db = openDatabase({ path: copy, key, migrations: MIGRATIONS, pageSize: DEVICE_PAGE_SIZE })
  assert.deepEqual(contents(db), before)
  assert.equal(db.prepare("SELECT value FROM settings WHERE key = 'wal-only'").get()?.value, 'yes')
  assert.equal(db.pragma('quick_check', { simple: true }), 'ok')
  db.close()
  assert.equal(pageSizeOf(copy, key), DEVICE_PAGE_SIZE)
})
