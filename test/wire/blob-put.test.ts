// A put frame written as its head and its chunk (src/net/blob-client.ts) must be byte for byte the frame the vectors
// pin (encodeBlobClientFrame), or a relay or contact would read another chunk or refuse it.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import test from 'node:test'
import { decodeBlobClientFrame, decodeBlobServerFrame, encodeBlobClientFrame, encodeBlobPutParts, encodeBlobServerFrame, MAX_BLOB_CHUNKS } from '../../src/wire/blob.ts'
import { WireError } from '../../src/wire/errors.ts'
import { FILE_CIPHER_CHUNK_BYTES } from '../../src/wire/file.ts'

const put = { type: 'put', reqId: 0x01020304, blobId: randomBytes(16), capability: randomBytes(32), chunks: 800, index: 799, data: randomBytes(FILE_CIPHER_CHUNK_BYTES) } as const

test('a put in two parts is exactly the encoded put frame, and its chunk is the caller\'s buffer, not a copy', () => {
  const [head, data] = encodeBlobPutParts(put)
  assert.deepEqual(Buffer.concat([head, data]), Buffer.from(encodeBlobClientFrame(put)))
  assert.equal(data, put.data)
  const back = decodeBlobClientFrame(Buffer.concat([head, data]))
  assert.ok(back.type === 'put' && back.index === 799 && back.chunks === 800 && Buffer.from(back.data).equals(put.data))
})

test('a put in two parts bounds what it encodes like the frame does', () => {
  assert.throws(() => encodeBlobPutParts({ ...put, index: 800 }), RangeError)
  assert.throws(() => encodeBlobPutParts({ ...put, data: randomBytes(FILE_CIPHER_CHUNK_BYTES + 1) }), RangeError)
})

test('file 1.2.0\'s answers bound what they carry: a durable count past a blob\'s chunks, or a byte too many, is refused', () => {
  const durable = encodeBlobServerFrame({ type: 'durable', reqId: 0, count: MAX_BLOB_CHUNKS })
  assert.deepEqual(decodeBlobServerFrame(durable), { type: 'durable', reqId: 0, count: MAX_BLOB_CHUNKS })
  const over = Uint8Array.from(durable)
  new DataView(over.buffer).setUint32(6, MAX_BLOB_CHUNKS + 1)
  assert.throws(() => decodeBlobServerFrame(over), (e: unknown) => WireError.is(e, 'INVALID'))
  assert.throws(() => encodeBlobServerFrame({ type: 'durable', reqId: 0, count: MAX_BLOB_CHUNKS + 1 }), RangeError)
  const received = encodeBlobServerFrame({ type: 'received', reqId: 3, index: 1 })
  assert.deepEqual(decodeBlobServerFrame(received), { type: 'received', reqId: 3, index: 1 })
  assert.throws(() => decodeBlobServerFrame(Uint8Array.from([...received, 0])), (e: unknown) => WireError.is(e, 'TRAILING'))
  assert.throws(() => decodeBlobServerFrame(received.subarray(0, received.length - 1)), (e: unknown) => WireError.is(e, 'TRUNCATED'))
})
