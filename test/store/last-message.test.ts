// Issue 10, store migration 18: the contact list's last message is named by its conversation row, written by the
// commit that stores each message, and messages_by_time (which served only that look-up, and cost every message's
// commit its pages) is gone. A version 17 store keeps what its contacts showed; the look-up reads two rows by key.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { DATABASE_FILE, openDatabase, resolveDatabaseKey, type Database } from '../../src/store/db.ts'
import { DEVICE_PAGE_SIZE, MIGRATIONS } from '../../src/store/schema.ts'
import { History, historySql } from '../../src/messenger/history.ts'
import { ChatStore } from '../../src/messenger/chat/chat-store.ts'
import { tempDir } from '../e2ee/helpers.ts'
import { addContact } from '../helpers/store-rows.ts'

function plan (db: Database, sql: string): string[] {
  const n = (sql.match(/\?/g) ?? []).length
  return db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(Array.from({ length: n }, () => null)).map((r) => String(r.detail))
}

/** Version 17's look-up of a contact's last message (through messages_by_time). */
const V17_LAST = 'SELECT text, at, direction FROM messages WHERE contact_id = ? ORDER BY at DESC LIMIT 1'
const CONTACTS = ['c1', 'c22', 'c333', 'quiet'] as const

function v17Store (t: { after: (fn: () => void) => void }): { path: string, key: Buffer } {
  const dir = tempDir(t, '0m1-migrate18-')
  const key = resolveDatabaseKey(dir, { create: true })
  const path = join(dir, DATABASE_FILE)
  const before = MIGRATIONS.findIndex((m) => m.version === 18)
  assert.equal(before, 17)
  const old = openDatabase({ path, key, migrations: MIGRATIONS.slice(0, before), pageSize: DEVICE_PAGE_SIZE })
  for (const c of CONTACTS) addContact(old, c)
  const out = old.prepare(`INSERT INTO messages (contact_id, direction, id, seq, text, state, at, sent_at) VALUES (?, 'out', ?, ?, ?, 'delivered', ?, ?)`)
  const inc = old.prepare(`INSERT INTO messages (contact_id, direction, id, seq, text, state, path, at, sent_at) VALUES (?, 'in', ?, ?, ?, 'delivered', 'direct', ?, ?)`)
  const conv = old.prepare('INSERT INTO conversations (contact_id, next_out_seq, highest_in_seq, updated_at) VALUES (?, 100, 100, 0)')
  // c333 has messages but no conversation row (older versions made one on receive only).
  for (const c of ['c1', 'c22']) conv.run([c])
  // c1: the newest is incoming, stored before older outgoing ones (random ids, as before message-id.ts).
  for (let i = 1; i <= 40; i++) out.run(['c1', randomBytes(16).toString('hex'), i, `c1 out ${i}`, 1000 + i, 1000 + i])
  inc.run(['c1', 'i-late', 1, 'c1 in newest', 2000, 5])
  // c22: outgoing newest; c333: an incoming and an outgoing message at the same time (the index's order decides).
  inc.run(['c22', 'i1', 1, 'c2 in', 10, 10])
  out.run(['c22', 'o1', 1, 'c2 out newest', 20, 20])
  inc.run(['c333', 'i1', 1, 'c3 in', 30, 30])
  out.run(['c333', 'o1', 1, 'c3 out', 30, 30])
  old.close()
  return { path, key }
}

test('migration 18: a version 17 store shows the same last message for every contact, without messages_by_time', (t) => {
  const { path, key } = v17Store(t)
  const old = openDatabase({ path, key, migrations: MIGRATIONS.slice(0, 17), pageSize: DEVICE_PAGE_SIZE })
  const was = CONTACTS.map((c) => old.prepare(V17_LAST).get([c]) ?? null)
  old.close()
  assert.deepEqual(was.map((r) => r?.text ?? null), ['c1 in newest', 'c2 out newest', 'c3 out', null])

  const db = openDatabase({ path, key, migrations: MIGRATIONS, pageSize: DEVICE_PAGE_SIZE })
  t.after(() => { db.close() })
  assert.equal(db.pragma('user_version', { simple: true }), 18)
  assert.equal(db.pragma('integrity_check', { simple: true }), 'ok')
  assert.equal(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'messages_by_time'").get()?.n, 0)
  const h = new History(db, { searchIdleMs: false })
  assert.deepEqual(CONTACTS.map((c) => h.last(c) ?? null), was.map((r) => r === null ? null : { text: r.text, at: r.at, direction: r.direction }))
})

test('migration 18: the last message is read by key, and follows what is sent, received and deleted', (t) => {
  const { path, key } = v17Store(t)
  const db = openDatabase({ path, key, migrations: MIGRATIONS, pageSize: DEVICE_PAGE_SIZE })
  t.after(() => { db.close() })
  // Two look-ups by primary key: the conversation's row, then its message's.
  const details = plan(db, historySql('last'))
  assert.equal(details.length, 2, details.join(' | '))
  assert.ok(details.some((d) => /^SEARCH c USING (INDEX sqlite_autoindex_conversations_1|PRIMARY KEY) \(contact_id=\?\)$/.test(d)), details.join(' | '))
  assert.ok(details.some((d) => d === 'SEARCH m USING PRIMARY KEY (contact_id=? AND direction=? AND id=?)'), details.join(' | '))

  const h = new History(db, { searchIdleMs: false })
  const chat = new ChatStore(db, h.searchIndex)
  const text = (c: string): string | undefined => h.last(c)?.text
  h.queueOutgoing({ contactId: 'c1', id: 'o-new', seq: 41, text: 'sent', at: 3000, envelope: randomBytes(50), expiresAt: 1e12 })
  assert.equal(text('c1'), 'sent')
  // A sequence number taken alone stores no message and moves nothing.
  h.nextSeq('c1', 3001)
  assert.equal(text('c1'), 'sent')
  h.receive({ contactId: 'c1', id: 'i-new', seq: 2, text: 'received', sentAt: 2990, at: 3002, path: 'direct' })
  assert.equal(text('c1'), 'received')
  // A duplicate is not stored again, and does not take the place of what came after it.
  h.queueOutgoing({ contactId: 'c1', id: 'o-after', seq: 42, text: 'sent after', at: 3003, envelope: randomBytes(50), expiresAt: 1e12 })
  assert.equal(h.receive({ contactId: 'c1', id: 'i-new', seq: 2, text: 'received', sentAt: 2990, at: 3004, path: 'direct' }), undefined)
  assert.equal(text('c1'), 'sent after')
  // A message stored with an older time (a clock set back) does not take the place of a newer one.
  h.receive({ contactId: 'c1', id: 'i-old', seq: 3, text: 'older', sentAt: 1, at: 2999, path: 'direct' })
  assert.equal(text('c1'), 'sent after')
  // An edit shows in the preview; a message deleted for everyone stays last, with its text gone.
  chat.edit('c1', 'out', 'o-after', 'sent after, edited', 3005)
  assert.equal(text('c1'), 'sent after, edited')
  chat.markDeleted('c1', 'out', 'o-after', 3006)
  assert.equal(text('c1'), '')
  // Deleted for me: an older message's removal changes nothing; the last one's hands the place to the newest left.
  assert.equal(chat.remove('c1', 'out', 'o-new'), true)
  assert.equal(h.last('c1')?.at, 3003)
  assert.equal(chat.remove('c1', 'out', 'o-after'), true)
  assert.deepEqual(h.last('c1'), { text: 'received', at: 3002, direction: 'in' })
  assert.equal(chat.remove('c1', 'in', 'i-new'), true)
  assert.equal(text('c1'), 'older')
  assert.equal(chat.remove('c1', 'in', 'i-old'), true)
  assert.equal(text('c1'), 'c1 in newest')
  // The first message of a contact with no conversation row yet, and the last message of a conversation removed.
  h.receive({ contactId: 'quiet', id: 'q1', seq: 1, text: 'hello', sentAt: 1, at: 4000, path: 'direct' })
  assert.equal(text('quiet'), 'hello')
  assert.equal(chat.remove('quiet', 'in', 'q1'), true)
  assert.equal(h.last('quiet'), undefined)
})
