// Review findings on group membership (src/e2ee/groups/membership.ts): a second create for an existing group
// id cannot take the group over, whoever signs it and however its hash sorts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { IdentityKeyPair } from '@signalapp/libsignal-client'
import { admit, changeHash, foldChanges, groupIdFor, signChange, verifyChange } from '../../src/e2ee/groups/membership.ts'
import { E2eeError } from '../../src/e2ee/errors.ts'
import type { ChangeOp, GroupCard, SignedChange } from '../../src/wire/group.ts'

const people = Array.from({ length: 3 }, () => IdentityKeyPair.generate())
const key = (i: number): Uint8Array => (people[i] as IdentityKeyPair).publicKey.serialize()
function card (i: number): GroupCard {
  return {
    identityKey: key(i), registrationId: 1, signedPreKeyId: 1, signedPreKey: key(i), signedPreKeySignature: new Uint8Array(64),
    kyberPreKeyId: 1, kyberPreKey: new Uint8Array(1569), kyberPreKeySignature: new Uint8Array(64), mailboxId: new Uint8Array(32), mailboxKey: new Uint8Array(32),
    displayName: `p${i}`, relays: [], addresses: []
  }
}
const createOp: ChangeOp = { kind: 'create', name: 'g', card: card(0) }
const groupId = groupIdFor({ version: 1, parents: [], author: key(0), at: 1, op: createOp })
const sign = (a: number, v: number, op: ChangeOp, at = 1, gid = groupId, parents: Uint8Array[] = []): SignedChange =>
  signChange({ groupId: gid, version: v, parents, author: key(a), at, op }, (people[a] as IdentityKeyPair).privateKey)
const names = (s: ReturnType<typeof foldChanges>): string => [...s.members.values()].map((m) => m.card.displayName + (m.admin ? '*' : '')).sort().join(',')

test('a member cannot take a group over with a second create that sorts first', () => {
  const create = verifyChange(sign(0, 1, createOp).bytes)
  const held = [create, verifyChange(sign(0, 2, { kind: 'add', cards: [card(1), card(2)] }, 1, groupId, [Buffer.from(changeHash(create.bytes), 'hex')]).bytes)]
  const createHash = changeHash((held[0] as SignedChange).bytes)
  let tried = 0
  for (let at = 0; tried < 40; at++) {
    const forged = sign(1, 1, { kind: 'create', name: 'mine', card: card(1) }, at)
    if (changeHash(forged.bytes) > createHash) continue
    tried++
    // Signed with the existing group id, a create does not verify: the id is not derived from it.
    assert.throws(() => verifyChange(forged.bytes), (e: unknown) => E2eeError.is(e, 'BAD_PAYLOAD'))
    // Even one that verified (a log from before the binding, or a hash collision) is refused: one create per group.
    const r = admit(held, { ...forged })
    assert.deepEqual(r, { refused: 'second-create' })
  }
  assert.equal(names(foldChanges(held)), 'p0*,p1,p2')
})

test('a create verifies only with the group id derived from its body', () => {
  const ok = verifyChange(sign(0, 1, createOp).bytes)
  assert.deepEqual(ok.groupId, groupId)
  const other = sign(0, 1, createOp, 1, new Uint8Array(16).fill(7))
  assert.throws(() => verifyChange(other.bytes), (e: unknown) => E2eeError.is(e, 'BAD_PAYLOAD'))
})
