// Issue 13 payload kinds (reply, edit, delete for everyone): round trips, every truncation, and the
// bounds the decoder enforces (quote length, sequence numbers, an empty edit).
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { WireError } from '../../src/wire/errors.ts'
import { MAX_QUOTE_BYTES, decodePayload, encodePayload, isMessagePayload, type Payload } from '../../src/wire/payload.ts'

const id = (): Uint8Array => new Uint8Array(randomBytes(16))

test('reply, edit and delete round-trip and refuse every truncation', () => {
  const cases: Payload[] = [
    { kind: 'reply', id: id(), seq: 3, sentAt: 1_700_000_000_000, text: 'yes 👍', replyTo: id(), quote: 'are you coming?' },
    { kind: 'edit', id: id(), seq: 0, target: id(), editedAt: 1_700_000_000_001, text: 'fixed typo' },
    { kind: 'delete', id: id(), seq: 0, target: id(), deletedAt: 1_700_000_000_002 }
  ]
  for (const p of cases) {
    const bytes = encodePayload(p)
    assert.deepEqual(decodePayload(bytes), p)
    for (let n = 0; n < bytes.length; n++) assert.throws(() => decodePayload(bytes.subarray(0, n)), (err) => WireError.is(err, 'TRUNCATED'))
    assert.throws(() => decodePayload(new Uint8Array([...bytes, 0])), (err) => WireError.is(err, 'TRAILING'))
  }
  assert.equal(isMessagePayload(cases[0] as Payload), true)
  assert.equal(isMessagePayload(cases[1] as Payload), false)
})

test('a quote over its limit, a reply without a sequence number, an edit with one or with no text are refused', () => {
  assert.throws(() => encodePayload({ kind: 'reply', id: id(), seq: 1, sentAt: 0, text: 'x', replyTo: id(), quote: 'q'.repeat(MAX_QUOTE_BYTES + 1) }), RangeError)
  // Hand-made: a quote length prefix over the limit.
  const ok = encodePayload({ kind: 'reply', id: id(), seq: 1, sentAt: 0, text: 'x', replyTo: id(), quote: '' })
  const long = Buffer.concat([ok.subarray(0, ok.length - 2), Buffer.from([0x01, 0x19]), Buffer.alloc(MAX_QUOTE_BYTES + 1, 0x61)])
  assert.throws(() => decodePayload(long), (err) => WireError.is(err, 'TOO_LARGE'))
  const seq0 = Uint8Array.from(ok)
  seq0.fill(0, 18, 22)
  assert.throws(() => decodePayload(seq0), (err) => WireError.is(err, 'INVALID'))
  const edit = Uint8Array.from(encodePayload({ kind: 'edit', id: id(), seq: 0, target: id(), editedAt: 0, text: 'x' }))
  edit[21] = 1
  assert.throws(() => decodePayload(edit), (err) => WireError.is(err, 'INVALID') && /sequence number 0/.test(err.message))
  const empty = encodePayload({ kind: 'edit', id: id(), seq: 0, target: id(), editedAt: 0, text: '' })
  assert.throws(() => decodePayload(empty), (err) => WireError.is(err, 'INVALID') && /some text/.test(err.message))
})
