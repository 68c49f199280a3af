// Per-file secretstream (issue 12): round trip, padding, and each kind of damage detected at its chunk.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { E2eeError } from '../../src/e2ee/errors.ts'
import { FileOpener, FileSealer, newFileKey } from '../../src/e2ee/file-crypto.ts'
import { chunkCount, FILE_CHUNK_BYTES, FILE_CIPHER_CHUNK_BYTES } from '../../src/wire/file.ts'

function seal (plain: Buffer): { key: Buffer, header: Buffer, chunks: Buffer[] } {
  const key = newFileKey()
  const s = new FileSealer(key)
  const n = chunkCount(plain.length)
  const chunks: Buffer[] = []
  for (let i = 0; i < n; i++) chunks.push(s.seal(plain.subarray(i * FILE_CHUNK_BYTES, (i + 1) * FILE_CHUNK_BYTES), i === n - 1))
  return { key, header: s.header, chunks }
}

test('chunks round-trip, and every encrypted chunk has one size whatever the plaintext', () => {
  for (const size of [0, 1, FILE_CHUNK_BYTES, FILE_CHUNK_BYTES + 1, 3 * FILE_CHUNK_BYTES - 7]) {
    const plain = randomBytes(size)
    const { key, header, chunks } = seal(plain)
    assert.equal(chunks.length, chunkCount(size))
    for (const c of chunks) assert.equal(c.length, FILE_CIPHER_CHUNK_BYTES)
    const o = new FileOpener(key, header, chunks.length)
    const out = Buffer.concat(chunks.map((c) => o.open(c))).subarray(0, size)
    assert.ok(out.equals(plain))
  }
})

test('an altered, reordered, replayed or missing-final chunk is refused at that chunk, and the opener can go on with the right one', () => {
  const { key, header, chunks } = seal(randomBytes(3 * FILE_CHUNK_BYTES))
  const [c0, c1, c2] = chunks as [Buffer, Buffer, Buffer]
  const o = new FileOpener(key, header, 3)
  o.open(c0)
  const bad = Buffer.from(c1); bad[100] = (bad[100] ?? 0) ^ 1
  assert.throws(() => o.open(bad), (e: unknown) => E2eeError.is(e, 'BAD_CHUNK'))
  assert.throws(() => o.open(c2), (e: unknown) => E2eeError.is(e, 'BAD_CHUNK'), 'reordered')
  assert.throws(() => o.open(c0), (e: unknown) => E2eeError.is(e, 'BAD_CHUNK'), 'replayed')
  o.open(c1) // the state was kept: the genuine chunk still opens (a refetch from another relay)
  o.open(c2)
  // A stream cut before its final chunk: the opener expecting more refuses a final tag early.
  const early = new FileOpener(key, header, 4)
  early.open(c0); early.open(c1)
  assert.throws(() => early.open(c2), (e: unknown) => E2eeError.is(e, 'BAD_CHUNK'))
  // The wrong key opens nothing.
  assert.throws(() => new FileOpener(newFileKey(), header, 3).open(c0), (e: unknown) => E2eeError.is(e, 'BAD_CHUNK'))
})

test('sealInto writes each chunk in place in a larger buffer, and the chunks open in order to the plaintext', () => {
  const plain = randomBytes(2 * FILE_CHUNK_BYTES + 100)
  const key = newFileKey()
  const s = new FileSealer(key)
  const out = Buffer.alloc(3 * FILE_CIPHER_CHUNK_BYTES)
  for (let i = 0; i < 3; i++) s.sealInto(plain.subarray(i * FILE_CHUNK_BYTES, (i + 1) * FILE_CHUNK_BYTES), i === 2, out.subarray(i * FILE_CIPHER_CHUNK_BYTES, (i + 1) * FILE_CIPHER_CHUNK_BYTES))
  const o = new FileOpener(key, s.header, 3)
  const back = Buffer.concat([0, 1, 2].map((i) => o.open(out.subarray(i * FILE_CIPHER_CHUNK_BYTES, (i + 1) * FILE_CIPHER_CHUNK_BYTES))))
  assert.deepEqual(back.subarray(0, plain.length), plain)
  assert.ok(back.subarray(plain.length).every((b) => b === 0), 'the last chunk is padded with zeros')
  assert.throws(() => { s.sealInto(plain.subarray(0, 10), true, Buffer.alloc(FILE_CIPHER_CHUNK_BYTES - 1)) }, RangeError)
})

test('a sealer resumed from the key and header seals byte-identical chunks (a sender restarting mid-file)', () => {
  const n = 5
  const plain = randomBytes(n * FILE_CHUNK_BYTES - 100)
  const { key, header, chunks } = seal(plain)
  const again = FileSealer.resume(key, header)
  assert.ok(again.header.equals(header))
  for (let i = 0; i < n; i++) {
    const c = again.seal(plain.subarray(i * FILE_CHUNK_BYTES, (i + 1) * FILE_CHUNK_BYTES), i === n - 1)
    assert.ok(c.equals(chunks[i] as Buffer), `chunk ${i} differs`)
  }
  // And they open as the original did.
  const o = new FileOpener(key, header, n)
  for (const c of chunks) o.open(c)
  // A different key does not reproduce them.
  const other = FileSealer.resume(newFileKey(), header)
  assert.ok(!other.seal(plain.subarray(0, FILE_CHUNK_BYTES), false).equals(chunks[0] as Buffer))
  assert.throws(() => FileSealer.resume(key, header.subarray(1)), RangeError)
})
