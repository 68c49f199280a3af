// Exact bytes of the deliver, mailbox, presence and STUN port frames, and their refusals (version first, bounded lengths).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { NetError, atStream, netFromWire } from '../../src/net/errors.ts'
import { WireError } from '../../src/wire/errors.ts'
import { decodeDeliverFrame, encodeDeliverFrame, MAX_ACK_FRAME_BYTES, MAX_ACKS_PER_FRAME, MAX_DELIVER_FRAME_BYTES } from '../../src/wire/deliver.ts'
import { FrameReader, lengthPrefixed } from '../../src/net/frame-reader.ts'
import { MAX_ENVELOPE_BYTES } from '../../src/wire/envelope.ts'
import {
  authMessage, decodeClientFrame, decodeRelayFrame, depositFrameFits, encodeClientFrame, encodeRelayFrame, MAILBOX_PROTOCOL, MAX_ACK_IDS,
  MAX_DEPOSIT_ITEMS, MAX_FETCH_ITEMS, type DepositStatus
} from '../../src/wire/mailbox.ts'
import {
  decodePresenceRecord, encodePresenceRecord, presenceDhtKey, selectPresence, validatePresence
} from '../../src/wire/presence.ts'
import { decodeStunPort, encodeStunPort } from '../../src/wire/stun-port.ts'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const fill = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v)
const u16 = (n: number): number[] => [n >> 8, n & 0xff]
const u32 = (n: number): number[] => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]


/** Malformed bytes (not a version or size refusal): the wire layer's own error, never the network's. */
const badBytes = (e: unknown): boolean => WireError.is(e) && e.code !== 'VERSION' && e.code !== 'TOO_LARGE' && !NetError.is(e)

test('deliver frames: exact bytes, version checked first, bounds', () => {
  assert.equal(hex(encodeDeliverFrame({ type: 'deliver', id: 0x01020304, envelope: Uint8Array.of(0xaa, 0xbb) })), '020101020304aabb')
  assert.equal(hex(encodeDeliverFrame({ type: 'acks', acks: [{ id: 1, status: 'accepted' }] })), '02020100000001' + '00')
  assert.equal(hex(encodeDeliverFrame({ type: 'acks', acks: [{ id: 7, status: 'rejected' }, { id: 0xffffffff, status: 'bad-frame' }, { id: 0, status: 'too-large' }] })),
    '020203' + '0000000701' + 'ffffffff03' + '0000000002')
  assert.deepEqual(decodeDeliverFrame(Uint8Array.of(2, 1, 0, 0, 0, 5, 9)), { type: 'deliver', id: 5, envelope: Uint8Array.of(9) })
  assert.deepEqual(decodeDeliverFrame(Uint8Array.of(2, 2, 1, 0, 0, 0, 3, 2)), { type: 'acks', acks: [{ id: 3, status: 'too-large' }] })
  // 2.1.0: status 4 is the delivered receipt; 5 is unknown.
  assert.deepEqual(decodeDeliverFrame(Uint8Array.of(2, 2, 1, 0, 0, 0, 3, 4)), { type: 'acks', acks: [{ id: 3, status: 'delivered' }] })
  assert.throws(() => decodeDeliverFrame(Uint8Array.of(2, 2, 1, 0, 0, 0, 3, 5)), badBytes)
  assert.throws(() => decodeDeliverFrame(Uint8Array.of(1, 1, 0, 0, 0, 5, 9)), (e) => WireError.is(e, 'VERSION'))
  assert.throws(() => decodeDeliverFrame(Uint8Array.of(2, 1, 0, 0, 0, 5)), badBytes) // no envelope
  assert.throws(() => decodeDeliverFrame(Uint8Array.of(2, 1, 0, 0, 5)), badBytes) // id cut short
  assert.throws(() => decodeDeliverFrame(Uint8Array.of(2, 1, 0, 0, 0, 0, 9)), badBytes) // id 0 is the stream's
  assert.throws(() => decodeDeliverFrame(Uint8Array.of(2, 2, 1, 0, 0, 0, 3, 9)), badBytes) // unknown status
  assert.throws(() => decodeDeliverFrame(Uint8Array.of(2, 2, 1, 0, 0, 0, 3, 0, 0)), badBytes) // trailing
  assert.throws(() => decodeDeliverFrame(Uint8Array.of(2, 2, 2, 0, 0, 0, 3, 0)), badBytes) // second ack missing
  assert.throws(() => decodeDeliverFrame(Uint8Array.of(2, 2, 0)), badBytes) // no acks
  assert.throws(() => decodeDeliverFrame(Uint8Array.of(2, 2, 2, 0, 0, 0, 3, 0, 0, 0, 0, 3, 1)), badBytes) // one id twice
  assert.throws(() => decodeDeliverFrame(Uint8Array.of(2, 2, MAX_ACKS_PER_FRAME + 1)), (e) => WireError.is(e, 'TOO_LARGE'))
  assert.throws(() => decodeDeliverFrame(Uint8Array.of(2, 7)), badBytes)
  assert.throws(() => encodeDeliverFrame({ type: 'deliver', id: 1, envelope: new Uint8Array(MAX_ENVELOPE_BYTES + 1) }), (e) => WireError.is(e, 'TOO_LARGE'))
  assert.throws(() => encodeDeliverFrame({ type: 'deliver', id: 0, envelope: Uint8Array.of(1) }), RangeError)
  assert.throws(() => encodeDeliverFrame({ type: 'deliver', id: 2 ** 32, envelope: Uint8Array.of(1) }), RangeError)
  assert.throws(() => encodeDeliverFrame({ type: 'acks', acks: [] }), RangeError)
  assert.throws(() => encodeDeliverFrame({ type: 'acks', acks: Array.from({ length: MAX_ACKS_PER_FRAME + 1 }, (_, i) => ({ id: i + 1, status: 'accepted' as const })) }), RangeError)
  const big = new Uint8Array(MAX_DELIVER_FRAME_BYTES + 1); big[0] = 2; big[1] = 1
  assert.throws(() => decodeDeliverFrame(big), (e) => WireError.is(e, 'TOO_LARGE'))
  // the largest frame of each kind decodes
  const full = encodeDeliverFrame({ type: 'deliver', id: 9, envelope: new Uint8Array(MAX_ENVELOPE_BYTES).fill(1) })
  assert.equal(full.length, MAX_DELIVER_FRAME_BYTES)
  assert.equal((decodeDeliverFrame(full) as { envelope: Uint8Array }).envelope.length, MAX_ENVELOPE_BYTES)
  const acks = encodeDeliverFrame({ type: 'acks', acks: Array.from({ length: MAX_ACKS_PER_FRAME }, (_, i) => ({ id: i + 1, status: 'accepted' as const })) })
  assert.equal(acks.length, MAX_ACK_FRAME_BYTES)
})

test('deliver frames round-trip (property)', () => {
  const status = fc.constantFrom('accepted' as const, 'rejected' as const, 'too-large' as const, 'bad-frame' as const, 'delivered' as const)
  fc.assert(fc.property(fc.integer({ min: 1, max: 0xffffffff }), fc.uint8Array({ minLength: 1, maxLength: 3000 }), (id, envelope) => {
    const f = { type: 'deliver' as const, id, envelope }
    assert.deepEqual(decodeDeliverFrame(encodeDeliverFrame(f)), f)
  }))
  fc.assert(fc.property(fc.uniqueArray(fc.nat({ max: 0xffffffff }), { minLength: 1, maxLength: MAX_ACKS_PER_FRAME }), fc.array(status, { minLength: MAX_ACKS_PER_FRAME, maxLength: MAX_ACKS_PER_FRAME }), (ids, statuses) => {
    const f = { type: 'acks' as const, acks: ids.map((id, i) => ({ id, status: statuses[i] ?? 'accepted' })) }
    assert.deepEqual(decodeDeliverFrame(encodeDeliverFrame(f)), f)
  }))
})

test('length-prefixed framing on a stream: prefixes in any chunking, the limit checked on the prefix', () => {
  const frames = [Uint8Array.of(1), new Uint8Array(200).fill(2), new Uint8Array(0x4000).fill(3)]
  const wire = lengthPrefixed(frames)
  assert.equal(hex(wire.subarray(0, 2)), '0101')
  assert.equal(hex(wire.subarray(2, 4)), 'c801') // 200
  assert.equal(hex(wire.subarray(204, 207)), '808001') // 16384
  for (const step of [1, 2, 7, 1000, wire.length]) {
    const r = new FrameReader(0x4000)
    const out: Uint8Array[] = []
    for (let i = 0; i < wire.length; i += step) {
      r.push(wire.subarray(i, i + step))
      for (let f = r.next(); f !== undefined; f = r.next()) out.push(f)
    }
    assert.deepEqual(out.map(hex), frames.map(hex))
    assert.equal(r.buffered, 0)
  }
  const small = new FrameReader(100)
  small.push(Uint8Array.of(101))
  assert.throws(() => small.next(), (e) => NetError.is(e, 'TOO_LARGE'))
  const prefixTooLong = new FrameReader(100) // 100 fits one byte: a second prefix byte already announces too much
  prefixTooLong.push(Uint8Array.of(0x80, 0x80))
  assert.throws(() => prefixTooLong.next(), (e) => NetError.is(e, 'TOO_LARGE'))
  const partial = new FrameReader(100)
  partial.push(Uint8Array.of(5, 1, 2))
  assert.equal(partial.next(), undefined)
  assert.equal(partial.buffered, 2)
})

test('mailbox client frames (version 2): exact bytes', () => {
  const mb = fill(32, 0x11)
  assert.equal(hex(encodeClientFrame({ type: 'deposit', reqId: 7, items: [{ mailboxId: mb, envelope: Uint8Array.of(0xee) }] })), '020100000007' + '0001' + '11'.repeat(32) + '00000001' + 'ee')
  assert.equal(hex(encodeClientFrame({ type: 'deposit', reqId: 8, items: [{ mailboxId: mb, envelope: Uint8Array.of(0xee) }, { mailboxId: fill(32, 0x12), envelope: Uint8Array.of(1, 2) }] })),
    '020100000008' + '0002' + '11'.repeat(32) + '00000001' + 'ee' + '12'.repeat(32) + '00000002' + '0102')
  assert.equal(hex(encodeClientFrame({ type: 'auth-begin', reqId: 1, mailboxId: mb })), '020200000001' + '11'.repeat(32))
  assert.equal(hex(encodeClientFrame({ type: 'auth-prove', reqId: 2, publicKey: fill(32, 0x22), signature: fill(64, 0x33) })), '020300000002' + '22'.repeat(32) + '33'.repeat(64))
  assert.equal(hex(encodeClientFrame({ type: 'fetch', reqId: 3, cursor: 258, limit: 256 })), '020400000003' + '0000000000000102' + '0100')
  assert.equal(hex(encodeClientFrame({ type: 'ack', reqId: 4, ids: [fill(16, 0x44)] })), '020500000004' + '0001' + '44'.repeat(16))
  assert.equal(hex(authMessage(Uint8Array.of(0xab), fill(32, 1), fill(32, 2))),
    Buffer.from('0m1 mailbox auth v1').toString('hex') + '01ab' + '01'.repeat(32) + '02'.repeat(32))
  assert.equal(MAILBOX_PROTOCOL, '/0m1/mailbox/2.0.0')
})

test('mailbox relay frames (version 2): exact bytes', () => {
  assert.equal(hex(encodeRelayFrame({ type: 'ok', reqId: 5, count: 3 })), '028100000005' + '00000003')
  assert.equal(hex(encodeRelayFrame({ type: 'challenge', reqId: 1, challenge: fill(32, 0x55) })), '028200000001' + '55'.repeat(32))
  assert.equal(hex(encodeRelayFrame({ type: 'batch', reqId: 6, cursor: 9, more: true, items: [{ id: fill(16, 0x66), envelope: Uint8Array.of(0x77, 0x78) }] })),
    '028300000006' + '0000000000000009' + '01' + '0001' + '66'.repeat(16) + '00000002' + '7778')
  assert.equal(hex(encodeRelayFrame({ type: 'notice' })), '028400000000')
  assert.equal(hex(encodeRelayFrame({ type: 'error', reqId: 8, reason: 'QUOTA_COUNT', message: 'full' })), '028500000008' + '01' + '0004' + Buffer.from('full').toString('hex'))
  // status 0 = stored, else 1 + the refusal reason's index (TOO_LARGE 0, QUOTA_COUNT 1, QUOTA_BYTES 2, RATE_LIMITED 3, ... INTERNAL 8)
  assert.equal(hex(encodeRelayFrame({ type: 'deposited', reqId: 9, statuses: ['stored', 'QUOTA_BYTES', 'RATE_LIMITED', 'INTERNAL'] })), '028600000009' + '0004' + '00030409')
  // one bit per acked id, most significant bit first, zero padding
  assert.equal(hex(encodeRelayFrame({ type: 'acked', reqId: 10, deleted: [true, false, true, true, false, false, false, false, true] })), '02870000000a' + '0009' + 'b080')
})

test('mailbox frames: version first, truncation, trailing bytes, bounds, unknown types', () => {
  const dep = encodeClientFrame({ type: 'auth-begin', reqId: 1, mailboxId: fill(32, 1) })
  const v1 = dep.slice(); v1[0] = 1
  assert.throws(() => decodeClientFrame(v1), (e) => WireError.is(e, 'VERSION'))
  assert.throws(() => decodeRelayFrame(Uint8Array.of(1, 0x81, 0, 0, 0, 1, 0, 0, 0, 0)), (e) => WireError.is(e, 'VERSION'))
  assert.throws(() => decodeClientFrame(dep.subarray(0, dep.length - 1)), badBytes)
  assert.throws(() => decodeClientFrame(Uint8Array.of(...dep, 0)), badBytes)
  assert.throws(() => decodeClientFrame(Uint8Array.of(2, 0x7f, 0, 0, 0, 0)), badBytes)
  assert.throws(() => decodeClientFrame(Uint8Array.of(2, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, ...u16(MAX_FETCH_ITEMS + 1))), badBytes)
  assert.throws(() => decodeClientFrame(Uint8Array.of(2, 5, 0, 0, 0, 1, 0, 0)), badBytes)
  assert.throws(() => decodeClientFrame(Uint8Array.of(2, 5, 0, 0, 0, 1, ...u16(MAX_ACK_IDS + 1))), badBytes)
  assert.throws(() => encodeClientFrame({ type: 'ack', reqId: 1, ids: Array.from({ length: MAX_ACK_IDS + 1 }, () => fill(16, 0)) }), RangeError)
  // deposits: a count of 0 or over the bound, an empty envelope, an envelope over the maximum, a length past the end
  const item = [...fill(32, 0)]
  assert.throws(() => decodeClientFrame(Uint8Array.of(2, 1, 0, 0, 0, 1, 0, 0)), badBytes)
  assert.throws(() => decodeClientFrame(Uint8Array.of(2, 1, 0, 0, 0, 1, ...u16(MAX_DEPOSIT_ITEMS + 1))), badBytes)
  assert.throws(() => decodeClientFrame(Uint8Array.of(2, 1, 0, 0, 0, 1, 0, 1, ...item, 0, 0, 0, 0)), badBytes)
  assert.throws(() => decodeClientFrame(Uint8Array.of(2, 1, 0, 0, 0, 1, 0, 1, ...item, ...u32(MAX_ENVELOPE_BYTES + 1))), (e) => WireError.is(e, 'TOO_LARGE'))
  assert.throws(() => decodeClientFrame(Uint8Array.of(2, 1, 0, 0, 0, 1, 0, 1, ...item, 0, 0, 0, 9, 1)), badBytes)
  assert.throws(() => decodeClientFrame(Uint8Array.of(2, 1, 0, 0, 0, 1, 0, 2, ...item, 0, 0, 0, 1, 1)), badBytes)
  assert.throws(() => encodeClientFrame({ type: 'deposit', reqId: 1, items: [] }), RangeError)
  assert.throws(() => encodeClientFrame({ type: 'deposit', reqId: 1, items: Array.from({ length: MAX_DEPOSIT_ITEMS + 1 }, () => ({ mailboxId: fill(32, 0), envelope: fill(1, 0) })) }), RangeError)
  // envelope bytes per frame: 17 envelopes of 64 KiB exceed the 1 MiB bound, on both sides
  const big = Array.from({ length: 17 }, () => ({ mailboxId: fill(32, 0), envelope: fill(MAX_ENVELOPE_BYTES, 1) }))
  assert.throws(() => encodeClientFrame({ type: 'deposit', reqId: 1, items: big }), RangeError)
  const raw = Buffer.concat([Uint8Array.of(2, 1, 0, 0, 0, 1, ...u16(17)), ...big.map((b) => Buffer.concat([b.mailboxId, Uint8Array.from(u32(b.envelope.length)), b.envelope]))])
  assert.throws(() => decodeClientFrame(raw), (e) => WireError.is(e, 'TOO_LARGE'))
  assert.equal(depositFrameFits(16, 16 * MAX_ENVELOPE_BYTES, 1), false)
  assert.equal(depositFrameFits(MAX_DEPOSIT_ITEMS, 0, 1), false)
  assert.equal(depositFrameFits(0, 0, MAX_ENVELOPE_BYTES), true)
  // relay frames
  assert.throws(() => decodeRelayFrame(Uint8Array.of(2, 0x85, 0, 0, 0, 1, 200, 0, 0)), badBytes)
  assert.throws(() => decodeRelayFrame(Uint8Array.of(2, 0x84, 0, 0, 0, 1)), badBytes) // a notice carries request id 0
  assert.throws(() => decodeRelayFrame(Uint8Array.of(2, 0x84, 0, 0, 0, 0, 1)), badBytes)
  assert.throws(() => decodeRelayFrame(Uint8Array.of(2, 0x86, 0, 0, 0, 1, 0, 0)), badBytes)
  assert.throws(() => decodeRelayFrame(Uint8Array.of(2, 0x86, 0, 0, 0, 1, 0, 1, 10)), badBytes) // unknown status
  assert.throws(() => decodeRelayFrame(Uint8Array.of(2, 0x86, 0, 0, 0, 1, 0, 2, 0)), badBytes)
  assert.throws(() => decodeRelayFrame(Uint8Array.of(2, 0x83, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, ...u16(MAX_FETCH_ITEMS + 1))), badBytes)
  assert.throws(() => decodeRelayFrame(Uint8Array.of(2, 0x87, 0, 0, 0, 1, 0, 0)), badBytes) // no bits
  assert.throws(() => decodeRelayFrame(Uint8Array.of(2, 0x87, 0, 0, 0, 1, ...u16(MAX_ACK_IDS + 1), ...fill(129, 0))), badBytes)
  assert.throws(() => decodeRelayFrame(Uint8Array.of(2, 0x87, 0, 0, 0, 1, 0, 9, 0xff)), badBytes) // bitmap cut short
  assert.throws(() => decodeRelayFrame(Uint8Array.of(2, 0x87, 0, 0, 0, 1, 0, 2, 0xe0)), badBytes) // padding bit set
  // a batch item claiming more bytes than the frame holds
  assert.throws(() => decodeRelayFrame(Uint8Array.of(2, 0x83, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, ...fill(16, 0), 0, 0, 0, 9, 1)), badBytes)
})

test('mailbox frames round-trip (property)', () => {
  const bytes = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n })
  fc.assert(fc.property(fc.nat({ max: 0xffffffff }), fc.array(fc.record({ mailboxId: bytes(32), envelope: fc.uint8Array({ minLength: 1, maxLength: 2000 }) }), { minLength: 1, maxLength: 8 }), (reqId, items) => {
    const f = { type: 'deposit' as const, reqId, items: items.map((i) => ({ mailboxId: i.mailboxId, envelope: i.envelope })) }
    assert.deepEqual(decodeClientFrame(encodeClientFrame(f)), f)
  }))
  const status = fc.constantFrom<DepositStatus>('stored', 'TOO_LARGE', 'QUOTA_COUNT', 'QUOTA_BYTES', 'RATE_LIMITED', 'INTERNAL')
  fc.assert(fc.property(fc.nat({ max: 0xffffffff }), fc.array(status, { minLength: 1, maxLength: MAX_DEPOSIT_ITEMS }), (reqId, statuses) => {
    const f = { type: 'deposited' as const, reqId, statuses }
    assert.deepEqual(decodeRelayFrame(encodeRelayFrame(f)), f)
  }))
  fc.assert(fc.property(fc.nat({ max: 0xffffffff }), fc.array(fc.boolean(), { minLength: 1, maxLength: MAX_ACK_IDS }), (reqId, deleted) => {
    const f = { type: 'acked' as const, reqId, deleted }
    assert.deepEqual(decodeRelayFrame(encodeRelayFrame(f)), f)
  }))
  fc.assert(fc.property(fc.nat({ max: 0xffffffff }), fc.nat(), fc.boolean(), fc.array(fc.record({ id: bytes(16), envelope: fc.uint8Array({ minLength: 1, maxLength: 300 }) }), { maxLength: 8 }), (reqId, cursor, more, items) => {
    const f = { type: 'batch' as const, reqId, cursor, more, items: items.map((i) => ({ id: i.id, envelope: i.envelope })) }
    assert.deepEqual(decodeRelayFrame(encodeRelayFrame(f)), f)
  }))
  // arbitrary bytes never throw anything but a WireError
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
    for (const dec of [decodeClientFrame, decodeRelayFrame, decodeDeliverFrame]) {
      try { dec(b) } catch (e) { assert.ok(WireError.is(e), String(e)) }
    }
  }))
})

test('presence records and keys: exact bytes, bounds, validator and selector', () => {
  assert.equal(hex(encodePresenceRecord({ publishedAt: 0x0102, value: Uint8Array.of(0xab) })), '01' + '0000000000000102' + 'ab')
  assert.equal(new TextDecoder().decode(presenceDhtKey(fill(32, 0xcd))), '/0m1p/' + 'cd'.repeat(32))
  const formed = presenceDhtKey(fill(32, 0xcd))
  assert.deepEqual(presenceDhtKey(formed), formed)
  assert.throws(() => presenceDhtKey(fill(8, 1)), RangeError)
  assert.throws(() => decodePresenceRecord(Uint8Array.of(2, 0, 0, 0, 0, 0, 0, 0, 0, 1)), (e) => WireError.is(e, 'VERSION'))
  assert.throws(() => decodePresenceRecord(Uint8Array.of(1, 0, 0)), badBytes)
  assert.throws(() => decodePresenceRecord(new Uint8Array(5000).fill(1)), (e) => WireError.is(e, 'TOO_LARGE'))
  const now = 1_000_000
  validatePresence(formed, encodePresenceRecord({ publishedAt: now, value: Uint8Array.of(1) }), now)
  assert.throws(() => validatePresence(formed, encodePresenceRecord({ publishedAt: now + 3600_000, value: Uint8Array.of(1) }), now), badBytes)
  assert.throws(() => validatePresence(new TextEncoder().encode('/0m1p/xyz'), encodePresenceRecord({ publishedAt: now, value: Uint8Array.of(1) }), now), badBytes)
  const older = encodePresenceRecord({ publishedAt: 10, value: Uint8Array.of(1) })
  const newer = encodePresenceRecord({ publishedAt: 20, value: Uint8Array.of(2) })
  assert.equal(selectPresence([older, newer, Uint8Array.of(9)]), 1)
  assert.equal(selectPresence([newer, older]), 0)
})

test('net translates wire errors at the stream: version, size and malformed bytes become NetErrors with the cause kept', () => {
  assert.throws(() => atStream(() => decodeDeliverFrame(Uint8Array.of(1, 1, 9))), (e) => NetError.is(e, 'UNSUPPORTED_VERSION') && WireError.is(e.cause, 'VERSION'))
  assert.throws(() => atStream(() => decodeClientFrame(Uint8Array.of(2, 0x7f, 0, 0, 0, 0))), (e) => NetError.is(e, 'BAD_FRAME'))
  const big = new Uint8Array(MAX_DELIVER_FRAME_BYTES + 1); big[0] = 2; big[1] = 1
  assert.throws(() => atStream(() => decodeDeliverFrame(big)), (e) => NetError.is(e, 'TOO_LARGE'))
  const other = new Error('not from the wire')
  assert.equal(netFromWire(other), other)
})

test('STUN port frame: exact bytes, version first, exact length, no port 0', () => {
  assert.equal(hex(encodeStunPort(3478)), '010d96')
  assert.equal(hex(encodeStunPort(65535)), '01ffff')
  assert.equal(decodeStunPort(Uint8Array.of(0x01, 0x0d, 0x96)), 3478)
  assert.throws(() => encodeStunPort(0), RangeError)
  assert.throws(() => encodeStunPort(65536), RangeError)
  assert.throws(() => decodeStunPort(new Uint8Array(0)), (e) => WireError.is(e, 'TRUNCATED'))
  assert.throws(() => decodeStunPort(Uint8Array.of(0x02, 0x0d, 0x96)), (e) => WireError.is(e, 'VERSION'))
  assert.throws(() => decodeStunPort(Uint8Array.of(0x01, 0x0d)), (e) => WireError.is(e, 'TRUNCATED'))
  assert.throws(() => decodeStunPort(Uint8Array.of(0x01, 0x0d, 0x96, 0x00)), (e) => WireError.is(e, 'TRAILING'))
  assert.throws(() => decodeStunPort(Uint8Array.of(0x01, 0x00, 0x00)), (e) => WireError.is(e, 'INVALID'))
})
