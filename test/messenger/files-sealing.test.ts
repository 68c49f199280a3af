// The sealing job of an outgoing file (src/messenger/files/sealing.ts) on real files: what it releases to readers
// and when, what it reads of a source that changed, and how a resumed job seals again (issue 12 review).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { appendFileSync, chmodSync, readFileSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { FileOpener, FileSealer, newFileKey } from '../../src/e2ee/file-crypto.ts'
import { MessengerError } from '../../src/messenger/errors.ts'
import { hashFile, SealJob, SEAL_BLOCK_CHUNKS, type SealSpec } from '../../src/messenger/files/sealing.ts'
import { FILE_CHUNK_BYTES, FILE_CIPHER_CHUNK_BYTES } from '../../src/wire/file.ts'
import { tempDir } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'

/** A source of `size` random bytes, hashed, with a new key and header: what send() has before it announces. */
async function source (t: { after: (fn: () => unknown) => void }, size: number): Promise<{ spec: SealSpec, sealer: FileSealer, bytes: Buffer }> {
  const dir = tempDir(t, '0m1-seal-')
  const bytes = randomBytes(size)
  const path = join(dir, 'src.bin')
  writeFileSync(path, bytes)
  const { sha256, stamp } = await hashFile(path, size)
  const key = newFileKey()
  const sealer = new FileSealer(key)
  return { spec: { source: path, target: join(dir, 'out.chunks'), key, header: sealer.header, size, sha256, stamp }, sealer, bytes }
}

/** Other bytes of the same size written in place, with a modification time that differs for sure (coarse clocks). */
function rewrite (path: string): void {
  const size = statSync(path).size
  writeFileSync(path, randomBytes(size))
  const later = Date.now() / 1000 + 5
  utimesSync(path, later, later)
}

async function rejectsChanged (p: Promise<unknown>): Promise<void> {
  await assert.rejects(p, (err: unknown) => MessengerError.is(err, 'FILE_UNREADABLE') && /changed/.test((err as Error).message))
}

/** Opens every whole chunk of a chunk file in order; the plaintexts (padded). */
function openAll (spec: SealSpec, chunks: number): Buffer[] {
  const sealed = readFileSync(spec.target)
  const opener = new FileOpener(spec.key, spec.header, chunks)
  const out: Buffer[] = []
  for (let i = 0; (i + 1) * FILE_CIPHER_CHUNK_BYTES <= sealed.length && i < chunks; i++) {
    out.push(Buffer.from(opener.open(sealed.subarray(i * FILE_CIPHER_CHUNK_BYTES, (i + 1) * FILE_CIPHER_CHUNK_BYTES))))
  }
  return out
}

test('a new file\'s last chunk is released only after the source\'s final stamp check: a source changed meanwhile releases it never', async (t) => {
  const chunks = 2 * SEAL_BLOCK_CHUNKS
  const { spec, sealer } = await source(t, chunks * FILE_CHUNK_BYTES - 10)
  // Held before the last block: the blocks read by then are the announced bytes, the final check is not.
  const job = await SealJob.start({ ...spec, holdAt: SEAL_BLOCK_CHUNKS }, sealer)
  await job.waitFor(SEAL_BLOCK_CHUNKS)
  rewrite(spec.source)
  job.release()
  await rejectsChanged(job.done)
  assert.ok(job.sealed < chunks, `the last chunk was released (${job.sealed} of ${chunks})`)
  await rejectsChanged(job.waitFor(chunks))
  // A reader of a failed job stops, even for chunks released before.
  await rejectsChanged(job.waitFor(1))
})

test('an unchanged new file releases every chunk, the last once the job checked it, and opens whole', async (t) => {
  const chunks = 2 * SEAL_BLOCK_CHUNKS + 3
  const { spec, sealer, bytes } = await source(t, chunks * FILE_CHUNK_BYTES - 1000)
  const job = await SealJob.start(spec, sealer)
  await job.waitFor(chunks)
  await job.done
  assert.equal(job.sealed, chunks)
  assert.ok(Buffer.concat(openAll(spec, chunks)).subarray(0, bytes.length).equals(bytes))
})

test('a source that grew is read only up to its announced size: no byte past it reaches the last chunk\'s padding', async (t) => {
  const chunks = SEAL_BLOCK_CHUNKS + 5
  const tail = 100
  const { spec, sealer, bytes } = await source(t, (chunks - 1) * FILE_CHUNK_BYTES + tail)
  // Held before the first block: the second (the last) is read after the file grew.
  const job = await SealJob.start({ ...spec, holdAt: 0 }, sealer)
  await waitFor(() => job.heldForTest, 'the job waits before its first block')
  appendFileSync(spec.source, Buffer.alloc(FILE_CHUNK_BYTES, 0xaa))
  job.release()
  await rejectsChanged(job.done)
  // Whatever reached the chunk file holds the announced bytes and zeros, nothing of what was appended.
  const plains = openAll(spec, chunks)
  for (const [i, p] of plains.entries()) {
    const want = bytes.subarray(i * FILE_CHUNK_BYTES, (i + 1) * FILE_CHUNK_BYTES)
    assert.ok(p.subarray(0, want.length).equals(want), `chunk ${i} holds the announced bytes`)
    assert.ok(p.subarray(want.length).every((b) => b === 0), `chunk ${i}'s padding is zeros`)
  }
  assert.ok(job.sealed < chunks, 'the last chunk of a changed source was released')
})

test('a source cut short mid-seal fails the job at that block: nothing of it is sealed from missing bytes', async (t) => {
  const chunks = 3 * SEAL_BLOCK_CHUNKS
  const { spec, sealer } = await source(t, chunks * FILE_CHUNK_BYTES)
  const job = await SealJob.start({ ...spec, holdAt: SEAL_BLOCK_CHUNKS }, sealer)
  await job.waitFor(SEAL_BLOCK_CHUNKS)
  // Block 1 is read ahead already; block 2 is read after the cut.
  writeFileSync(spec.source, randomBytes(SEAL_BLOCK_CHUNKS * FILE_CHUNK_BYTES))
  job.release()
  await rejectsChanged(job.done)
  assert.ok(statSync(spec.target).size <= 2 * SEAL_BLOCK_CHUNKS * FILE_CIPHER_CHUNK_BYTES, 'no block past the cut was written')
  assert.ok(job.sealed <= 2 * SEAL_BLOCK_CHUNKS)
})

test('a resumed job hashes and seals in one pass, writes over the old chunk file in place, and releases nothing until the hash matches', async (t) => {
  const chunks = 3 * SEAL_BLOCK_CHUNKS
  const { spec, sealer, bytes } = await source(t, chunks * FILE_CHUNK_BYTES - 7)
  // The first run: one block sealed, then cut short (a crash).
  const first = await SealJob.start({ ...spec, holdAt: SEAL_BLOCK_CHUNKS }, sealer)
  await first.waitFor(SEAL_BLOCK_CHUNKS)
  first.cancel()
  await assert.rejects(first.done, (err: unknown) => MessengerError.is(err, 'STOPPED'))
  const old = readFileSync(spec.target)
  assert.equal(old.length, SEAL_BLOCK_CHUNKS * FILE_CIPHER_CHUNK_BYTES)

  // Resumed, held before its first block: the old chunks are still there (not truncated), and the source is
  // changed after the job took its stamp.
  SealJob.holdNextForTest(0)
  const again = SealJob.resume({ ...spec, stamp: undefined })
  await waitFor(() => again.heldForTest, 'the resumed job waits before its first block')
  assert.ok(readFileSync(spec.target).subarray(0, old.length).equals(old), 'the old chunk file was not truncated')
  rewrite(spec.source)
  again.release()
  await rejectsChanged(again.done)
  assert.equal(again.sealed, 0, 'a resumed job released chunks before its hash matched')
  await rejectsChanged(again.waitFor(1))

  // The source back as announced: a resumed job seals it whole, byte-identical to the first run's chunks.
  writeFileSync(spec.source, bytes)
  const third = SealJob.resume({ ...spec, stamp: undefined })
  let early = -1
  void third.waitFor(1).then(() => { early = third.sealed }, () => {})
  await third.done
  assert.equal(third.sealed, chunks)
  assert.equal(early, chunks, 'the first chunk was released with the last, once the hash matched')
  const sealed = readFileSync(spec.target)
  assert.ok(sealed.subarray(0, old.length).equals(old), 'byte-identical to the first run')
  assert.ok(Buffer.concat(openAll(spec, chunks)).subarray(0, bytes.length).equals(bytes))
})

test('a resumed job whose source no longer has the announced size fails at once and writes nothing', async (t) => {
  const { spec } = await source(t, 2 * FILE_CHUNK_BYTES)
  writeFileSync(spec.target, Buffer.alloc(0))
  appendFileSync(spec.source, Buffer.alloc(1))
  const job = SealJob.resume({ ...spec, stamp: undefined })
  await rejectsChanged(job.done)
  await rejectsChanged(job.ready)
  assert.equal(statSync(spec.target).size, 0)
})

test('a metadata-only change of the source (chmod: its change time moves) does not fail the seal', async (t) => {
  const chunks = 2 * SEAL_BLOCK_CHUNKS
  const { spec, sealer, bytes } = await source(t, chunks * FILE_CHUNK_BYTES)
  const job = await SealJob.start({ ...spec, holdAt: SEAL_BLOCK_CHUNKS }, sealer)
  await waitFor(() => job.heldForTest, 'the job waits before its second block')
  chmodSync(spec.source, 0o400)
  job.release()
  await job.done
  assert.equal(job.sealed, chunks)
  assert.ok(Buffer.concat(openAll(spec, chunks)).equals(bytes))
})

test('a resumed job cancelled mid-pass (a stop during the hash) stops with STOPPED and releases nothing', async (t) => {
  const { spec } = await source(t, 3 * SEAL_BLOCK_CHUNKS * FILE_CHUNK_BYTES)
  SealJob.holdNextForTest(SEAL_BLOCK_CHUNKS)
  const job = SealJob.resume({ ...spec, stamp: undefined })
  await waitFor(() => job.heldForTest, 'the resumed job is mid-pass')
  job.cancel()
  await assert.rejects(job.done, (err: unknown) => MessengerError.is(err, 'STOPPED'))
  assert.equal(job.sealed, 0)
})

test('the last chunk is released only once the chunk file is synced and the source forgotten: a failed final sync releases it never', async (t) => {
  const chunks = 2 * SEAL_BLOCK_CHUNKS + 3
  const { spec, sealer } = await source(t, chunks * FILE_CHUNK_BYTES - 10)
  SealJob.failNextSyncForTest()
  const failing = await SealJob.start(spec, sealer)
  await assert.rejects(failing.done)
  assert.equal(failing.sealed, chunks - 1, 'the last chunk was released before the chunk file was durable')

  const next = await source(t, chunks * FILE_CHUNK_BYTES - 10)
  const seen: number[] = []
  const of: { job?: SealJob } = {}
  const job = of.job = await SealJob.start({ ...next.spec, whole: () => { seen.push(of.job?.sealed ?? -1) } }, next.sealer)
  await job.done
  assert.deepEqual(seen, [chunks - 1], 'the source is forgotten once, before the last chunk is released')
  assert.equal(job.sealed, chunks)
})

test('hashFile reads at most one byte past the announced size: a source that grew (even to 256 GiB) fails at once', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t, '0m1-seal-')
  const path = join(dir, 'grown.bin')
  writeFileSync(path, randomBytes(10))
  // Sparse: reading it to its end would take minutes; the hash stops at byte 11.
  truncateSync(path, 256 * 1024 * 1024 * 1024)
  await rejectsChanged(hashFile(path, 10))
  // A file of exactly the size still hashes (the extra byte read finds the end).
  writeFileSync(path, randomBytes(4 * 1024 * 1024))
  assert.equal((await hashFile(path, 4 * 1024 * 1024)).sha256.length, 32)
})
