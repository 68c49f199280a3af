// The blob client's request deadlines (src/net/blob-client.ts) run on the monotonic clock: a wall-clock step (NTP,
// a resumed laptop) must not time out every request in flight at once. Unit test over an in-memory stream pair
// (the real protocol is tested in test/relay/blob.test.ts); the store side answers only when told.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { lpStream, streamPair } from '@libp2p/utils'
import { BlobChannel } from '../../src/net/blob-client.ts'
import { NetError } from '../../src/net/errors.ts'
import { FILE_CIPHER_CHUNK_BYTES } from '../../src/wire/file.ts'
import { decodeBlobClientFrame, encodeBlobServerFrame, MAX_BLOB_FRAME_BYTES } from '../../src/wire/blob.ts'
import { waitFor } from '../helpers/wait.ts'

test('a wall-clock jump of an hour does not time out a blob request in flight', { timeout: 30_000 }, async (t) => {
  const [client, store] = await streamPair()
  const ch = new BlobChannel(client)
  const lp = lpStream(store, { maxDataLength: MAX_BLOB_FRAME_BYTES })
  const ref = { blobId: randomBytes(16), capability: randomBytes(32) }
  const asked = ch.status(ref)
  const f = decodeBlobClientFrame((await lp.read()).subarray())
  const realNow = Date.now.bind(Date)
  t.mock.method(Date, 'now', () => realNow() + 3_600_000)
  // Past two deadline checks (one a second): a wall-clock deadline would have failed the request by now.
  const checksAt = performance.now() + 2_500
  await waitFor(() => performance.now() >= checksAt ? true : undefined, 'two deadline checks pass', 10_000)
  assert.equal(ch.inFlight, 1, 'the request still waits for its answer')
  await lp.write(encodeBlobServerFrame({ type: 'have', reqId: f.reqId, count: 2, chunks: 3 }))
  assert.equal(await asked, 2)
  await client.close()
})

// /0m1/file/1.2.0 (docs/protocol-network.md "Blobs and direct files"): a 'received' answer frees the window but never
// confirms; only the receiver's 'durable' frames move the caller's confirmed count, and putFrom ends once all are.
test('on a 1.2.0 stream putFrom confirms only what \'durable\' frames say, never a \'received\' answer, and ends once all are durable', { timeout: 30_000 }, async () => {
  const [client, store] = await streamPair()
  const ch = new BlobChannel(client, 4, undefined, true)
  const lp = lpStream(store, { maxDataLength: MAX_BLOB_FRAME_BYTES })
  const ref = { blobId: randomBytes(16), capability: randomBytes(32) }
  const chunk = new Uint8Array(FILE_CIPHER_CHUNK_BYTES)
  const confirmed: number[] = []
  let ended = false
  const putting = ch.putFrom(ref, 6, 0, async () => chunk, (n) => { confirmed.push(n) }).then(() => { ended = true })
  // Every put answered 'received': the window never blocks, and nothing is confirmed.
  for (let i = 0; i < 6; i++) {
    const f = decodeBlobClientFrame((await lp.read()).subarray())
    assert.ok(f.type === 'put' && f.index === i)
    await lp.write(encodeBlobServerFrame({ type: 'received', reqId: f.reqId, index: i }))
  }
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.deepEqual(confirmed, [], 'a received answer confirmed a chunk')
  assert.equal(ended, false, 'putFrom ended before the chunks were durable')
  await lp.write(encodeBlobServerFrame({ type: 'durable', reqId: 0, count: 4 }))
  await waitFor(() => confirmed.length === 1 ? true : undefined, 'the first durable count is confirmed')
  assert.equal(ended, false)
  // A count past the file is a broken peer's: it confirms the file's chunks, no more.
  await lp.write(encodeBlobServerFrame({ type: 'durable', reqId: 0, count: 9 }))
  await putting
  assert.deepEqual(confirmed, [4, 6])
  await client.close()
})

test('a \'durable\' frame on a stream that has none (a relay, file 1.1.0) ends it as a broken peer\'s; so does a put answered \'received\' there', { timeout: 30_000 }, async () => {
  for (const wrong of ['durable', 'received'] as const) {
    const [client, store] = await streamPair()
    const ch = new BlobChannel(client, 4)
    const lp = lpStream(store, { maxDataLength: MAX_BLOB_FRAME_BYTES })
    const ref = { blobId: randomBytes(16), capability: randomBytes(32) }
    const confirmed: number[] = []
    const putting = ch.putFrom(ref, 1, 0, async () => new Uint8Array(FILE_CIPHER_CHUNK_BYTES), (n) => { confirmed.push(n) })
    const f = decodeBlobClientFrame((await lp.read()).subarray())
    await lp.write(encodeBlobServerFrame(wrong === 'durable' ? { type: 'durable', reqId: 0, count: 1 } : { type: 'received', reqId: f.reqId, index: 0 }))
    await assert.rejects(putting, (err: unknown) => NetError.is(err, 'BAD_FRAME'), wrong)
    assert.deepEqual(confirmed, [], wrong)
    await client.close().catch(() => {})
  }
})

// A 1.2.0 receiver holds its answers back while a sync runs (backpressure, up to MAX_FILE_UNSYNCED_BYTES): its
// 'durable' progress shows it slow, not gone, so the puts waiting get a new deadline instead of failing the stream
// over to relays.
test('on a 1.2.0 stream durable progress gives the puts waiting for an answer a new deadline', { timeout: 30_000 }, async (t) => {
  const [client, store] = await streamPair()
  const ch = new BlobChannel(client, 4, undefined, true)
  const lp = lpStream(store, { maxDataLength: MAX_BLOB_FRAME_BYTES })
  const ref = { blobId: randomBytes(16), capability: randomBytes(32) }
  const realNow = performance.now.bind(performance)
  let skew = 0
  t.mock.method(performance, 'now', () => realNow() + skew)
  const confirmed: number[] = []
  let failure: unknown
  const putting = ch.putFrom(ref, 4, 0, async () => new Uint8Array(FILE_CIPHER_CHUNK_BYTES), (n) => { confirmed.push(n) })
  putting.catch((err: unknown) => { failure = err })
  const puts = []
  for (let i = 0; i < 4; i++) puts.push(decodeBlobClientFrame((await lp.read()).subarray()))
  // 15 s on, the receiver's disk made progress (earlier puts' syncs); 15 s more is past the puts' first deadline.
  skew = 15_000
  await lp.write(encodeBlobServerFrame({ type: 'durable', reqId: 0, count: 1 }))
  await waitFor(() => confirmed.length === 1 ? true : undefined, 'the durable count arrives')
  skew = 30_000
  const checksAt = realNow() + 2_500
  await waitFor(() => realNow() >= checksAt ? true : undefined, 'two deadline checks pass', 10_000)
  assert.equal(failure, undefined, 'a put timed out while the receiver made durable progress')
  for (const f of puts) if (f.type === 'put') await lp.write(encodeBlobServerFrame({ type: 'received', reqId: f.reqId, index: f.index }))
  await lp.write(encodeBlobServerFrame({ type: 'durable', reqId: 0, count: 4 }))
  await putting
  assert.deepEqual(confirmed, [1, 4])
  await client.close()
})

test('a \'durable\' frame with a request id (it has none: reqId 0) ends the stream as a broken peer\'s', { timeout: 30_000 }, async () => {
  const [client, store] = await streamPair()
  const ch = new BlobChannel(client, 4, undefined, true)
  const lp = lpStream(store, { maxDataLength: MAX_BLOB_FRAME_BYTES })
  const ref = { blobId: randomBytes(16), capability: randomBytes(32) }
  const confirmed: number[] = []
  const putting = ch.putFrom(ref, 1, 0, async () => new Uint8Array(FILE_CIPHER_CHUNK_BYTES), (n) => { confirmed.push(n) })
  const f = decodeBlobClientFrame((await lp.read()).subarray())
  await lp.write(encodeBlobServerFrame({ type: 'durable', reqId: f.reqId, count: 1 }))
  await assert.rejects(putting, (err: unknown) => NetError.is(err, 'BAD_FRAME'))
  assert.deepEqual(confirmed, [])
  await client.close().catch(() => {})
})
