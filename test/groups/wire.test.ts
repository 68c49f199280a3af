// Group wire formats (src/wire/group.ts): round trips, and every decoder refuses truncated, oversized,
// unknown and trailing input with a WireError.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { IdentityKeyPair } from '@signalapp/libsignal-client'
import { signChange } from '../../src/e2ee/groups/membership.ts'
import { WireError } from '../../src/wire/errors.ts'
import {
  MAX_CARDS_PER_CHANGE, MAX_CHANGES_BODY_BYTES, MAX_PARENTS, MAX_CHANGES_PER_BODY, chunkChanges, decodeChange, decodeGroupBody, decodeGroupInner, decodeGroupText, encodeGroupBody, encodeGroupInner, encodeGroupText,
  type GroupCard
} from '../../src/wire/group.ts'
import { decodePayload, encodePayload } from '../../src/wire/payload.ts'

const id = IdentityKeyPair.generate()
const card: GroupCard = {
  identityKey: id.publicKey.serialize(), registrationId: 7, signedPreKeyId: 3, signedPreKey: id.publicKey.serialize(), signedPreKeySignature: new Uint8Array(64).fill(1),
  kyberPreKeyId: 9, kyberPreKey: new Uint8Array(1569).fill(2), kyberPreKeySignature: new Uint8Array(64).fill(3), mailboxId: new Uint8Array(32).fill(4),
  mailboxKey: new Uint8Array(32).fill(5), displayName: 'Zoë', peerId: '12D3KooWxyz', relays: ['/ip4/1.2.3.4/tcp/1'], addresses: ['/ip4/127.0.0.1/tcp/2']
}
const gid = new Uint8Array(randomBytes(16))
const P = new Uint8Array(32).fill(9)
const isWire = (code?: string) => (err: unknown): boolean => WireError.is(err) && (code === undefined || err.code === code)

test('group card, change, bodies, text and group envelope round-trip', () => {
  const c = signChange({ groupId: gid, version: 2, parents: [P], author: card.identityKey, at: 123, op: { kind: 'add', cards: [card, card] } }, id.privateKey)
  const d = decodeChange(c.bytes)
  assert.equal(d.version, 2)
  assert.deepEqual(d.op.kind === 'add' ? d.op.cards[1] : undefined, card)
  for (const body of [
    { type: 'card-request' as const, groupId: gid, name: 'g' },
    { type: 'card-reply' as const, groupId: gid, card },
    { type: 'changes' as const, groupId: gid, changes: [c.bytes] },
    { type: 'keyed' as const, groupId: gid, skdm: new Uint8Array(90), message: new Uint8Array(200) }
  ]) {
    assert.deepEqual(decodeGroupBody(encodeGroupBody(body)), body)
    const p = decodePayload(encodePayload({ kind: 'group', id: new Uint8Array(16), seq: 0, body: encodeGroupBody(body) }))
    assert.equal(p.kind, 'group')
  }
  const text = { groupId: gid, id: new Uint8Array(16).fill(8), seq: 4, sentAt: 99, text: 'héllo' }
  assert.deepEqual(decodeGroupText(encodeGroupText(text)), text)
  const inner = decodeGroupInner(encodeGroupInner(card.identityKey, new Uint8Array(40)))
  assert.equal(inner.message.length, 40)
})

test('group decoders refuse truncated, oversized, unknown and trailing input', () => {
  const c = signChange({ groupId: gid, version: 1, parents: [], author: card.identityKey, at: 1, op: { kind: 'create', name: 'g', card } }, id.privateKey).bytes
  for (let cut = 1; cut < c.length; cut += 97) assert.throws(() => decodeChange(c.subarray(0, cut)), isWire())
  const body = encodeGroupBody({ type: 'changes', groupId: gid, changes: [c] })
  for (let cut = 0; cut < body.length; cut += 101) assert.throws(() => decodeGroupBody(body.subarray(0, cut)), isWire())
  assert.throws(() => decodeGroupBody(new Uint8Array([...body, 0])), isWire('TRAILING'))
  const unknownType = Uint8Array.from(body)
  unknownType[1] = 9
  assert.throws(() => decodeGroupBody(unknownType), isWire('UNKNOWN_KIND'))
  const badVersion = Uint8Array.from(body)
  badVersion[0] = 2
  assert.throws(() => decodeGroupBody(badVersion), isWire('VERSION'))
  // A card count over the limit is refused before any card is read.
  const add = signChange({ groupId: gid, version: 2, parents: [P], author: card.identityKey, at: 1, op: { kind: 'add', cards: [card] } }, id.privateKey).bytes
  const tooMany = Uint8Array.from(add)
  tooMany[1 + 16 + 4 + 1 + 32 + 33 + 8 + 1] = MAX_CARDS_PER_CHANGE + 1
  assert.throws(() => decodeChange(tooMany), isWire('TOO_LARGE'))
  // A parent count over MAX_PARENTS is refused before any parent is read; a version 1 change (no parents) is refused.
  const tooManyParents = Uint8Array.from(add)
  tooManyParents[1 + 16 + 4] = MAX_PARENTS + 1
  assert.throws(() => decodeChange(tooManyParents), isWire('TOO_LARGE'))
  const v1 = Uint8Array.from(add)
  v1[0] = 1
  assert.throws(() => decodeChange(v1), isWire('VERSION'))
  // Parents once each, ascending; none for a create, some for anything else.
  assert.throws(() => signChange({ groupId: gid, version: 2, parents: [P, P], author: card.identityKey, at: 1, op: { kind: 'leave' } }, id.privateKey), RangeError)
  assert.throws(() => signChange({ groupId: gid, version: 2, parents: [], author: card.identityKey, at: 1, op: { kind: 'leave' } }, id.privateKey), RangeError)
  const noParent = Uint8Array.from(add)
  noParent[1 + 16 + 4] = 0
  assert.throws(() => decodeChange(new Uint8Array([...noParent.subarray(0, 22), ...noParent.subarray(54)])), isWire('INVALID'))
  assert.throws(() => encodeGroupBody({ type: 'changes', groupId: gid, changes: [] }), RangeError)
  const t = encodeGroupText({ groupId: gid, id: new Uint8Array(16), seq: 1, sentAt: 1, text: 'x' })
  const zeroSeq = Uint8Array.from(t)
  zeroSeq.set([0, 0, 0, 0], 1 + 16 + 16)
  assert.throws(() => decodeGroupText(zeroSeq), isWire('INVALID'))
  assert.throws(() => decodeGroupInner(new Uint8Array(10)), isWire())
})

test('chunkChanges splits a log by count and by bytes; every body fits a payload; an oversized body is refused', () => {
  const big = signChange({ groupId: gid, version: 2, parents: [P], author: card.identityKey, at: 1, op: { kind: 'add', cards: Array.from({ length: MAX_CARDS_PER_CHANGE }, () => card) } }, id.privateKey).bytes
  const small = signChange({ groupId: gid, version: 3, parents: [P], author: card.identityKey, at: 1, op: { kind: 'rename', name: 'r' } }, id.privateKey).bytes
  const log = [small, big, big, big, ...Array.from({ length: MAX_CHANGES_PER_BODY + 5 }, () => small)]
  const runs = chunkChanges(log)
  assert.deepEqual(runs.flat(), log, 'order and content kept')
  for (const run of runs) {
    assert.ok(run.length <= MAX_CHANGES_PER_BODY)
    const body = encodeGroupBody({ type: 'changes', groupId: gid, changes: run })
    assert.ok(body.length <= MAX_CHANGES_BODY_BYTES)
    decodePayload(encodePayload({ kind: 'group', id: new Uint8Array(16), seq: 0, body }))
  }
  assert.ok(runs.length >= 4, `${runs.length} bodies`)
  assert.throws(() => encodeGroupBody({ type: 'changes', groupId: gid, changes: [big, big] }), RangeError)
  // Hand-made: two big changes in one body (count 2, each under MAX_CHANGE_BYTES) is over the body bound.
  const head = new Uint8Array([1, 3, ...gid, 2])
  const one = (c: Uint8Array): Uint8Array => new Uint8Array([c.length >> 8, c.length & 255, ...c])
  assert.throws(() => decodeGroupBody(new Uint8Array([...head, ...one(big), ...one(big)])), isWire('TOO_LARGE'))
})
