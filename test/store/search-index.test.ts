// Issue 10, migration 13: stored messages reach the full-text index in batches (src/store/search-index.ts), yet a
// search always sees every message: pending ones are indexed first. Edits, deletions and a deleted contact of a
// message still pending leave the index right; a full batch is indexed in the commit that fills it; a store of
// migration 12 keeps its index; the indexer's statements find rows by key (EXPLAIN QUERY PLAN).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { DATABASE_FILE, openDatabase, resolveDatabaseKey, type Database } from '../../src/store/db.ts'
import { MIGRATIONS } from '../../src/store/schema.ts'
import { INDEX_STATEMENTS, PENDING_INDEX_BATCH, SEARCH_IDLE_MS } from '../../src/store/search-index.ts'
import { History } from '../../src/messenger/history.ts'
import { ChatStore } from '../../src/messenger/chat/chat-store.ts'
import { tempDir } from '../e2ee/helpers.ts'
import { addContact } from '../helpers/store-rows.ts'

function open (t: { after: (fn: () => void) => void }, migrations = MIGRATIONS): { db: Database, path: string, key: Buffer } {
  const dir = tempDir(t as never, '0m1-search-')
  const key = resolveDatabaseKey(dir, { create: true })
  const path = join(dir, DATABASE_FILE)
  const db = openDatabase({ path, key, migrations })
  return { db, path, key }
}

const pending = (db: Database): number => Number(db.prepare('SELECT count(*) AS n FROM search_pending').get()?.n)
const indexed = (db: Database): number => Number(db.prepare('SELECT count(*) AS n FROM message_search').get()?.n)
const ids = (chat: ChatStore, q: string): string[] => chat.search(q).map((h) => h.messageId).sort()

test('search index: a stored message waits outside the index, and a search indexes it first', (t) => {
  const { db } = open(t)
  t.after(() => { db.close() })
  addContact(db, 'c1')
  const h = new History(db)
  const chat = new ChatStore(db, h.searchIndex)
  h.receive({ contactId: 'c1', id: 'm1', seq: 1, text: 'the swordfish swims', sentAt: 1, at: 1, path: 'direct' })
  h.queueOutgoing({ contactId: 'c1', id: 'o1', seq: 1, text: 'a swordfish too', at: 2, envelope: new Uint8Array(4), expiresAt: 99 })
  // Stored, durable, not yet in the index: the commit that stored them wrote only their keys.
  assert.equal(pending(db), 2)
  assert.equal(indexed(db), 0)
  assert.deepEqual(ids(chat, 'swordfish'), ['m1', 'o1'])
  assert.equal(pending(db), 0)
  assert.equal(indexed(db), 2)
  // Indexed once: a second search finds the same, and a new message is found beside them.
  h.receive({ contactId: 'c1', id: 'm2', seq: 2, text: 'swordfish again', sentAt: 3, at: 3, path: 'direct' })
  assert.deepEqual(ids(chat, 'swordfish'), ['m1', 'm2', 'o1'])
  // A duplicate receive stores nothing and leaves nothing pending.
  assert.equal(h.receive({ contactId: 'c1', id: 'm2', seq: 2, text: 'swordfish again', sentAt: 3, at: 3, path: 'direct' }), undefined)
  assert.equal(pending(db), 0)
  h.flush()
})

test('search index: an edit, a deletion for everyone, a deletion for me and a deleted contact of a pending message', (t) => {
  const { db } = open(t)
  t.after(() => { db.close() })
  addContact(db, 'c1')
  addContact(db, 'cc2')
  const h = new History(db)
  const chat = new ChatStore(db, h.searchIndex)
  const recv = (contactId: string, id: string, seq: number, text: string): void => { h.receive({ contactId, id, seq, text, sentAt: seq, at: seq, path: 'direct' }) }
  recv('c1', 'edited', 1, 'umbrella')
  recv('c1', 'wiped', 2, 'umbrella')
  recv('c1', 'removed', 3, 'umbrella')
  recv('cc2', 'gone', 1, 'umbrella')
  recv('c1', 'kept', 4, 'umbrella')
  assert.equal(pending(db), 5)
  assert.ok(chat.edit('c1', 'in', 'edited', 'parasol', 10))
  assert.ok(chat.markDeleted('c1', 'in', 'wiped', 11))
  assert.ok(chat.remove('c1', 'in', 'removed'))
  db.prepare("DELETE FROM contacts WHERE id = 'cc2'").run()
  // The keys stay pending (appended, never looked up one by one); the indexer skips those whose message went.
  assert.equal(pending(db), 5)
  assert.deepEqual(ids(chat, 'umbrella'), ['kept'])
  assert.deepEqual(ids(chat, 'parasol'), ['edited'])
  // Once indexed, the same changes go through the index itself (migration 8's triggers).
  assert.ok(chat.edit('c1', 'in', 'kept', 'raincoat', 12))
  assert.deepEqual(ids(chat, 'umbrella'), [])
  assert.deepEqual(ids(chat, 'raincoat'), ['kept'])
  assert.ok(chat.remove('c1', 'in', 'kept'))
  assert.deepEqual(ids(chat, 'raincoat'), [])
  assert.equal(indexed(db), 2)
  h.flush()
})

test(`search index: the ${PENDING_INDEX_BATCH}th pending message is indexed with the rest in the commit that stores it`, (t) => {
  const { db } = open(t)
  t.after(() => { db.close() })
  addContact(db, 'c1')
  const h = new History(db)
  for (let i = 1; i < PENDING_INDEX_BATCH; i++) h.receive({ contactId: 'c1', id: `m${i}`, seq: i, text: `word${i}`, sentAt: i, at: i, path: 'direct' })
  assert.equal(pending(db), PENDING_INDEX_BATCH - 1)
  // A batch that fails leaves everything pending as it was.
  assert.throws(() => h.transaction(() => {
    h.receive({ contactId: 'c1', id: 'x', seq: PENDING_INDEX_BATCH, text: 'wordx', sentAt: 0, at: 0, path: 'direct' })
    throw new Error('the batch fails')
  }), /the batch fails/)
  assert.equal(pending(db), PENDING_INDEX_BATCH - 1)
  assert.equal(indexed(db), 0)
  h.receive({ contactId: 'c1', id: 'last', seq: PENDING_INDEX_BATCH + 1, text: 'wordlast', sentAt: 0, at: 0, path: 'direct' })
  assert.equal(pending(db), 0)
  assert.equal(indexed(db), PENDING_INDEX_BATCH)
  assert.deepEqual(ids(new ChatStore(db, h.searchIndex), 'wordlast'), ['last'])
  h.flush()
})

test('search index: a store indexed before migration 13 keeps its index and adds new messages to it', (t) => {
  const before = MIGRATIONS.findIndex((m) => m.name.startsWith('search index written in batches'))
  assert.ok(before > 0)
  const { db: old, path, key } = open(t, MIGRATIONS.slice(0, before))
  addContact(old, 'c1')
  old.prepare("INSERT INTO messages (contact_id, direction, id, seq, text, state, at) VALUES ('c1', 'in', 'old', 1, 'lighthouse', 'delivered', 1)").run()
  assert.equal(indexed(old), 1)
  old.close()
  const db = openDatabase({ path, key, migrations: MIGRATIONS })
  t.after(() => { db.close() })
  const h = new History(db)
  h.receive({ contactId: 'c1', id: 'new', seq: 2, text: 'lighthouse', sentAt: 2, at: 2, path: 'direct' })
  assert.equal(pending(db), 1)
  assert.deepEqual(ids(new ChatStore(db, h.searchIndex), 'lighthouse'), ['new', 'old'])
  h.flush()
})

test('search index: the indexer reads the pending keys in one pass and finds each message by key (EXPLAIN QUERY PLAN)', (t) => {
  const { db } = open(t)
  t.after(() => { db.close() })
  const plan = (sql: string): string[] => db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all().map((r) => String(r.detail))
  for (const sql of INDEX_STATEMENTS.filter((q) => q.includes('JOIN'))) {
    const details = plan(sql)
    // The pending table is read whole (it holds at most a batch); every other table by key (FTS5 by rowid: its
    // "scan" of index 0 with an = constraint is a look-up).
    const scans = details.filter((d) => /^SCAN /.test(d) && !/VIRTUAL TABLE INDEX 0:=$/.test(d))
    assert.deepEqual(scans.map((d) => d.split(' ')[1]), ['p'], details.join('; '))
    assert.ok(details.some((d) => /^SEARCH m USING PRIMARY KEY \(contact_id=\? AND direction=\? AND id=\?\)/.test(d)), details.join('; '))
    assert.ok(details.every((d) => !d.includes('TEMP B-TREE') || d.includes('DISTINCT')), details.join('; '))
  }
  assert.ok(plan(INDEX_STATEMENTS[1] ?? '').some((d) => /^SEARCH s USING (COVERING )?INDEX .*\(contact_id=\? AND direction=\? AND id=\?\)/.test(d)))
})

test('search index: a store left idle for SEARCH_IDLE_MS indexes what waits by itself, with no search, and reports no error', async (t) => {
  const { db } = open(t)
  t.after(() => { db.close() })
  addContact(db, 'c1')
  const h = new History(db)
  const errors: unknown[] = []
  h.searchIndex.onIdleError = (err) => { errors.push(err) }
  // The indexer's timer does not keep the process alive (a running node would).
  const alive = setInterval(() => {}, 100)
  t.after(() => { clearInterval(alive) })
  h.receive({ contactId: 'c1', id: 'idle', seq: 1, text: 'quiet afternoon', sentAt: 1, at: 1, path: 'direct' })
  assert.equal(pending(db), 1)
  const deadline = Date.now() + 10 * SEARCH_IDLE_MS
  while (pending(db) > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  assert.equal(pending(db), 0, 'indexed by the idle timer')
  assert.equal(indexed(db), 1)
  assert.deepEqual(errors, [])
})
