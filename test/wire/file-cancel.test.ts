// Issue 12 review: the file-cancel control (payload kind 9): round trip, every truncation, its reason codes (an
// unknown one reads as 'other'), and the control's sequence number 0.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { WireError } from '../../src/wire/errors.ts'
import { decodePayload, encodePayload, isMessagePayload, KIND_FILE_CANCEL, type Payload } from '../../src/wire/payload.ts'

const id = (): Uint8Array => new Uint8Array(randomBytes(16))

test('a file-cancel round-trips for each reason, refuses every truncation and trailing bytes, and is a control', () => {
  for (const reason of ['changed', 'unreadable', 'other'] as const) {
    const p: Payload = { kind: 'file-cancel', id: id(), seq: 0, target: id(), reason }
    const bytes = encodePayload(p)
    assert.equal(bytes[1], KIND_FILE_CANCEL)
    assert.equal(bytes.length, 1 + 1 + 16 + 4 + 16 + 1)
    assert.deepEqual(decodePayload(bytes), p)
    assert.equal(isMessagePayload(p), false)
    for (let n = 0; n < bytes.length; n++) assert.throws(() => decodePayload(bytes.subarray(0, n)), (err) => WireError.is(err, 'TRUNCATED'))
    assert.throws(() => decodePayload(new Uint8Array([...bytes, 0])), (err) => WireError.is(err, 'TRAILING'))
  }
})

test('a file-cancel with an unknown reason code reads as "other"; one with a sequence number is refused', () => {
  const bytes = Uint8Array.from(encodePayload({ kind: 'file-cancel', id: id(), seq: 0, target: id(), reason: 'changed' }))
  bytes[bytes.length - 1] = 0xee
  const p = decodePayload(bytes)
  assert.ok(p.kind === 'file-cancel' && p.reason === 'other')
  const seq = Uint8Array.from(bytes)
  seq[21] = 1
  assert.throws(() => decodePayload(seq), (err) => WireError.is(err, 'INVALID') && /sequence number 0/.test(err.message))
})
