// A message deleted for me forgets the file of that message only (issue 12 review): message ids are unique per
// direction, and the contact chooses its own, so its message may reuse the id of mine. The 'message-removed' event
// names the direction; deleting the contact's message under my file's id leaves my outgoing file (real SQLCipher
// store, the file transfers driven by their events).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { FileStore, type TransferRow } from '../../src/messenger/files/store.ts'
import { FileTransfers, type FileCore } from '../../src/messenger/files/transfers.ts'
import type { MessengerEvent } from '../../src/messenger/types.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { openDatabase } from '../../src/store/db.ts'
import { MIGRATIONS } from '../../src/store/schema.ts'
import { addContact } from '../helpers/store-rows.ts'
import { tempDir } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'

function row (direction: 'in' | 'out', messageId: string): TransferRow {
  return {
    contactId: 'c1', messageId, direction, state: 'delivered', path: 'relay', done: 1, failure: undefined, relayCounts: {}, createdAt: 1,
    file: { name: `${direction}.bin`, type: 'application/octet-stream', size: 10, sha256: randomBytes(32), key: randomBytes(32), header: randomBytes(24), chunks: 1, blobId: randomBytes(16), capability: randomBytes(32), relays: [] }
  }
}

test('deleting the contact\'s message that reuses my file\'s message id forgets its file, not mine', async (t) => {
  const dir = tempDir(t, '0m1-files-removed-')
  const db = openDatabase({ path: join(dir, 'device.db'), key: randomBytes(32), migrations: MIGRATIONS })
  t.after(() => { db.close() })
  const listeners = new Set<(e: MessengerEvent) => void>()
  const core: FileCore = {
    send: async () => { throw new Error('not sent in this test') },
    subscribe: (l) => { listeners.add(l); return () => { listeners.delete(l) } },
    publish: (e) => { for (const l of listeners) l(e) },
    messages: async () => []
  }
  const id = randomBytes(16).toString('hex')
  const store = new FileStore(db)
  store.insert(row('out', id), 1)
  store.insert(row('in', id), 1)
  // Both messages exist (not orphans at start).
  const msg = db.prepare("INSERT INTO messages (contact_id, direction, id, seq, text, state, at) VALUES ('c1', ?, ?, 1, '', 'delivered', 1)")
  addContact(db, 'c1')
  msg.run(['out', id])
  msg.run(['in', id])
  const files = new FileTransfers({ db, dataDir: dir, net: () => undefined, contact: () => undefined, core, logger: silentLogger })
  files.start()
  t.after(async () => { await files.stop() })
  assert.deepEqual(files.list('c1').map((f) => f.direction).sort(), ['in', 'out'])
  db.prepare("DELETE FROM messages WHERE contact_id = 'c1' AND direction = 'in' AND id = ?").run([id])
  core.publish({ type: 'message-removed', contactId: 'c1', id, direction: 'in' })
  await waitFor(() => files.list('c1').every((f) => f.direction !== 'in') ? true : undefined, 'the contact\'s file is forgotten')
  assert.deepEqual(files.list('c1').map((f) => f.direction), ['out'], 'my file under the same id was forgotten with it')
})
