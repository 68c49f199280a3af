// The QR form of invites: exact round trip, canonical base32 only, and it fits a QR code.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import QRCode from 'qrcode'
import { base32Decode, base32Encode, inviteQrText, normalizeInviteText } from '../../src/api/invite-text.ts'

test('base32: RFC 4648 vectors and round trip', () => {
  // RFC 4648 section 10, without padding.
  const vectors: Array<[string, string]> = [['', ''], ['f', 'MY'], ['fo', 'MZXQ'], ['foo', 'MZXW6'], ['foob', 'MZXW6YQ'], ['fooba', 'MZXW6YTB'], ['foobar', 'MZXW6YTBOI']]
  for (const [plain, enc] of vectors) {
    assert.equal(base32Encode(Buffer.from(plain)), enc)
    assert.deepEqual(Buffer.from(base32Decode(enc) ?? []), Buffer.from(plain))
  }
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
    assert.deepEqual(base32Decode(base32Encode(bytes)), bytes)
  }))
  assert.equal(base32Decode('MZXW6Z'), undefined, 'non-zero padding bits are refused')
  assert.equal(base32Decode('mzxw6'), undefined)
  assert.equal(base32Decode('MZ1W6'), undefined)
})

test('normalizeInviteText turns the QR form into the link and leaves everything else alone', () => {
  const bytes = randomBytes(2400)
  const link = '0m1:' + bytes.toString('base64url')
  assert.equal(normalizeInviteText('0M1:' + base32Encode(bytes)), link)
  assert.equal(normalizeInviteText(`  ${link}\n`), link)
  assert.equal(normalizeInviteText('0M1:not base32!'), '0M1:not base32!')
  assert.equal(normalizeInviteText('hello'), 'hello')
})

test('a 2.4 KB invite (real size: ~3.2 KB as a link) fits a QR code in its QR form but not as a link', async () => {
  const bytes = randomBytes(2400)
  const qr = QRCode.create([{ data: '0M1:' + base32Encode(bytes), mode: 'alphanumeric' }], { errorCorrectionLevel: 'L' })
  assert.ok(qr.version <= 40)
  assert.throws(() => QRCode.create('0m1:' + bytes.toString('base64url'), { errorCorrectionLevel: 'L' }), /too big/)
})

test('the QR form made for the UI turns back into the same link', () => {
  const link = '0m1:' + Buffer.from(Array.from({ length: 300 }, (_, i) => i % 256)).toString('base64url')
  const qr = inviteQrText(link)
  assert.match(qr, /^0M1:[A-Z2-7]+$/)
  assert.equal(normalizeInviteText(qr), link)
})
