// A contact's file announced under the message id of one of my own files in that chat (issue 12 review): in a
// one-to-one chat both rows would have the same owner (the contact) and id, so my own file could no longer be named
// (AMBIGUOUS_FILE, which ?owner= cannot resolve). The contact's file is not taken; mine stays nameable. Real SQLCipher
// store, the file transfers called as the receive commit calls them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { FileStore, type TransferRow } from '../../src/messenger/files/store.ts'
import { FileTransfers, type FileCore } from '../../src/messenger/files/transfers.ts'
import type { FileDescriptor } from '../../src/wire/file.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { openDatabase } from '../../src/store/db.ts'
import { MIGRATIONS } from '../../src/store/schema.ts'
import { addContact } from '../helpers/store-rows.ts'
import { tempDir } from '../helpers/testnet.ts'

function descriptor (name: string): FileDescriptor {
  return { name, type: 'application/octet-stream', size: 10, sha256: randomBytes(32), key: randomBytes(32), header: randomBytes(24), chunks: 1, blobId: randomBytes(16), capability: randomBytes(32), relays: [] }
}

test('a contact\'s file under my own file\'s message id is not taken: my file stays nameable', async (t) => {
  const dir = tempDir(t, '0m1-files-reused-')
  const db = openDatabase({ path: join(dir, 'device.db'), key: randomBytes(32), migrations: MIGRATIONS })
  t.after(() => { db.close() })
  addContact(db, 'c1')
  const core: FileCore = {
    send: async () => { throw new Error('not sent in this test') },
    subscribe: () => () => {},
    publish: () => {},
    messages: async () => []
  }
  const mine = randomBytes(16).toString('hex')
  const out: TransferRow = { contactId: 'c1', messageId: mine, direction: 'out', state: 'delivered', path: 'relay', done: 1, failure: undefined, relayCounts: {}, createdAt: 1, file: descriptor('mine.bin') }
  new FileStore(db).insert(out, 1)
  const files = new FileTransfers({ db, dataDir: dir, net: () => undefined, contact: () => undefined, core, logger: silentLogger })
  // Another id from the contact is taken (the harness does record announcements).
  const theirs = randomBytes(16).toString('hex')
  files.announced('c1', theirs, descriptor('theirs.bin'), 2)
  assert.equal(files.get(theirs)?.direction, 'in')
  // The same id as mine is not.
  files.announced('c1', mine, descriptor('hostile.bin'), 3)
  const named = files.get(mine)
  assert.equal(named?.direction, 'out')
  assert.equal(named.name, 'mine.bin')
  assert.deepEqual(files.list('c1').map((f) => `${f.direction}:${f.name}`).sort(), ['in:theirs.bin', 'out:mine.bin'])
})
