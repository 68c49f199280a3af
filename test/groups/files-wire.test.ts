// Issue 12 in groups: the group text's optional file descriptor. Round trip, the largest descriptor fits a
// sender-key message, and bad attachments are refused with a WireError.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { WireError } from '../../src/wire/errors.ts'
import { chunkCount, MAX_FILE_NAME_BYTES, MAX_FILE_TYPE_BYTES, type FileDescriptor } from '../../src/wire/file.ts'
import { decodeGroupText, encodeGroupText, MAX_FILE_DESCRIPTOR_BYTES, MAX_SENDER_KEY_MESSAGE_BYTES, type GroupText } from '../../src/wire/group.ts'
import { MAX_ADDRESS_BYTES, MAX_RELAYS, MAX_TEXT_BYTES } from '../../src/wire/payload.ts'

const rb = (n: number): Uint8Array => new Uint8Array(randomBytes(n))
const largest: FileDescriptor = {
  name: 'n'.repeat(MAX_FILE_NAME_BYTES), type: 't'.repeat(MAX_FILE_TYPE_BYTES), size: 1024 * 1024 * 1024, sha256: rb(32), key: rb(32), header: rb(24),
  chunks: chunkCount(1024 * 1024 * 1024), blobId: rb(16), capability: rb(32), relays: Array.from({ length: MAX_RELAYS }, () => 'r'.repeat(MAX_ADDRESS_BYTES))
}
const base: GroupText = { groupId: rb(16), id: rb(16), seq: 5, sentAt: 1_700_000_000_000, text: '' }

test('a group text carries the largest file descriptor and the longest text within the sender-key message bound', () => {
  const bytes = encodeGroupText({ ...base, text: 'x'.repeat(MAX_TEXT_BYTES), file: largest })
  assert.equal(bytes.length, 1 + 16 + 16 + 4 + 8 + 2 + MAX_TEXT_BYTES + 1 + MAX_FILE_DESCRIPTOR_BYTES, 'MAX_FILE_DESCRIPTOR_BYTES is exact')
  assert.ok(bytes.length + 100 < MAX_SENDER_KEY_MESSAGE_BYTES)
  const back = decodeGroupText(bytes)
  assert.deepEqual(back.file, largest)
  assert.equal(decodeGroupText(encodeGroupText(base)).file, undefined)
})

test('a group text with an unknown attachment kind, a cut descriptor or trailing bytes is refused', () => {
  const good = encodeGroupText({ ...base, file: { ...largest, relays: [] } })
  const plainLen = encodeGroupText(base).length
  const unknown = good.slice(); unknown[plainLen] = 0x02
  assert.throws(() => decodeGroupText(unknown), (e: unknown) => WireError.is(e, 'UNKNOWN_KIND'))
  assert.throws(() => decodeGroupText(good.subarray(0, good.length - 3)), (e: unknown) => WireError.is(e, 'TRUNCATED'))
  assert.throws(() => decodeGroupText(new Uint8Array([...good, 0])), (e: unknown) => WireError.is(e, 'TRAILING'))
  // A marker with no descriptor after it.
  assert.throws(() => decodeGroupText(new Uint8Array([...encodeGroupText(base), 0x01])), (e: unknown) => WireError.is(e, 'TRUNCATED'))
})
