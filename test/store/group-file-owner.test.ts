// Migration 16 (issue 12 review): group file rows move from the owner `group:<group id>` to
// `group:<group id>/<sender account id>`, bound to the sender of the message that announced them, on a real SQLCipher
// store made at version 15. Rows it cannot bind to one sender keep the old owner and are kept (never start-up orphans:
// one may be an honest delivered file).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { DATABASE_FILE, openDatabase, resolveDatabaseKey, schemaVersion, type Database } from '../../src/store/db.ts'
import { MIGRATIONS } from '../../src/store/schema.ts'
import { FileStore } from '../../src/messenger/files/store.ts'
import { groupOwnerPrefix } from '../../src/messenger/files/group-files.ts'
import { tempDir } from '../e2ee/helpers.ts'

const G = 'ab'.repeat(16)
const id = (c: string): string => c.repeat(32)

function fileRow (db: Database, owner: string, messageId: string, direction: 'in' | 'out', createdAt: number): void {
  db.prepare(`INSERT INTO file_transfers (contact_id, message_id, direction, name, type, size, sha256, file_key, header, chunks, blob_id, capability,
    relays, state, created_at, updated_at, source_path) VALUES (?, ?, ?, 'f.bin', 'application/octet-stream', 1, x'00', x'00', x'00', 1, ?, x'00', '[]', 'queued', ?, ?, NULL)`)
    .run([owner, messageId, direction, Buffer.from(messageId + direction, 'utf8'), createdAt, createdAt])
}

function groupMessage (db: Database, messageId: string, sender: string, direction: 'in' | 'out', at: number): void {
  db.prepare('INSERT INTO group_messages (group_id, id, sender, direction, seq, text, sent_at, at) VALUES (?, ?, ?, ?, 1, \'\', ?, ?)').run([G, messageId, sender, direction, at, at])
}

test('migration 16 binds each group file row to the sender of its announcing message; rows it cannot bind keep their owner and are not orphans', (t) => {
  const dir = tempDir(t, '0m1-gfile-mig-')
  const key = resolveDatabaseKey(dir, { create: true })
  const path = join(dir, DATABASE_FILE)
  const v15 = openDatabase({ path, key, migrations: MIGRATIONS.slice(0, 15) })
  assert.equal(schemaVersion(v15), 15)
  const old = `group:${G}`
  // Mine (outgoing): my message of that id; a member's text reusing the id does not confuse it.
  groupMessage(v15, id('1'), '', 'out', 100)
  groupMessage(v15, id('1'), 'mall-ory0', 'in', 100)
  fileRow(v15, old, id('1'), 'out', 100)
  // Alice's file, stored in the commit of her message (same time); mallory reused the id later for a text.
  groupMessage(v15, id('2'), 'alic-e000', 'in', 200)
  groupMessage(v15, id('2'), 'mall-ory0', 'in', 250)
  fileRow(v15, old, id('2'), 'in', 200)
  // Two senders' messages stored in one commit under one id: nobody can say whose the file was.
  groupMessage(v15, id('3'), 'alic-e000', 'in', 300)
  groupMessage(v15, id('3'), 'mall-ory0', 'in', 300)
  fileRow(v15, old, id('3'), 'in', 300)
  // The message is gone.
  fileRow(v15, old, id('4'), 'in', 400)
  // A contact's file is not a group's.
  fileRow(v15, 'contact-1', id('5'), 'in', 500)
  v15.close()

  const db = openDatabase({ path, key, migrations: MIGRATIONS })
  assert.equal(schemaVersion(db), MIGRATIONS.length)
  const owners = new Map((db.prepare('SELECT message_id, contact_id FROM file_transfers').all() as unknown as Array<{ message_id: string, contact_id: string }>).map((r) => [r.message_id, r.contact_id]))
  assert.equal(owners.get(id('1')), `group:${G}/`)
  assert.equal(owners.get(id('2')), `group:${G}/alic-e000`)
  assert.equal(owners.get(id('3')), old)
  assert.equal(owners.get(id('4')), old)
  assert.equal(owners.get(id('5')), 'contact-1')
  const store = new FileStore(db)
  assert.deepEqual(store.listPrefix(groupOwnerPrefix(G)).map((r) => r.messageId), [id('1'), id('2')])
  // Review: orphans() swept the unbound rows at start (with their chunk files): #3 may be alice's honest delivered file.
  db.prepare("UPDATE file_transfers SET state = 'delivered' WHERE message_id = ?").run([id('3')])
  assert.deepEqual(store.orphans().map((r) => r.messageId).sort(), [id('5')], 'only the contact row without a message is an orphan')
  // A bound row whose message is gone is one.
  db.prepare('DELETE FROM group_messages WHERE group_id = ? AND sender = ? AND id = ?').run([G, 'alic-e000', id('2')])
  assert.deepEqual(store.orphans().map((r) => r.messageId).sort(), [id('2'), id('5')])
  db.close()
})
