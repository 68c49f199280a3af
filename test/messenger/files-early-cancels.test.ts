// File-cancels that overtake their announcement (issue 12 review): held per sending contact, with an expiry and a
// per-contact cap (src/messenger/files/early-cancels.ts), and a group file's held cancel applied when the member
// that sent it announces the file (src/messenger/files/transfers.ts announced()).
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { EarlyCancels, EARLY_CANCEL_TTL_MS, MAX_EARLY_CANCELS, MAX_EARLY_CANCELS_PER_CONTACT } from '../../src/messenger/files/early-cancels.ts'
import { groupFileOwner } from '../../src/messenger/files/group-files.ts'
import { FileTransfers } from '../../src/messenger/files/transfers.ts'
import type { FileDescriptor } from '../../src/wire/file.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { person, tempDir } from '../helpers/testnet.ts'
import { twoMessengers } from '../helpers/two-messengers.ts'

const descriptor = (): FileDescriptor => ({
  name: 'a.bin', type: 'application/octet-stream', size: 10, sha256: randomBytes(32), key: randomBytes(32), header: randomBytes(24),
  chunks: 1, blobId: randomBytes(16), capability: randomBytes(32), relays: []
})

test('a held cancel is taken once, by the contact that sent it, and not after its expiry', () => {
  let now = 1_000
  const held = new EarlyCancels(() => now)
  held.hold('carol', 'm1', 'changed')
  assert.equal(held.take('bob', 'm1'), undefined, 'another contact\'s announcement took it')
  const taken = held.take('carol', 'm1')
  assert.equal(taken?.reason, 'changed')
  assert.equal(held.take('carol', 'm1'), undefined)
  // Put back (its commit rolled back): held again, and as old as it was.
  now += EARLY_CANCEL_TTL_MS / 2
  taken?.restore()
  assert.equal(held.take('carol', 'm1')?.reason, 'changed')
  taken?.restore()
  now += EARLY_CANCEL_TTL_MS / 2 + 1
  assert.equal(held.take('carol', 'm1'), undefined, 'a restored cancel lived longer than it would have')
  held.hold('carol', 'm2', 'unreadable')
  now += EARLY_CANCEL_TTL_MS + 1
  assert.equal(held.take('carol', 'm2'), undefined, 'an expired cancel still applied')
  held.hold('carol', 'm3', 'changed')
  now += EARLY_CANCEL_TTL_MS + 1
  held.hold('dave', 'm4', 'changed')
  assert.equal(held.size, 1, 'an expired cancel still holds a slot')
})

test('one contact\'s flood of cancels evicts its own oldest, never another contact\'s, and a new cancel is never refused', () => {
  const held = new EarlyCancels(() => 5)
  held.hold('alice', 'real', 'changed')
  for (let i = 0; i < 10 * MAX_EARLY_CANCELS; i++) held.hold('mallory', `x${i}`, 'changed')
  assert.ok(held.size <= MAX_EARLY_CANCELS_PER_CONTACT + 1)
  assert.equal(held.take('mallory', `x${10 * MAX_EARLY_CANCELS - 1}`)?.reason, 'changed', 'the newest was refused')
  assert.equal(held.take('mallory', 'x0'), undefined)
  assert.equal(held.take('alice', 'real')?.reason, 'changed', 'another contact\'s flood pushed it out')
  // Many contacts: the oldest go past the total bound; the newest is held.
  for (let i = 0; i < 2 * MAX_EARLY_CANCELS; i++) held.hold(`c${i}`, 'm', 'changed')
  assert.equal(held.size, MAX_EARLY_CANCELS)
  assert.equal(held.take(`c${2 * MAX_EARLY_CANCELS - 1}`, 'm')?.reason, 'changed')
})

test('a group file\'s cancel that overtook its announcement is applied when the member that sent it announces the file, and only then', { timeout: 60_000 }, async (t) => {
  const bob = await person(t, 'bob', { relays: [] })
  const files = bob.m().files as unknown as FileTransfers
  const owner = groupFileOwner('g1', 'alice-account')
  const now = Date.now()
  files.cancelled('alice-contact', 'aa'.repeat(16), 'changed', now)
  files.cancelled('carol-contact', 'bb'.repeat(16), 'changed', now)
  files.announced(owner, 'aa'.repeat(16), descriptor(), now, 'alice-contact')
  // Carol's cancel names a file alice announces: it does not apply.
  files.announced(owner, 'bb'.repeat(16), descriptor(), now, 'alice-contact')
  const rows = files.listGroup('g1')
  assert.match(rows.find((f) => f.messageId === 'aa'.repeat(16))?.failure ?? '', /sender stopped sending this file: it changed/)
  assert.equal(rows.find((f) => f.messageId === 'aa'.repeat(16))?.state, 'failed')
  assert.notEqual(rows.find((f) => f.messageId === 'bb'.repeat(16))?.state, 'failed')
})

/** A cancel, then its file whose first commit `failOnce` makes fail (and undoes before the copy comes again). */
async function cancelThenFailedFile (t: TestContext, failOnce: (w: Awaited<ReturnType<typeof twoMessengers>>) => { code: string, undo: () => void }): Promise<void> {
  const w = await twoMessengers()
  t.after(w.close)
  // Bob's transfers, not started: the announcement is stored and nothing is fetched.
  const files = new FileTransfers({ db: w.b.device.db, dataDir: tempDir(t, '0m1-files-'), net: () => undefined, contact: (id) => w.b.device.contact(id), core: w.b.core, logger: silentLogger })
  t.after(async () => { await files.stop() })
  w.b.core.attachFiles(files)
  const id = randomBytes(16)
  const messageId = Buffer.from(id).toString('hex')
  await w.b.core.receiveEnvelope(await w.a.device.seal(w.a.contactId, { kind: 'file-cancel', id: randomBytes(16), seq: 0, target: id, reason: 'changed' }), 'direct')
  assert.equal(files.get(messageId), undefined)
  const { code, undo } = failOnce(w)
  const file = await w.a.device.seal(w.a.contactId, { kind: 'file', id, seq: 1, sentAt: Date.now(), text: '', file: descriptor() })
  await assert.rejects(w.b.core.receiveEnvelope(file, 'mailbox'), { code })
  assert.equal(files.get(messageId), undefined, 'rolled back')
  undo()
  // The copy fetched again: the cancel that came first still fails the file.
  await w.b.core.receiveEnvelope(file, 'mailbox')
  assert.equal(files.get(messageId)?.state, 'failed')
  assert.match(files.get(messageId)?.failure ?? '', /sender stopped sending this file: it changed/)
}

test('a cancel that came before its file still applies when the commit that stores the file rolls back and the file comes again', { timeout: 60_000 }, async (t) => {
  await cancelThenFailedFile(t, (w) => {
    // The commit that stores the file fails once, as a full store would, after its rows (and the cancel's take).
    let commits = 0
    const batch = w.b.device.batch.bind(w.b.device)
    w.b.device.batch = async (fn, extra) => await batch(fn, (r) => {
      extra?.(r)
      if (commits++ === 0) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' })
    })
    return { code: 'SQLITE_FULL', undo: () => {} }
  })
})

test('a cancel that came before its file still applies when the file row itself could not be written', { timeout: 60_000 }, async (t) => {
  await cancelThenFailedFile(t, (w) => {
    // The file row's insert fails after the cancel was taken (a trigger stands for a full store).
    w.b.device.db.exec("CREATE TEMP TRIGGER full_store BEFORE INSERT ON file_transfers BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
    return { code: 'SQLITE_CONSTRAINT_TRIGGER', undo: () => { w.b.device.db.exec('DROP TRIGGER full_store') } }
  })
})
