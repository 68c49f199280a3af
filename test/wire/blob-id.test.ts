// The blob id's derivation from the capability (issue 12 review): relays create a blob only under this id, so the
// formula is wire: pinned here, and recomputed from its definition in docs/protocol-network.md.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { BLOB_ID_BYTES, blobIdOf, blobIdOfToken } from '../../src/wire/file.ts'

test('blobIdOf is the first 16 bytes of SHA-256("0m1/blob-id/1" || SHA-256(capability)), pinned', () => {
  assert.equal(Buffer.from(blobIdOf(new Uint8Array(32).fill(7))).toString('hex'), '6a2b405af675efe42109033a75bfdbdb')
  const cap = randomBytes(32)
  const token = createHash('sha256').update(cap).digest()
  const want = createHash('sha256').update('0m1/blob-id/1').update(token).digest().subarray(0, BLOB_ID_BYTES)
  assert.deepEqual(Buffer.from(blobIdOf(cap)), want)
  assert.deepEqual(Buffer.from(blobIdOfToken(token)), want)
  assert.notDeepEqual(Buffer.from(blobIdOf(randomBytes(32))), want)
})
