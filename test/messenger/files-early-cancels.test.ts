// File-cancels that overtake their announcement (issue 12 review): held per sending contact, with an expiry and a
// per-contact cap (src/messenger/files/early-cancels.ts), and a group file's held cancel applied when the member
// that sent it announces the file (src/messenger/files/transfers.ts announced()).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { EarlyCancels, EARLY_CANCEL_TTL_MS, MAX_EARLY_CANCELS, MAX_EARLY_CANCELS_PER_CONTACT } from '../../src/messenger/files/early-cancels.ts'
import { groupFileOwner } from '../../src/messenger/files/group-files.ts'
import type { FileTransfers } from '../../src/messenger/files/transfers.ts'
import type { FileDescriptor } from '../../src/wire/file.ts'
import { person } from '../helpers/testnet.ts'

test('a held cancel is taken once, by the contact that sent it, and not after its expiry', () => {
  let now = 1_000
  const held = new EarlyCancels(() => now)
  held.hold('carol', 'm1', 'changed')
  assert.equal(held.take('bob', 'm1'), undefined, 'another contact\'s announcement took it')
  assert.equal(held.take('carol', 'm1'), 'changed')
  assert.equal(held.take('carol', 'm1'), undefined)
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
  assert.equal(held.take('mallory', `x${10 * MAX_EARLY_CANCELS - 1}`), 'changed', 'the newest was refused')
  assert.equal(held.take('mallory', 'x0'), undefined)
  assert.equal(held.take('alice', 'real'), 'changed', 'another contact\'s flood pushed it out')
  // Many contacts: the oldest go past the total bound; the newest is held.
  for (let i = 0; i < 2 * MAX_EARLY_CANCELS; i++) held.hold(`c${i}`, 'm', 'changed')
  assert.equal(held.size, MAX_EARLY_CANCELS)
  assert.equal(held.take(`c${2 * MAX_EARLY_CANCELS - 1}`, 'm'), 'changed')
})

test('a group file\'s cancel that overtook its announcement is applied when the member that sent it announces the file, and only then', { timeout: 60_000 }, async (t) => {
  const bob = await person(t, 'bob', { relays: [] })
  const files = bob.m().files as unknown as FileTransfers
  const descriptor = (): FileDescriptor => ({
    name: 'a.bin', type: 'application/octet-stream', size: 10, sha256: randomBytes(32), key: randomBytes(32), header: randomBytes(24),
    chunks: 1, blobId: randomBytes(16), capability: randomBytes(32), relays: []
  })
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
