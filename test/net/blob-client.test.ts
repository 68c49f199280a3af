// The blob client's request deadlines (src/net/blob-client.ts) run on the monotonic clock: a wall-clock step (NTP,
// a resumed laptop) must not time out every request in flight at once. Unit test over an in-memory stream pair
// (the real protocol is tested in test/relay/blob.test.ts); the store side answers only when told.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { lpStream, streamPair } from '@libp2p/utils'
import { BlobChannel } from '../../src/net/blob-client.ts'
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
