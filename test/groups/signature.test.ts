// Signature malleability (review of the membership log): a change's identity is the SHA-256 of its whole encoding,
// signature included, and libsignal's XEdDSA verify also accepts S + L (L: the Ed25519 group order) in place of S.
// Such a copy would pass the replay check as a new change (a new node in the DAG, its effect applied again). Only
// the canonical form (S below L, the top bit cleared) is admitted.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { IdentityKeyPair } from '@signalapp/libsignal-client'
import { E2eeError } from '../../src/e2ee/errors.ts'
import { ChangeLog, canonicalSignature, changeHash, groupIdFor, signChange, verifyChange } from '../../src/e2ee/groups/membership.ts'
import { CHANGE_SIGNATURE_CONTEXT, SIGNATURE_BYTES, type GroupCard } from '../../src/wire/group.ts'

const L = 2n ** 252n + 27742317777372353535851937790883648493n

/** The same signature with S + L in its second half (little-endian; the top bit, XEdDSA's sign bit, kept). */
function plusL (sig: Uint8Array): Uint8Array {
  const top = (sig[63] as number) & 0x80
  let sv = 0n
  for (let i = 63; i >= 32; i--) sv = (sv << 8n) | BigInt(i === 63 ? (sig[i] as number) & 0x7f : sig[i] as number)
  sv += L
  const out = new Uint8Array(sig)
  for (let i = 32; i < 64; i++) { out[i] = Number(sv & 0xffn); sv >>= 8n }
  out[63] = (out[63] as number) | top
  return out
}

test('a change whose signature has S + L (accepted by libsignal) is refused; the canonical original is accepted', () => {
  const me = IdentityKeyPair.generate()
  const key = me.publicKey.serialize()
  const card: GroupCard = {
    identityKey: key, registrationId: 1, signedPreKeyId: 1, signedPreKey: key, signedPreKeySignature: new Uint8Array(64),
    kyberPreKeyId: 1, kyberPreKey: new Uint8Array(1569), kyberPreKeySignature: new Uint8Array(64), mailboxId: new Uint8Array(32), mailboxKey: new Uint8Array(32),
    displayName: 'p0', relays: [], addresses: []
  }
  const body = { version: 1, parents: [], author: key, at: 1, op: { kind: 'create', name: 'g', card } } as const
  const create = signChange({ groupId: groupIdFor(body), ...body }, me.privateKey)
  const groupId = create.groupId
  const rename = signChange({ groupId, version: 2, parents: [new Uint8Array(Buffer.from(changeHash(create.bytes), 'hex'))], author: key, at: 2, op: { kind: 'rename', name: 'r' } }, me.privateKey)

  for (const c of [create, rename]) {
    const original = verifyChange(c.bytes)
    assert.ok(canonicalSignature(original.signature))
    const forged = new Uint8Array(c.bytes)
    forged.set(plusL(c.signature), c.bytes.length - SIGNATURE_BYTES)
    assert.notEqual(changeHash(forged), changeHash(c.bytes), 'another hash for the same change')
    // The attack is real: libsignal's verify accepts the S + L signature over the same bytes.
    const signed = Buffer.concat([Buffer.from(CHANGE_SIGNATURE_CONTEXT), forged.subarray(0, forged.length - SIGNATURE_BYTES)])
    assert.equal(me.publicKey.verify(signed, forged.subarray(forged.length - SIGNATURE_BYTES)), true)
    assert.throws(() => verifyChange(forged), (err: unknown) => E2eeError.is(err, 'BAD_SENDER'))
  }
  // Admitted once; the copy never reaches the log.
  const log = new ChangeLog([verifyChange(create.bytes), verifyChange(rename.bytes)])
  assert.equal(log.size, 2)
  assert.deepEqual(log.admit(verifyChange(rename.bytes)), { refused: 'replayed' })
})
