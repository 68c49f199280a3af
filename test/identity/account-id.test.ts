import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PrivateKey } from '@signalapp/libsignal-client'
import { accountIdFromIdentityKey, parseAccountId, signalUuidFromIdentityKey } from '../../src/identity/account-id.ts'
import { IdentityError } from '../../src/identity/errors.ts'
import { safetyNumber } from '../../src/identity/safety-number.ts'

const key = (seed: number): Uint8Array => PrivateKey.deserialize(new Uint8Array(32).fill(seed)).getPublicKey().serialize()
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567'

test('account id: short, grouped, stable, and parses back in any case or spacing', () => {
  const id = accountIdFromIdentityKey(key(1))
  assert.match(id, /^([a-z2-7]{4}-){6}[a-z2-7]{4}$/)
  assert.equal(accountIdFromIdentityKey(key(1)), id)
  assert.notEqual(accountIdFromIdentityKey(key(2)), id)
  assert.equal(parseAccountId(id), id)
  assert.equal(parseAccountId(id.toUpperCase().replaceAll('-', ' ')), id)
  assert.equal(parseAccountId(id.replaceAll('-', '')), id)
})

test('a mistyped account id is detected: every single substitution and every adjacent swap', () => {
  for (const seed of [1, 2, 3]) {
    const compact = accountIdFromIdentityKey(key(seed)).replaceAll('-', '')
    for (let i = 0; i < compact.length; i++) {
      for (const c of ALPHABET) {
        if (c === compact[i]) continue
        const typo = compact.slice(0, i) + c + compact.slice(i + 1)
        assert.throws(() => parseAccountId(typo), (err) => IdentityError.is(err, 'ACCOUNT_ID_CHECKSUM') && /typo/.test(err.message))
      }
      if (i + 1 < compact.length && compact[i] !== compact[i + 1]) {
        const swap = compact.slice(0, i) + (compact[i + 1] as string) + (compact[i] as string) + compact.slice(i + 2)
        assert.throws(() => parseAccountId(swap), (err) => IdentityError.is(err, 'ACCOUNT_ID_CHECKSUM'))
      }
    }
    assert.throws(() => parseAccountId(compact.slice(1)), (err) => IdentityError.is(err, 'ACCOUNT_ID_INVALID'))
    assert.throws(() => parseAccountId(compact.slice(0, -1) + '1'), (err) => IdentityError.is(err, 'ACCOUNT_ID_INVALID'))
  }
})

test('libsignal address is a v8 UUID bound to the key', () => {
  const u = signalUuidFromIdentityKey(key(1))
  assert.match(u, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  assert.notEqual(signalUuidFromIdentityKey(key(2)), u)
})

test('safety number: same digits from both sides, different when a key changes', () => {
  const ab = safetyNumber(key(1), key(2))
  const ba = safetyNumber(key(2), key(1))
  assert.equal(ab.digits, ba.digits)
  assert.match(ab.digits, /^\d{60}$/)
  assert.notEqual(safetyNumber(key(1), key(3)).digits, ab.digits)
  assert.notEqual(safetyNumber(key(4), key(2)).digits, ab.digits)
})
