// Issue 13 short invites: the park frames and the short link round-trip, refuse every truncation, and
// bound every length; a short link stays within 120 characters for an ordinary relay address.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { WireError } from '../../src/wire/errors.ts'
import {
  MAX_PARKED_BYTES, MAX_SHORT_LINK_CHARS, decodeParkAnswer, decodeParkRequest, decodeShortLink, encodeParkAnswer, encodeParkRequest,
  encodeShortLink, type ParkRequest
} from '../../src/wire/parked-invite.ts'

const RELAY = '/ip4/203.0.113.7/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'

test('park requests and answers round-trip and refuse truncation, trailing bytes and oversize blobs', () => {
  const reqs: ParkRequest[] = [
    { op: 'park', id: new Uint8Array(randomBytes(8)), expiresAt: 1_700_000_000_000, removeToken: new Uint8Array(randomBytes(16)), sealed: new Uint8Array(randomBytes(100)) },
    { op: 'fetch', id: new Uint8Array(randomBytes(8)) },
    { op: 'remove', id: new Uint8Array(randomBytes(8)), removeToken: new Uint8Array(randomBytes(16)) }
  ]
  for (const r of reqs) {
    const b = encodeParkRequest(r)
    assert.deepEqual(decodeParkRequest(b), r)
    for (let n = 0; n < b.length; n++) assert.throws(() => decodeParkRequest(b.subarray(0, n)), (e) => WireError.is(e, 'TRUNCATED'))
    assert.throws(() => decodeParkRequest(Buffer.concat([b, Buffer.of(0)])), (e) => WireError.is(e, 'TRAILING'))
  }
  const big = Buffer.from(encodeParkRequest({ ...(reqs[0] as ParkRequest & { op: 'park' }), sealed: new Uint8Array(10) }))
  big.writeUInt16BE(MAX_PARKED_BYTES + 1, 2 + 8 + 8 + 16)
  assert.throws(() => decodeParkRequest(big), (e) => WireError.is(e, 'TOO_LARGE'))
  assert.throws(() => decodeParkRequest(Buffer.of(1, 9, ...randomBytes(8))), (e) => WireError.is(e, 'UNKNOWN_KIND'))
  const ok = encodeParkAnswer({ status: 'ok', sealed: Buffer.from('x') })
  assert.deepEqual(decodeParkAnswer(ok, true), { status: 'ok', sealed: new Uint8Array(Buffer.from('x')) })
  assert.deepEqual(decodeParkAnswer(encodeParkAnswer({ status: 'not-found' }), true), { status: 'not-found' })
  assert.throws(() => decodeParkAnswer(Buffer.of(1, 7), false), (e) => WireError.is(e, 'UNKNOWN_KIND'))
})

test('a short link holds relay, id and key in at most 120 characters; damaged links are refused with a reason', () => {
  const l = { relay: RELAY, id: new Uint8Array(randomBytes(8)), key: new Uint8Array(randomBytes(16)) }
  const s = encodeShortLink(l)
  assert.ok(s.length <= MAX_SHORT_LINK_CHARS, `${s.length} characters`)
  const back = decodeShortLink(`  ${s}\n`)
  assert.deepEqual({ relay: back.relay, id: Buffer.from(back.id).toString('hex'), key: Buffer.from(back.key).toString('hex') },
    { relay: l.relay, id: Buffer.from(l.id).toString('hex'), key: Buffer.from(l.key).toString('hex') })
  assert.throws(() => decodeShortLink(s.slice(0, -4)), (e) => WireError.is(e, 'TRUNCATED'))
  assert.throws(() => decodeShortLink(s + 'AAAA'), (e) => WireError.is(e, 'TRAILING'))
  assert.throws(() => decodeShortLink(s + 'x'.repeat(120)), (e) => WireError.is(e, 'TOO_LARGE'))
  assert.throws(() => decodeShortLink('0m1s:not*base64'), (e) => WireError.is(e, 'INVALID'))
  assert.throws(() => decodeShortLink('0m1:abc'), (e) => WireError.is(e, 'INVALID'))
})
