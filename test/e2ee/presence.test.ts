import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { openPresence, presenceDay, presenceKey, sealPresence } from '../../src/e2ee/presence.ts'
import { WireError } from '../../src/wire/errors.ts'

const me = { peerId: '12D3KooWExamplePeerIdForPresenceRecords000000000', addresses: ['/ip4/127.0.0.1/tcp/4001'], updatedAt: 1_760_000_000_000 }

test('presence: sealed for one contact and one day, opaque to everyone else', () => {
  const secret = randomBytes(32)
  const day = presenceDay(me.updatedAt)
  const sealed = sealPresence(secret, day, me)
  assert.deepEqual(openPresence(secret, day, sealed), me)
  assert.ok(!Buffer.from(sealed).includes(Buffer.from(me.peerId)), 'peer id in clear')
  assert.ok(!Buffer.from(sealed).includes(Buffer.from('127.0.0.1')), 'address in clear')
  assert.throws(() => openPresence(randomBytes(32), day, sealed), (e) => WireError.is(e, 'AUTH'))
  assert.throws(() => openPresence(secret, day + 1, sealed), (e) => WireError.is(e, 'AUTH'))
  const flipped = Buffer.from(sealed)
  flipped[30] = (flipped[30] as number) ^ 1
  assert.throws(() => openPresence(secret, day, flipped), (e) => WireError.is(e, 'AUTH'))
  assert.throws(() => openPresence(secret, day, sealed.subarray(0, 20)), (e) => WireError.is(e))
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
