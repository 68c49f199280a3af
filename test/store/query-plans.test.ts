// Issue 10: no query on the per-message path may cost more as the history grows. EXPLAIN QUERY PLAN of
// every per-message statement of History (src/messenger/history.ts PER_MESSAGE) must search by a key or
// an index; a full scan of a table (SCAN <table>) or a temporary sort fails the test. And migration 6
// turns an existing store's unread messages into the new counters.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { DATABASE_FILE, openDatabase, resolveDatabaseKey, type Database } from '../../src/store/db.ts'
import { MIGRATIONS, V16_BIND, V16_BIND_INDEX } from '../../src/store/schema.ts'
import { History, PER_MESSAGE, historySql } from '../../src/messenger/history.ts'
import { ORPHANS_SQL } from '../../src/messenger/files/store.ts'
import { tempDir } from '../e2ee/helpers.ts'
import { addContact } from '../helpers/store-rows.ts'

function plan (db: Database, sql: string): string[] {
  // Every placeholder bound to NULL: the plan does not depend on the values.
  const n = (sql.match(/\?/g) ?? []).length
  return db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(Array.from({ length: n }, () => null)).map((r) => String(r.detail))
}

test('query plans: every per-message statement of History searches by key or index (no table scan, no temp sort)', (t) => {
  const dir = tempDir(t, '0m1-plans-')
  const db = openDatabase({ path: join(dir, DATABASE_FILE), key: resolveDatabaseKey(dir, { create: true }), migrations: MIGRATIONS })
  t.after(() => { db.close() })
  // Some rows and ANALYZE-free defaults: the planner must choose the index on shape alone.
  addContact(db, 'c1')
  const h = new History(db)
  for (let i = 1; i <= 50; i++) h.receive({ contactId: 'c1', id: `m${i}`, seq: i, text: 't', sentAt: i, at: i, path: 'direct' })
  assert.ok(PER_MESSAGE.length >= 15)
  for (const q of PER_MESSAGE) {
    const details = plan(db, historySql(q))
    for (const d of details) {
      assert.ok(!/^SCAN (?!CONSTANT ROW)/.test(d), `${q} scans a table: ${d}`)
      assert.ok(!d.includes('USE TEMP B-TREE'), `${q} sorts in a temporary tree: ${d}`)
      // A primary key used only by its (contact_id, direction) prefix walks the whole conversation.
      assert.ok(!/USING PRIMARY KEY \(contact_id=\? AND direction=\?\)$/.test(d), `${q} walks a conversation: ${d}`)
    }
  }
  // The look-ups that grew with the history before (perf.md): the gap neighbours now go through the
  // sequence index, the unread count is a counter read by primary key.
  assert.ok(plan(db, historySql('seqBelow')).some((d) => d.includes('messages_by_seq')))
  assert.ok(plan(db, historySql('seqAbove')).some((d) => d.includes('messages_by_seq')))
  assert.ok(plan(db, historySql('unread')).every((d) => !d.includes('messages')))
  // The checks above see what they must: a scan, and the old gap update's walk of a conversation.
  assert.ok(plan(db, 'SELECT count(*) FROM messages WHERE text = ?').some((d) => /^SCAN /.test(d)))
  assert.ok(plan(db, "UPDATE messages SET gap_before = ? WHERE contact_id = ? AND direction = 'out' AND seq = ?")
    .some((d) => /USING PRIMARY KEY \(contact_id=\? AND direction=\?\)$/.test(d)))
})

test('migration 6: an existing store gets unread counters equal to its unread messages', (t) => {
  const dir = tempDir(t, '0m1-migrate6-')
  const key = resolveDatabaseKey(dir, { create: true })
  const path = join(dir, DATABASE_FILE)
  const v5 = openDatabase({ path, key, migrations: MIGRATIONS.slice(0, 5) })
  addContact(v5, 'c1')
  addContact(v5, 'c22')
  const ins = v5.prepare(`INSERT INTO messages (contact_id, direction, id, seq, text, state, at, read_at) VALUES (?, ?, ?, ?, 't', 'delivered', 1, ?)`)
  ins.run(['c1', 'in', 'a', 1, null])
  ins.run(['c1', 'in', 'b', 2, null])
  ins.run(['c1', 'in', 'c', 3, 5])
  ins.run(['c1', 'out', 'd', 1, null])
  ins.run(['c22', 'in', 'e', 1, null])
  // c22 has no conversations row (stores of that version made one only on receive; this one is bare).
  v5.prepare("INSERT INTO conversations (contact_id, updated_at) VALUES ('c1', 1)").run()
  v5.close()
  const db = openDatabase({ path, key, migrations: MIGRATIONS })
  t.after(() => { db.close() })
  const h = new History(db)
  assert.equal(h.unread('c1'), 2)
  assert.equal(h.unread('c22'), 1)
  h.receive({ contactId: 'c1', id: 'f', seq: 4, text: 't', sentAt: 9, at: 9, path: 'direct' })
  assert.equal(h.unread('c1'), 3)
  assert.deepEqual(h.markRead('c1', 10).sort(), ['a', 'b', 'f'])
  assert.equal(h.unread('c1'), 0)
})

test('migration 12: outbox_due served no outbox statement, and without it the outbox is still read by index', (t) => {
  const dir = tempDir(t, '0m1-migrate12-')
  const key = resolveDatabaseKey(dir, { create: true })
  const path = join(dir, DATABASE_FILE)
  const before = MIGRATIONS.findIndex((m) => m.name.startsWith('no outbox index by state'))
  assert.ok(before > 0)
  const old = openDatabase({ path, key, migrations: MIGRATIONS.slice(0, before) })
  addContact(old, 'c1')
  const h = new History(old)
  for (let i = 1; i <= 50; i++) h.queueControl('c1', `o${i}`, new Uint8Array(8), i, i + 1000)
  // Every statement that reads or writes the outbox: History's, and the few written elsewhere (outboxSize,
  // retryContactNow in History; a deleted message's row in src/messenger/chat/chat-store.ts).
  const statements = PER_MESSAGE.map((q) => historySql(q)).filter((sql) => /\boutbox\b/.test(sql))
  assert.ok(statements.length >= 6)
  statements.push('SELECT count(*) AS n FROM outbox', 'UPDATE outbox SET next_attempt_at = ? WHERE contact_id = ? AND next_attempt_at > ?',
    'DELETE FROM outbox WHERE contact_id = ? AND message_id = ?')
  const indexes = (db: Database): string[] => db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'outbox'").all().map((r) => String(r.name))
  assert.ok(indexes(old).includes('outbox_due'))
  for (const sql of statements) {
    for (const d of plan(old, sql)) assert.ok(!d.includes('outbox_due'), `${sql} uses outbox_due: ${d}`)
  }
  // The check sees an index that is used: a query on state would pick it.
  assert.ok(plan(old, "SELECT * FROM outbox WHERE state = 'pending' AND next_attempt_at < ?").some((d) => d.includes('outbox_due')))
  old.close()
  const db = openDatabase({ path, key, migrations: MIGRATIONS })
  t.after(() => { db.close() })
  assert.ok(!indexes(db).includes('outbox_due'))
  assert.ok(indexes(db).includes('outbox_by_due_time'))
  assert.ok(plan(db, historySql('due')).some((d) => d.includes('outbox_by_due_time')))
  assert.ok(plan(db, historySql('nextDue')).some((d) => d.includes('outbox_by_due_time')))
  assert.equal(new History(db).due(20, 100).length, 20)
})

test('migration 13: unread messages are indexed in arrival order (contact_id, seq), and markRead still reads them by that index', (t) => {
  const dir = tempDir(t, '0m1-migrate13-')
  const key = resolveDatabaseKey(dir, { create: true })
  const path = join(dir, DATABASE_FILE)
  const before = MIGRATIONS.findIndex((m) => m.name.startsWith('search index written in batches'))
  assert.ok(before > 0)
  const old = openDatabase({ path, key, migrations: MIGRATIONS.slice(0, before) })
  addContact(old, 'c1')
  const ins = old.prepare("INSERT INTO messages (contact_id, direction, id, seq, text, state, at) VALUES ('c1', 'in', ?, ?, 't', 'delivered', 1)")
  ins.run(['b', 1])
  ins.run(['a', 2])
  old.prepare("INSERT INTO conversations (contact_id, unread, updated_at) VALUES ('c1', 2, 1)").run()
  const columns = (db: Database): string[] => db.prepare("SELECT name FROM pragma_index_info('messages_unread')").all().map((r) => String(r.name))
  assert.deepEqual(columns(old), ['contact_id'])
  old.close()
  const db = openDatabase({ path, key, migrations: MIGRATIONS })
  t.after(() => { db.close() })
  assert.deepEqual(columns(db), ['contact_id', 'seq'])
  for (const q of ['unreadIds', 'markRead'] as const) {
    assert.ok(plan(db, historySql(q)).some((d) => d.includes('INDEX messages_unread (contact_id=?)')), q)
  }
  const h = new History(db)
  h.receive({ contactId: 'c1', id: 'c', seq: 3, text: 't', sentAt: 2, at: 2, path: 'direct' })
  assert.deepEqual(h.markRead('c1', 5).sort(), ['a', 'b', 'c'])
  assert.equal(h.unread('c1'), 0)
  h.flush()
})

test('migration 16: binding a group file row to its sender searches group messages by index (no walk of the group per row), and the index is dropped after', (t) => {
  const dir = tempDir(t, '0m1-migrate16-')
  const key = resolveDatabaseKey(dir, { create: true })
  const path = join(dir, DATABASE_FILE)
  const before = MIGRATIONS.findIndex((m) => m.name.startsWith('group file transfers owned by their sender'))
  assert.ok(before > 0)
  const old = openDatabase({ path, key, migrations: MIGRATIONS.slice(0, before) })
  const ins = old.prepare("INSERT INTO group_messages (group_id, id, sender, direction, seq, text, sent_at, at) VALUES ('g1', ?, 'a1', 'in', ?, 't', ?, ?)")
  for (let i = 1; i <= 50; i++) ins.run([`m${i}`, i, i, i])
  old.exec(V16_BIND_INDEX)
  const details = plan(old, V16_BIND)
  const searches = details.filter((d) => d.includes('COVERING INDEX group_messages_v16_bind (group_id=? AND id=? AND direction=?'))
  assert.equal(searches.length, 2, details.join('\n'))
  for (const d of details) assert.ok(!/^SCAN g\b/.test(d) && !/USING PRIMARY KEY \(group_id=\?\)$/.test(d), `the binding walks group messages: ${d}`)
  // The check sees a walk: the old comparison of a built owner.
  assert.ok(plan(old, "SELECT g.sender FROM group_messages g, file_transfers f WHERE 'group:' || g.group_id = f.contact_id AND g.id = f.message_id")
    .some((d) => /^SCAN g\b/.test(d)))
  old.exec('DROP INDEX group_messages_v16_bind')
  old.close()
  const db = openDatabase({ path, key, migrations: MIGRATIONS })
  t.after(() => { db.close() })
  assert.equal(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'group_messages_v16_bind'").get()?.n, 0)
})

test('file orphans at start: each row looks its message up by primary key (a group row by group, sender and id), no walk of the group messages', (t) => {
  const dir = tempDir(t, '0m1-plans-orphans-')
  const db = openDatabase({ path: join(dir, DATABASE_FILE), key: resolveDatabaseKey(dir, { create: true }), migrations: MIGRATIONS })
  t.after(() => { db.close() })
  const details = plan(db, ORPHANS_SQL)
  assert.ok(details.some((d) => d.includes('SEARCH g USING PRIMARY KEY (group_id=? AND sender=? AND id=?)')), details.join('\n'))
  assert.ok(details.some((d) => /SEARCH m USING PRIMARY KEY/.test(d)), details.join('\n'))
  for (const d of details) assert.ok(!/^SCAN (g|m)\b/.test(d) && !/USING PRIMARY KEY \(group_id=\?\)$/.test(d), `orphans walk messages: ${d}`)
})
