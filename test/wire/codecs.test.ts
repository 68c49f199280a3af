import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { ENVELOPE_BUCKETS, MAX_INNER_BODY_BYTES, bucketFor, openEnvelope, readEnvelopeHeader, sealEnvelope } from '../../src/wire/envelope.ts'
import { WireError } from '../../src/wire/errors.ts'
import { MAX_RECEIPT_IDS, MAX_TEXT_BYTES, decodePayload, encodePayload, type Payload } from '../../src/wire/payload.ts'

const key = new Uint8Array(randomBytes(32))
const box = new Uint8Array(randomBytes(32))

test('envelope: sizes are buckets, limits hold, wrong key and bad sizes are typed errors', () => {
  assert.equal(bucketFor(0), 1024)
  assert.equal(bucketFor(1024 - 78), 1024)
  assert.equal(bucketFor(1024 - 77), 4096)
  assert.equal(bucketFor(MAX_INNER_BODY_BYTES), 65536)
  assert.equal(bucketFor(MAX_INNER_BODY_BYTES + 1), undefined)
  assert.throws(() => sealEnvelope({ mailboxId: box, mailboxKey: key, innerType: 2, body: new Uint8Array(MAX_INNER_BODY_BYTES + 1) }), RangeError)
  assert.throws(() => sealEnvelope({ mailboxId: box.subarray(1), mailboxKey: key, innerType: 2, body: new Uint8Array(1) }), TypeError)
  const env = sealEnvelope({ mailboxId: box, mailboxKey: key, innerType: 1, body: new Uint8Array(MAX_INNER_BODY_BYTES).fill(9) })
  assert.equal(env.length, 65536)
  assert.equal(openEnvelope(env, key).body.length, MAX_INNER_BODY_BYTES)
  assert.throws(() => openEnvelope(env, new Uint8Array(32)), (err) => WireError.is(err, 'AUTH'))
  assert.throws(() => readEnvelopeHeader(new Uint8Array(0)), (err) => WireError.is(err, 'TRUNCATED'))
  assert.throws(() => readEnvelopeHeader(new Uint8Array([2, ...new Uint8Array(1023)])), (err) => WireError.is(err, 'VERSION'))
  assert.throws(() => readEnvelopeHeader(new Uint8Array(1000).fill(1)), (err) => WireError.is(err, 'INVALID'))
  assert.throws(() => readEnvelopeHeader(new Uint8Array(70000).fill(1)), (err) => WireError.is(err, 'TOO_LARGE'))
})

test('envelope round trip, any body that fits (property)', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 5000 }), fc.constantFrom(1 as const, 2 as const), (body, innerType) => {
    const env = sealEnvelope({ mailboxId: box, mailboxKey: key, innerType, body })
    assert.ok(ENVELOPE_BUCKETS.includes(env.length))
    const inner = openEnvelope(env, key)
    assert.equal(inner.innerType, innerType)
    assert.deepEqual(Buffer.from(inner.body), Buffer.from(body))
  }), { numRuns: 200 })
})

const id = (): Uint8Array => new Uint8Array(randomBytes(16))

test('payload: round trips, and every truncation or extension is a typed error', () => {
  const samples: Payload[] = [
    { kind: 'text', id: id(), seq: 3, sentAt: 1_700_000_000_000, text: 'héllo' },
    { kind: 'receipt', id: id(), seq: 0, type: 'read', ids: [id(), id()] },
    { kind: 'card', id: id(), seq: 0, card: { displayName: 'B', mailboxId: box, mailboxKey: key, presenceSecret: key, presenceKey: box, peerId: 'p', relays: ['r'], addresses: ['a', 'b'], senderCertificate: new Uint8Array(260) } }
  ]
  for (const p of samples) {
    const bytes = encodePayload(p)
    assert.deepEqual(decodePayload(bytes), p)
    for (let n = 0; n < bytes.length; n++) assert.throws(() => decodePayload(bytes.subarray(0, n)), (err) => WireError.is(err, 'TRUNCATED'))
    assert.throws(() => decodePayload(new Uint8Array([...bytes, 0])), (err) => WireError.is(err, 'TRAILING'))
    const v2 = Uint8Array.from(bytes)
    v2[0] = 3
    assert.throws(() => decodePayload(v2), (err) => WireError.is(err, 'VERSION'))
    // A kind no version knows yet (9 is file-cancel since issue 12's review).
    const unknownKind = Uint8Array.from(bytes)
    unknownKind[1] = 0x7f
    assert.throws(() => decodePayload(unknownKind), (err) => WireError.is(err, 'UNKNOWN_KIND') && /newer/.test(err.message))
  }
})

test('payload limits: text, receipt count, seq rules, invalid UTF-8', () => {
  assert.throws(() => encodePayload({ kind: 'text', id: id(), seq: 1, sentAt: 0, text: 'x'.repeat(MAX_TEXT_BYTES + 1) }), RangeError)
  assert.throws(() => encodePayload({ kind: 'receipt', id: id(), seq: 0, type: 'read', ids: Array.from({ length: MAX_RECEIPT_IDS + 1 }, id) }), RangeError)
  encodePayload({ kind: 'text', id: id(), seq: 1, sentAt: 0, text: 'x'.repeat(MAX_TEXT_BYTES) })
  const zeroSeq = encodePayload({ kind: 'text', id: id(), seq: 0, sentAt: 0, text: 'x' })
  assert.throws(() => decodePayload(zeroSeq), (err) => WireError.is(err, 'INVALID'))
  const ctl = encodePayload({ kind: 'receipt', id: id(), seq: 5, type: 'read', ids: [] })
  assert.throws(() => decodePayload(ctl), (err) => WireError.is(err, 'INVALID'))
  const bad = encodePayload({ kind: 'text', id: id(), seq: 1, sentAt: 0, text: 'ab' })
  bad[bad.length - 1] = 0xff
  assert.throws(() => decodePayload(bad), (err) => WireError.is(err, 'INVALID') && /UTF-8/.test(err.message))
  const big = encodePayload({ kind: 'receipt', id: id(), seq: 0, type: 'read', ids: [] })
  big[big.length - 2] = 0xff // receipt count 65280
  assert.throws(() => decodePayload(big), (err) => WireError.is(err, 'TOO_LARGE'))
})

test('payload decoder never throws anything but WireError on random bytes (property)', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
    if (bytes.length > 0) bytes[0] = 1
    try {
      decodePayload(bytes)
    } catch (err) {
      assert.ok(err instanceof WireError, String(err))
    }
  }), { numRuns: 2000 })
})
