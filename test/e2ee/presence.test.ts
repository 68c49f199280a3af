import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { newPresenceKeys, openPresence, presenceDay, presenceKey, PRESENCE_UPDATED_AT_SKEW_MS, sealPresence } from '../../src/e2ee/presence.ts'
import { WireError } from '../../src/wire/errors.ts'

const me = { peerId: '12D3KooWExamplePeerIdForPresenceRecords000000000', addresses: ['/ip4/127.0.0.1/tcp/4001'], updatedAt: 1_760_000_000_000 }
const now = me.updatedAt

test('presence: sealed for one contact and one day, opaque to everyone else', () => {
  const secret = randomBytes(32)
  const keys = newPresenceKeys()
  const day = presenceDay(me.updatedAt)
  const sealed = sealPresence(secret, day, me, keys.privateKey)
  const open = (s: Uint8Array, d: number, bytes: Uint8Array): unknown => openPresence(s, d, bytes, { verifyKey: keys.publicKey, now })
  assert.deepEqual(open(secret, day, sealed), me)
  assert.ok(!Buffer.from(sealed).includes(Buffer.from(me.peerId)), 'peer id in clear')
  assert.ok(!Buffer.from(sealed).includes(Buffer.from('127.0.0.1')), 'address in clear')
  assert.throws(() => open(randomBytes(32), day, sealed), (e) => WireError.is(e, 'AUTH'))
  assert.throws(() => open(secret, day + 1, sealed), (e) => WireError.is(e, 'AUTH'))
  const flipped = Buffer.from(sealed)
  flipped[30] = (flipped[30] as number) ^ 1
  assert.throws(() => open(secret, day, flipped), (e) => WireError.is(e, 'AUTH'))
  assert.throws(() => open(secret, day, sealed.subarray(0, 20)), (e) => WireError.is(e))
})

test('presence: whoever holds the secret but not the contact\'s signing key cannot forge a record', () => {
  const secret = randomBytes(32)
  const contactKeys = newPresenceKeys()
  const attacker = newPresenceKeys()
  const day = presenceDay(now)
  // The attacker knows the secret (say it leaked) and seals a record pointing at itself, signed with its own key.
  const forged = sealPresence(secret, day, { ...me, addresses: ['/ip4/203.0.113.66/tcp/4001'] }, attacker.privateKey)
  assert.throws(() => openPresence(secret, day, forged, { verifyKey: contactKeys.publicKey, now }), (e) => WireError.is(e, 'AUTH'))
  // A genuine record cannot be moved to another day (the rendezvous key is signed).
  const genuine = sealPresence(secret, day, me, contactKeys.privateKey)
  assert.deepEqual(openPresence(secret, day, genuine, { verifyKey: contactKeys.publicKey, now }), me)
})

test('presence: a record dated past now + the clock skew is refused; within the skew it is taken', () => {
  const secret = randomBytes(32)
  const keys = newPresenceKeys()
  const day = presenceDay(now)
  const atEdge = sealPresence(secret, day, { ...me, updatedAt: now + PRESENCE_UPDATED_AT_SKEW_MS }, keys.privateKey)
  assert.equal(openPresence(secret, day, atEdge, { verifyKey: keys.publicKey, now }).updatedAt, now + PRESENCE_UPDATED_AT_SKEW_MS)
  const future = sealPresence(secret, day, { ...me, updatedAt: now + PRESENCE_UPDATED_AT_SKEW_MS + 1 }, keys.privateKey)
  assert.throws(() => openPresence(secret, day, future, { verifyKey: keys.publicKey, now }), (e) => WireError.is(e, 'INVALID'))
})

test('presence: rendezvous keys rotate daily and differ per secret', () => {
  const a = randomBytes(32)
  const b = randomBytes(32)
  const day = presenceDay(Date.now())
  assert.equal(presenceKey(a, day).length, 32)
  assert.notDeepEqual(presenceKey(a, day), presenceKey(a, day + 1))
  assert.notDeepEqual(presenceKey(a, day), presenceKey(b, day))
  assert.deepEqual(presenceKey(a, day), presenceKey(a, day))
})
