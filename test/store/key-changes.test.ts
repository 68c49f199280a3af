// The key change rows on SQLCipher: one pending key per contact (a newer one replaces it with its held
// envelopes), decided rows kept up to MAX_KEY_CHANGES_KEPT (the pending one always among them), held
// envelopes deduplicated by hash and in arrival order.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { freshMySide, newContactRow } from '../../src/e2ee/contact-row.ts'
import { MAX_KEY_CHANGES_KEPT } from '../../src/e2ee/key-change.ts'
import { ContactRepository } from '../../src/store/contacts.ts'
import { DATABASE_FILE, openDatabase, resolveDatabaseKey } from '../../src/store/db.ts'
import { KeyChangeRepository } from '../../src/store/key-changes.ts'
import { MIGRATIONS } from '../../src/store/schema.ts'
import { tempDir } from '../e2ee/helpers.ts'

const key = (): Uint8Array => new Uint8Array(randomBytes(33))
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

test('key changes: one pending per contact, bounded history, held envelopes deduplicated and ordered', (t) => {
  const dir = tempDir(t, '0m1-keychanges-')
  const db = openDatabase({ path: join(dir, DATABASE_FILE), key: resolveDatabaseKey(dir, { create: true }), migrations: MIGRATIONS })
  t.after(() => { db.close() })
  const empty = { displayName: 'Bob', mailboxId: new Uint8Array(32), mailboxKey: new Uint8Array(32), relays: [], addresses: [] }
  const contact = newContactRow({ identityKey: key(), createdAt: 1, theirs: empty, mine: freshMySide() })
  new ContactRepository(db).insert(contact)
  const repo = new KeyChangeRepository(db)

  const k1 = key()
  repo.setPending(contact.id, k1, 10, MAX_KEY_CHANGES_KEPT)
  assert.equal(repo.hold(contact.id, k1, new Uint8Array([1]), 10), true)
  assert.equal(repo.hold(contact.id, k1, new Uint8Array([2]), 11), true)
  assert.equal(repo.hold(contact.id, k1, new Uint8Array([1]), 12), false, 'the same bytes are held once')
  assert.deepEqual(repo.held(contact.id, k1).map((e) => e[0]), [1, 2])

  const k2 = key()
  repo.setPending(contact.id, k2, 20, MAX_KEY_CHANGES_KEPT)
  assert.deepEqual(repo.forContact(contact.id).map((r) => [hex(r.identityKey), r.state]), [[hex(k2), 'pending']], 'the older pending key is replaced')
  assert.equal(repo.heldCount(contact.id, k1), 0, 'with its held envelopes')

  repo.decide(contact.id, k2, 'blocked', 21)
  for (let i = 0; i < MAX_KEY_CHANGES_KEPT + 3; i++) {
    const k = key()
    repo.setPending(contact.id, k, 30 + i, MAX_KEY_CHANGES_KEPT)
    repo.decide(contact.id, k, 'accepted', 30 + i)
  }
  const last = key()
  repo.setPending(contact.id, last, 5, MAX_KEY_CHANGES_KEPT) // an old clock: still kept, being pending
  const rows = repo.forContact(contact.id)
  assert.equal(rows.length, MAX_KEY_CHANGES_KEPT)
  assert.ok(rows.some((r) => hex(r.identityKey) === hex(last) && r.state === 'pending'))
  assert.equal(repo.find(contact.id, k2), undefined, 'the oldest decision went first')
  assert.equal(repo.latest().get(contact.id)?.state, 'pending', 'a pending change is the current one, whatever the clock said')
  repo.decide(contact.id, last, 'blocked', 99)
  assert.equal(hex(repo.latest().get(contact.id)?.identityKey ?? new Uint8Array()), hex(rows.find((r) => r.state === 'accepted')?.identityKey ?? new Uint8Array()), 'then the newest decided one')
})
