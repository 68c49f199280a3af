// The relay's blob store over /0m1/blob/1.0.0 with real libp2p and SQLCipher (issue 12): capability checks that
// reveal nothing, quotas with reasons, resumable uploads, durability across a restart, expiry.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { NetError } from '../../src/net/errors.ts'
import { NOT_FOUND_MESSAGE } from '../../src/relay/blob-store.ts'
import { blobIdOf, FILE_CIPHER_CHUNK_BYTES } from '../../src/wire/file.ts'
import { createTestnet } from '../helpers/testnet.ts'

const chunk = (): Uint8Array => randomBytes(FILE_CIPHER_CHUNK_BYTES)
const ref = (): { blobId: Uint8Array, capability: Uint8Array } => { const capability = randomBytes(32); return { blobId: blobIdOf(capability), capability } }

test('a wrong capability and an unknown blob id get the same refusal; the right capability reads the chunks back', { timeout: 60_000 }, async (t) => {
  const net = await createTestnet(t, { relays: 1, devices: 1 })
  const [relay] = net.relays
  const [dev] = net.devices
  assert.ok(relay !== undefined && dev !== undefined)
  const r = ref()
  const data = [chunk(), chunk(), chunk()]
  await dev.withBlobStore(relay.addr, 'send', async (ch) => {
    await ch.putFrom(r, 3, 0, async (i) => data[i] as Uint8Array, () => {})
  })
  await dev.withBlobStore(relay.addr, 'fetch', async (ch) => {
    assert.equal(await ch.status(r), 3)
    assert.ok(Buffer.from(await ch.get(r, 1)).equals(data[1] as Uint8Array))
    const answers: string[] = []
    for (const wrong of [{ ...r, capability: randomBytes(32) }, ref()]) {
      for (const op of [async () => await ch.status(wrong), async () => await ch.get(wrong, 0), async () => { await ch.delete(wrong) }]) {
        await assert.rejects(op(), (e: unknown) => { assert.ok(NetError.is(e, 'NOT_FOUND')); answers.push(e.message); return true })
      }
    }
    assert.deepEqual(new Set(answers), new Set([NOT_FOUND_MESSAGE]), 'one sentence for both cases')
    // Nobody else can extend or overwrite the blob either.
    await assert.rejects(ch.request({ type: 'put', reqId: 0, blobId: r.blobId, capability: randomBytes(32), chunks: 3, index: 0, data: chunk() }), (e: unknown) => NetError.is(e, 'NOT_FOUND'))
  })
})

test('an upload resumes at the relay\'s count after a relay restart; stored chunks survive it', { timeout: 60_000 }, async (t) => {
  const net = await createTestnet(t, { relays: 1, devices: 1 })
  const [relay] = net.relays
  const [dev] = net.devices
  assert.ok(relay !== undefined && dev !== undefined)
  const r = ref()
  const data = Array.from({ length: 6 }, chunk)
  await dev.withBlobStore(relay.addr, 'send', async (ch) => {
    // The upload stops after three chunks (the sender died).
    for (let i = 0; i < 3; i++) await ch.request({ type: 'put', reqId: 0, ...r, chunks: 6, index: i, data: data[i] as Uint8Array })
  })
  await relay.restart()
  let sent = 0
  await dev.withBlobStore(relay.handle.addresses.find((a) => a.includes('/tcp/') && !a.includes('/ws')) ?? relay.addr, 'send', async (ch) => {
    const from = await ch.status(r)
    assert.equal(from, 3, 'every confirmed chunk is still there after the restart')
    await ch.putFrom(r, 6, from, async (i) => { sent++; return data[i] as Uint8Array }, () => {})
    assert.equal(await ch.status(r), 6)
    for (let i = 0; i < 6; i++) assert.ok(Buffer.from(await ch.get(r, i)).equals(data[i] as Uint8Array))
  })
  assert.equal(sent, 3, 'only the chunks the relay did not confirm were sent again')
})

test('a relay over its blob quota refuses with a reason that says what to do; one blob over the per-blob limit too', { timeout: 60_000 }, async (t) => {
  const net = await createTestnet(t, { relays: 1, devices: 1, relayLimits: { maxBlobTotalBytes: 2 * FILE_CIPHER_CHUNK_BYTES, maxBlobBytes: 4 * FILE_CIPHER_CHUNK_BYTES } })
  const [relay] = net.relays
  const [dev] = net.devices
  assert.ok(relay !== undefined && dev !== undefined)
  const r = ref()
  const confirmed: number[] = []
  await dev.withBlobStore(relay.addr, 'send', async (ch) => {
    await assert.rejects(ch.putFrom(r, 3, 0, async () => chunk(), (n) => { confirmed.push(n) }), (e: unknown) => {
      assert.ok(NetError.is(e, 'REFUSED'))
      assert.equal(e.reason, 'QUOTA_BYTES')
      assert.match(e.message, /blob store is full; park the file on another relay or retry later/)
      return true
    })
    assert.deepEqual(confirmed, [1, 2], 'what fitted is confirmed, in order')
    await assert.rejects(ch.putFrom(ref(), 5, 0, async () => chunk(), () => {}), (e: unknown) => NetError.is(e, 'REFUSED') && e.reason === 'TOO_LARGE')
  })
})

test('blobs expire with the envelopes\' retention', { timeout: 60_000 }, async (t) => {
  let now = Date.now()
  const net = await createTestnet(t, { relays: 1, devices: 1, now: () => now })
  const [relay] = net.relays
  const [dev] = net.devices
  assert.ok(relay !== undefined && dev !== undefined)
  const r = ref()
  await dev.withBlobStore(relay.addr, 'send', async (ch) => { await ch.putFrom(r, 1, 0, async () => chunk(), () => {}) })
  assert.equal(relay.handle.blobs.totalBytes(), FILE_CIPHER_CHUNK_BYTES)
  now += 30 * 24 * 3600_000 + 1
  relay.handle.sweep()
  assert.equal(relay.handle.blobs.totalBytes(), 0)
  await dev.withBlobStore(relay.addr, 'fetch', async (ch) => { await assert.rejects(ch.status(r), (e: unknown) => NetError.is(e, 'NOT_FOUND')) })
})

test('one uploading peer over its upload budget is refused with RATE_LIMITED and the limit; another peer is not; the next window takes it again', { timeout: 60_000 }, async (t) => {
  let now = Date.now()
  // Three chunks per window: the fourth put from the same peer is over.
  const net = await createTestnet(t, { relays: 1, devices: 2, now: () => now, relayLimits: { blobUploadBytesPerWindow: 3 * FILE_CIPHER_CHUNK_BYTES, blobUploadWindowMs: 60_000 } })
  const [relay] = net.relays
  const [dev, other] = net.devices
  assert.ok(relay !== undefined && dev !== undefined && other !== undefined)
  const r = ref()
  const data = Array.from({ length: 5 }, chunk)
  await dev.withBlobStore(relay.addr, 'send', async (ch) => {
    for (let i = 0; i < 3; i++) await ch.request({ type: 'put', reqId: 0, ...r, chunks: 5, index: i, data: data[i] as Uint8Array })
    await assert.rejects(ch.request({ type: 'put', reqId: 0, ...r, chunks: 5, index: 3, data: data[3] as Uint8Array }), (e: unknown) => {
      assert.ok(NetError.is(e, 'REFUSED'))
      assert.equal(e.reason, 'RATE_LIMITED')
      assert.match(e.message, /at most 192 KiB of file chunks per 1 min from one sender or one network; park the file on another relay or retry later/)
      return true
    })
    assert.equal(await ch.status(r), 3, 'the refused chunk was not stored')
  })
  assert.equal(relay.handle.blobService.refusals.get('RATE_LIMITED'), 1)
  // The budget is the uploader's: another peer parks its own blob meanwhile.
  const r2 = ref()
  await other.withBlobStore(relay.addr, 'send', async (ch) => { await ch.putFrom(r2, 2, 0, async () => chunk(), () => {}) })
  // A window later the first peer continues where it stopped.
  now += 60_000
  await dev.withBlobStore(relay.addr, 'send', async (ch) => {
    await ch.putFrom(r, 5, await ch.status(r), async (i) => data[i] as Uint8Array, () => {})
    assert.equal(await ch.status(r), 5)
  })
})

test('the fetch token (SHA-256 of the capability, what a group\'s members hold) reads a blob but cannot delete or extend it; the capability can', { timeout: 60_000 }, async (t) => {
  const net = await createTestnet(t, { relays: 1, devices: 1 })
  const [relay] = net.relays
  const [dev] = net.devices
  assert.ok(relay !== undefined && dev !== undefined)
  const r = ref()
  const token = { blobId: r.blobId, capability: new Uint8Array(createHash('sha256').update(r.capability).digest()) }
  const data = [chunk(), chunk()]
  await dev.withBlobStore(relay.addr, 'send', async (ch) => { await ch.request({ type: 'put', reqId: 0, ...r, chunks: 3, index: 0, data: data[0] as Uint8Array }) })
  await dev.withBlobStore(relay.addr, 'fetch', async (ch) => {
    assert.equal(await ch.status(token), 1)
    assert.ok(Buffer.from(await ch.get(token, 0)).equals(data[0] as Uint8Array))
    await assert.rejects(ch.delete(token), (e: unknown) => NetError.is(e, 'NOT_FOUND') && e.message === NOT_FOUND_MESSAGE)
    await assert.rejects(ch.request({ type: 'put', reqId: 0, ...token, chunks: 3, index: 1, data: data[1] as Uint8Array }), (e: unknown) => NetError.is(e, 'NOT_FOUND'))
    assert.equal(await ch.status(token), 1, 'still there, not extended')
    // A token of a token is nothing.
    await assert.rejects(ch.status({ blobId: r.blobId, capability: new Uint8Array(createHash('sha256').update(token.capability).digest()) }), (e: unknown) => NetError.is(e, 'NOT_FOUND'))
    await ch.delete(r)
    await assert.rejects(ch.status(token), (e: unknown) => NetError.is(e, 'NOT_FOUND'))
  })
})

test('a peer who knows a blob id cannot create that blob first under a capability of its own: the sender\'s puts still land', { timeout: 60_000 }, async (t) => {
  const net = await createTestnet(t, { relays: 1, devices: 2 })
  const [relay] = net.relays
  const [sender, mallory] = net.devices
  assert.ok(relay !== undefined && sender !== undefined && mallory !== undefined)
  const r = ref()
  const data = [chunk(), chunk()]
  // What a hostile group member holds: the blob id (every member knows it), not the capability.
  await mallory.withBlobStore(relay.addr, 'send', async (ch) => {
    await assert.rejects(ch.request({ type: 'put', reqId: 0, blobId: r.blobId, capability: randomBytes(32), chunks: 2, index: 0, data: chunk() }), (e: unknown) => NetError.is(e, 'REFUSED') && e.reason === 'BAD_FRAME')
  })
  await sender.withBlobStore(relay.addr, 'send', async (ch) => {
    await ch.putFrom(r, 2, 0, async (i) => data[i] as Uint8Array, () => {})
  })
  await sender.withBlobStore(relay.addr, 'fetch', async (ch) => {
    assert.equal(await ch.status(r), 2)
    assert.ok(Buffer.from(await ch.get(r, 0)).equals(data[0] as Uint8Array))
  })
})

test('two peer ids from the same address share their network prefix\'s upload budget (fresh ids buy no fresh budget)', { timeout: 60_000 }, async (t) => {
  // Three chunks per peer, four per prefix: both devices dial from 127.0.0.1, one prefix.
  const net = await createTestnet(t, { relays: 1, devices: 2, relayLimits: { blobUploadBytesPerWindow: 3 * FILE_CIPHER_CHUNK_BYTES, blobUploadBytesPerPrefixWindow: 4 * FILE_CIPHER_CHUNK_BYTES, blobUploadWindowMs: 60_000 } })
  const [relay] = net.relays
  const [dev, other] = net.devices
  assert.ok(relay !== undefined && dev !== undefined && other !== undefined)
  const r = ref()
  await dev.withBlobStore(relay.addr, 'send', async (ch) => {
    for (let i = 0; i < 3; i++) await ch.request({ type: 'put', reqId: 0, ...r, chunks: 5, index: i, data: chunk() })
  })
  const r2 = ref()
  await other.withBlobStore(relay.addr, 'send', async (ch) => {
    await ch.request({ type: 'put', reqId: 0, ...r2, chunks: 5, index: 0, data: chunk() })
    await assert.rejects(ch.request({ type: 'put', reqId: 0, ...r2, chunks: 5, index: 1, data: chunk() }), (e: unknown) => NetError.is(e, 'REFUSED') && e.reason === 'RATE_LIMITED')
    assert.equal(await ch.status(r2), 1)
  })
  assert.equal(relay.handle.blobService.refusals.get('RATE_LIMITED'), 1)
})
