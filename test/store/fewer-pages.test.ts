// Issue 10, store migration 17: fewer pages written by each commit of the per-message path. Session records, outbox
// rows and received envelopes move to rowid tables (every row, constraint and index kept), messages_by_seq indexes
// incoming messages only, a session row of unchanged length is overwritten in place, and pruning the duplicate filter
// reads its rows in arrival order.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { IdentityKeyPair, ProtocolAddress, type SessionRecord } from '@signalapp/libsignal-client'
import { DATABASE_FILE, addWalHook, openDatabase, resolveDatabaseKey, type Database } from '../../src/store/db.ts'
import { DEVICE_PAGE_SIZE, MIGRATIONS } from '../../src/store/schema.ts'
import { SESSION_ROW_QUANTUM, SignalStores, sessionPad } from '../../src/store/signal-stores.ts'
import { History, PRUNE_ENVELOPES, historySql } from '../../src/messenger/history.ts'
import { tempDir } from '../e2ee/helpers.ts'
import { addContact } from '../helpers/store-rows.ts'

function plan (db: Database, sql: string): string[] {
  const n = (sql.match(/\?/g) ?? []).length
  return db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(Array.from({ length: n }, () => null)).map((r) => String(r.detail))
}

const TABLES = { signal_sessions: 'address', outbox: 'contact_id, message_id', received_envelopes: 'hash', messages: 'contact_id, direction, id' } as const

function rows (db: Database, table: keyof typeof TABLES): unknown[] {
  const columns = table === 'signal_sessions' ? 'address, record' : '*'
  return db.prepare(`SELECT ${columns} FROM ${table} ORDER BY ${TABLES[table]}`).all()
}

function tableSql (db: Database, name: string): string {
  return String(db.prepare('SELECT sql FROM sqlite_master WHERE type = \'table\' AND name = ?').get([name])?.sql)
}

function indexes (db: Database, table: string): string[] {
  return db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? ORDER BY name").all([table]).map((r) => String(r.name))
}

test('migration 17: a version 16 store keeps every session, outbox row, received envelope and message, in rowid tables with their constraints and indexes', (t) => {
  const dir = tempDir(t, '0m1-migrate17-')
  const key = resolveDatabaseKey(dir, { create: true })
  const path = join(dir, DATABASE_FILE)
  const before = MIGRATIONS.findIndex((m) => m.name.startsWith('fewer pages per commit'))
  assert.equal(before, 16)
  const old = openDatabase({ path, key, migrations: MIGRATIONS.slice(0, before), pageSize: DEVICE_PAGE_SIZE })
  for (const c of ['c1', 'c22']) addContact(old, c)
  assert.match(tableSql(old, 'outbox'), /WITHOUT ROWID/)
  // Version 16's sequence index covered both directions: migration 17 replaces it.
  assert.deepEqual(old.prepare("SELECT name FROM pragma_index_info('messages_by_seq')").all().map((r) => r.name), ['contact_id', 'direction', 'seq'])
  const session = old.prepare('INSERT INTO signal_sessions (address, record) VALUES (?, ?)')
  session.run(['addr-c1', randomBytes(5600)])
  session.run(['addr-c22', randomBytes(900)])
  const h = new History(old, { searchIdleMs: false })
  // Messages and outbox rows as History wrote them then (its conversation rows now need migration 18's columns).
  const out = old.prepare("INSERT INTO messages (contact_id, direction, id, seq, text, state, at, sent_at) VALUES (?, 'out', ?, ?, ?, 'queued', ?, ?)")
  const box = old.prepare(`INSERT INTO outbox (contact_id, message_id, kind, envelope, attempts, next_attempt_at, expires_at, state, created_at)
    VALUES (?, ?, 'text', ?, 0, ?, ?, 'pending', ?)`)
  const inc = old.prepare(`INSERT INTO messages (contact_id, direction, id, seq, text, state, path, at, sent_at, gap_before)
    VALUES (?, 'in', ?, ?, ?, 'delivered', 'direct', ?, ?, 0)`)
  for (let i = 1; i <= 30; i++) {
    const c = i % 2 === 0 ? 'c1' : 'c22'
    out.run([c, `o${i}`, i, `out ${i}`, 1000 + i, 1000 + i])
    box.run([c, `o${i}`, randomBytes(100 * i), 5000 - i, 1e12, 1000 + i])
    inc.run([c, `i${i}`, i, `in ${i}`, 1000 + i, i])
    // Arrival times out of order: the copy keeps them as they are.
    h.rememberEnvelope(randomBytes(32), c, i % 3 === 0 ? null : `i${i}`, 1000 + ((i * 7) % 30))
  }
  h.rescheduleOutbox('c1', 'o2', { attempts: 3, nextAttemptAt: 9, state: 'stored' })
  const was = Object.fromEntries(Object.keys(TABLES).map((k) => [k, rows(old, k as keyof typeof TABLES)]))
  old.close()

  const db = openDatabase({ path, key, migrations: MIGRATIONS, pageSize: DEVICE_PAGE_SIZE })
  t.after(() => { db.close() })
  for (const k of Object.keys(TABLES)) assert.deepEqual(rows(db, k as keyof typeof TABLES), was[k], k)
  assert.equal(db.pragma('integrity_check', { simple: true }), 'ok')
  assert.deepEqual(db.pragma('foreign_key_check'), [])
  for (const table of ['signal_sessions', 'outbox', 'received_envelopes']) {
    assert.doesNotMatch(tableSql(db, table), /WITHOUT ROWID/, table)
    assert.equal(indexes(db, table).filter((n) => n === `sqlite_autoindex_${table}_1`).length, 1, `${table}'s primary key`)
  }
  assert.deepEqual(indexes(db, 'outbox'), ['outbox_by_due_time', 'sqlite_autoindex_outbox_1'])
  assert.deepEqual(indexes(db, 'received_envelopes'), ['sqlite_autoindex_received_envelopes_1'])
  // messages_by_time went in migration 18 (test/store/last-message.test.ts).
  assert.deepEqual(indexes(db, 'messages'), ['messages_by_seq', 'messages_unread'])
  assert.deepEqual(db.prepare("SELECT name FROM pragma_index_info('messages_by_seq')").all().map((r) => r.name), ['contact_id', 'seq'])
  assert.match(String((db.prepare("SELECT sql FROM sqlite_master WHERE name = 'messages_by_seq'").get() as { sql: string }).sql), /WHERE direction = 'in'/)
  assert.deepEqual(db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'messages' ORDER BY name").all().map((r) => r.name),
    ['messages_fts_delete', 'messages_fts_update', 'messages_search_pending'])
  // Received envelopes copied in arrival-time order: pruning reads them in that order.
  const ats = db.prepare('SELECT at FROM received_envelopes ORDER BY rowid').all().map((r) => Number(r.at))
  assert.deepEqual(ats, [...ats].sort((a, b) => a - b))

  // The constraints came along: keys unique, states checked, NOT NULL, rows of a deleted contact deleted with it.
  const h2 = new History(db, { searchIdleMs: false })
  assert.throws(() => { h2.queueControl('c1', 'o2', new Uint8Array(1), 1, 2) }, /UNIQUE|PRIMARY/)
  assert.throws(() => db.prepare("INSERT INTO outbox (contact_id, message_id, envelope, next_attempt_at, expires_at, state, created_at) VALUES ('c1', 'x', x'00', 1, 2, 'bogus', 1)").run(), /CHECK/)
  assert.throws(() => db.prepare("INSERT INTO signal_sessions (address, record) VALUES ('addr-c1', x'00')").run(), /UNIQUE|PRIMARY/)
  assert.throws(() => db.prepare('INSERT INTO signal_sessions (address, record) VALUES (NULL, x\'00\')').run(), /NOT NULL/)
  assert.throws(() => db.prepare("INSERT INTO received_envelopes (hash, contact_id, at) VALUES (NULL, 'c1', 1)").run(), /NOT NULL/)
  assert.throws(() => db.prepare("INSERT INTO outbox (contact_id, message_id, envelope, next_attempt_at, expires_at, state, created_at) VALUES ('nobody', 'x', x'00', 1, 2, 'pending', 1)").run(), /FOREIGN KEY/)
  const hash = (db.prepare('SELECT hash FROM received_envelopes ORDER BY rowid LIMIT 1').get()?.hash as Uint8Array)
  h2.rememberEnvelope(hash, 'c1', 'again', 1)
  assert.equal(db.prepare('SELECT count(*) AS n FROM received_envelopes').get()?.n, 30)
  db.prepare("DELETE FROM contacts WHERE id = 'c22'").run()
  for (const table of ['outbox', 'received_envelopes', 'messages']) {
    assert.equal(db.prepare(`SELECT count(*) AS n FROM ${table} WHERE contact_id = 'c22'`).get()?.n, 0, table)
    assert.equal(db.prepare(`SELECT count(*) AS n FROM ${table} WHERE contact_id = 'c1'`).get()?.n, table === 'messages' ? 30 : 15, table)
  }
  assert.equal(h2.due(5000, 100).length, 15)
  assert.equal(h2.outbox('c1', 'o2')?.state, 'stored')
})

test('migration 17: the outbox, duplicate filter and gap look-ups are read by index, and pruning reads the received envelopes in arrival order', (t) => {
  const dir = tempDir(t, '0m1-plans17-')
  const db = openDatabase({ path: join(dir, DATABASE_FILE), key: resolveDatabaseKey(dir, { create: true }), migrations: MIGRATIONS })
  t.after(() => { db.close() })
  const search = (q: Parameters<typeof historySql>[0], index: string): void => {
    const details = plan(db, historySql(q))
    assert.ok(details.some((d) => d.includes(index)), `${q}: ${details.join(' | ')}`)
  }
  for (const q of ['outbox', 'reschedule', 'removeOutbox'] as const) search(q, 'INDEX sqlite_autoindex_outbox_1 (contact_id=? AND message_id=?)')
  search('due', 'INDEX outbox_by_due_time (next_attempt_at<?)')
  search('nextDue', 'INDEX outbox_by_due_time (next_attempt_at>?)')
  search('seen', 'INDEX sqlite_autoindex_received_envelopes_1 (hash=?)')
  search('seqBelow', 'COVERING INDEX messages_by_seq (contact_id=? AND seq<?)')
  search('seqAbove', 'COVERING INDEX messages_by_seq (contact_id=? AND seq>?)')
  // Pruning deletes by rowid below the first envelope young enough, found by reading from the oldest: what it
  // deletes and one row more (the behaviour below), never a sort or a second pass over the table.
  const prune = plan(db, PRUNE_ENVELOPES)
  assert.ok(prune[0]?.startsWith('SEARCH received_envelopes USING INTEGER PRIMARY KEY (rowid<?)'), prune.join(' | '))
  for (const d of prune) assert.ok(!d.includes('TEMP B-TREE'), d)
})

test('pruning received envelopes: the oldest go, up to the first one young enough; one stamped by a clock that was ahead holds the later ones', (t) => {
  const dir = tempDir(t, '0m1-prune17-')
  const db = openDatabase({ path: join(dir, DATABASE_FILE), key: resolveDatabaseKey(dir, { create: true }), migrations: MIGRATIONS })
  t.after(() => { db.close() })
  addContact(db, 'c1')
  const h = new History(db, { searchIdleMs: false })
  const hashes = [10, 20, 30, 500, 40, 50].map((at, i) => {
    const hash = Buffer.alloc(32, i + 1)
    h.rememberEnvelope(hash, 'c1', `m${i}`, at)
    return hash
  })
  const left = (): number[] => hashes.flatMap((hash, i) => h.seenEnvelope(hash) === undefined ? [] : [i])
  h.pruneEnvelopes(5)
  assert.deepEqual(left(), [0, 1, 2, 3, 4, 5])
  h.pruneEnvelopes(25)
  assert.deepEqual(left(), [2, 3, 4, 5])
  // 40 and 50 are older than 100, but came after the one stamped 500: kept (a hash kept longer only filters longer).
  h.pruneEnvelopes(100)
  assert.deepEqual(left(), [3, 4, 5])
  h.pruneEnvelopes(501)
  assert.deepEqual(left(), [])
  h.pruneEnvelopes(1000)
  h.rememberEnvelope(hashes[0] as Buffer, 'c1', 'm0', 1)
  assert.deepEqual(left(), [0])
})

test('a session row whose record changes length inside SESSION_ROW_QUANTUM is overwritten in place: no page taken or freed, only its own pages written', async (t) => {
  const dir = tempDir(t, '0m1-session17-')
  const db = openDatabase({ path: join(dir, DATABASE_FILE), key: resolveDatabaseKey(dir, { create: true }), migrations: MIGRATIONS, pageSize: DEVICE_PAGE_SIZE })
  t.after(() => { db.close() })
  const stores = new SignalStores(db, IdentityKeyPair.generate().serialize(), 1)
  const address = ProtocolAddress.new('bob', 1)
  // A stand-in for libsignal's record: the store only serializes it (real records are 1 to 6 KB and change length by
  // tens of bytes a step).
  const save = async (length: number): Promise<void> => {
    const bytes = randomBytes(length)
    await stores.atomically(async () => { await stores.saveSession(address, { serialize: () => bytes } as unknown as SessionRecord) })
  }
  const base = 5 * SESSION_ROW_QUANTUM * 2
  await save(base)
  assert.equal(sessionPad(base) + base, 11 * SESSION_ROW_QUANTUM)
  let walPages = 0
  let last = 0
  addWalHook(db, (_name, pages) => { walPages = pages - last; last = pages })
  db.pragma('wal_checkpoint(TRUNCATE)')
  const pageCount = db.pragma('page_count', { simple: true })
  const free = db.pragma('freelist_count', { simple: true })
  const written: number[] = []
  for (let d = 10; d < SESSION_ROW_QUANTUM - 64; d += 37) {
    last = 0
    db.pragma('wal_checkpoint(TRUNCATE)')
    await save(base + d)
    written.push(walPages)
    assert.equal(db.pragma('page_count', { simple: true }), pageCount)
    assert.equal(db.pragma('freelist_count', { simple: true }), free)
    assert.equal((db.prepare('SELECT length(record) AS n FROM signal_sessions').get()?.n), base + d)
  }
  // The row is 5,632 bytes and its address: its table page and two overflow pages at 2,048-byte pages. A row
  // rewritten as a new cell writes its new overflow pages, the old ones zeroed, the free list and the header page.
  for (const n of written) assert.ok(n <= 3, `a session update wrote ${n} pages (${written.join(', ')})`)
})
