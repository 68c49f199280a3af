// A put frame written as its head and its chunk (src/net/blob-client.ts) must be byte for byte the frame the vectors
// pin (encodeBlobClientFrame), or a relay or contact would read another chunk or refuse it.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import test from 'node:test'
import { decodeBlobClientFrame, encodeBlobClientFrame, encodeBlobPutParts } from '../../src/wire/blob.ts'
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
