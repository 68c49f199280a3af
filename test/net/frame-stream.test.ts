// src/net/frame-stream.ts (the direct file receiver's frames) on real libp2p streams over loopback, and its
// FrameReader fed the file protocol's largest frames cut at any byte: whole frames in order, every bound enforced.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import type { Stream } from '@libp2p/interface'
import { NetError } from '../../src/net/errors.ts'
import { FrameReader, lengthPrefixed } from '../../src/net/frame-reader.ts'
import { FrameStream } from '../../src/net/frame-stream.ts'
import { decodeBlobClientFrame, encodeBlobPutParts, MAX_BLOB_FRAME_BYTES } from '../../src/wire/blob.ts'
import { FILE_CIPHER_CHUNK_BYTES } from '../../src/wire/file.ts'
import { openStreams } from '../helpers/streams.ts'
import { waitFor } from '../helpers/wait.ts'

const PROTOCOL = '/0m1-test/frame-stream/1.0.0'
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** A put of chunk `index` as the sender writes it: one frame of MAX_BLOB_FRAME_BYTES. */
function put (index: number): Uint8Array {
  const [head, data] = encodeBlobPutParts({ type: 'put', reqId: index + 1, blobId: new Uint8Array(16).fill(1), capability: new Uint8Array(32).fill(2), chunks: 1000, index, data: randomBytes(FILE_CIPHER_CHUNK_BYTES) })
  return Buffer.concat([head, data])
}

/** Frames of `wire` read by a FrameReader fed the pieces between `cuts`. */
function readCut (wire: Uint8Array, cuts: number[], max = MAX_BLOB_FRAME_BYTES): Uint8Array[] {
  const r = new FrameReader(max)
  const out: Uint8Array[] = []
  let at = 0
  for (const c of [...cuts.sort((a, b) => a - b), wire.length]) {
    r.push(wire.subarray(at, c))
    at = c
    for (let f = r.next(); f !== undefined; f = r.next()) out.push(f)
  }
  assert.equal(r.buffered, 0)
  return out
}

test('FrameReader: two largest put frames split at any byte of their prefixes and edges, or at random cuts, come out whole', () => {
  const frames = [put(0), put(1)]
  const wire = lengthPrefixed(frames)
  const want = frames.map(hex)
  const prefix = wire.length / 2 - MAX_BLOB_FRAME_BYTES // bytes of each varint prefix
  assert.equal(prefix, 3)
  // Every split inside and around both prefixes and at both ends of each body.
  const edges = [...Array.from({ length: 40 }, (_, i) => i), ...Array.from({ length: 40 }, (_, i) => wire.length / 2 - 20 + i), ...Array.from({ length: 20 }, (_, i) => wire.length - 20 + i)]
  for (const cut of edges) assert.deepEqual(readCut(wire, [cut]).map(hex), want, `split at ${cut}`)
  fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 0, max: wire.length }), { maxLength: 30 }), (cuts) => {
    const out = readCut(wire, cuts)
    assert.deepEqual(out.map(hex), want)
    assert.equal(decodeBlobClientFrame(out[1] as Uint8Array).type, 'put')
  }), { numRuns: 60 })
})

test('FrameReader: a prefix announcing one byte over the put frame\'s size is refused before any body is buffered', () => {
  const r = new FrameReader(MAX_BLOB_FRAME_BYTES)
  const over = lengthPrefixed([new Uint8Array(MAX_BLOB_FRAME_BYTES + 1)]).subarray(0, 3)
  r.push(over)
  assert.throws(() => r.next(), (e) => NetError.is(e, 'TOO_LARGE'))
  const endless = new FrameReader(MAX_BLOB_FRAME_BYTES)
  endless.push(Uint8Array.of(0x80, 0x80, 0x80, 0x80)) // a prefix that never ends
  assert.throws(() => endless.next(), (e) => NetError.is(e, 'TOO_LARGE'))
})

/** A dialled stream and a FrameStream on the accepted end. */
async function pair (t: Parameters<typeof openStreams>[0], maxFrame: number, maxBuffered: number): Promise<{ out: Stream, frames: FrameStream, back: Stream }> {
  const { dialled, accepted } = await openStreams(t, PROTOCOL)
  const [out] = dialled as [Stream]
  const [back] = accepted as [Stream]
  return { out, frames: new FrameStream(back, maxFrame, maxBuffered), back }
}

test('FrameStream on a real stream: puts sent in odd-sized pieces arrive whole and in order, then the end; answers go back framed', async (t) => {
  const { out, frames, back } = await pair(t, MAX_BLOB_FRAME_BYTES, 8 * (MAX_BLOB_FRAME_BYTES + 3))
  const sent = Array.from({ length: 6 }, (_, i) => put(i))
  const wire = lengthPrefixed(sent)
  // Pieces that cut prefixes and bodies anywhere, none aligned with a frame.
  for (let at = 0, step = 1; at < wire.length; at += step, step = step * 7 + 3) out.send(wire.subarray(at, Math.min(wire.length, at + step)))
  await out.close()
  const got: Uint8Array[] = []
  for (let f = await frames.next(); f !== undefined; f = await frames.next()) got.push(f)
  assert.deepEqual(got.map(hex), sent.map(hex))
  assert.equal(await frames.next(), undefined, 'the end stays the end')

  // The other way: send() writes length-prefixed frames the dialling end can cut again.
  const answers = [Uint8Array.of(1, 2, 3), new Uint8Array(300).fill(9)]
  const echoed = new FrameReader(1000)
  out.addEventListener('message', (e) => { echoed.push(e.data) })
  await frames.send(answers)
  const back2: Uint8Array[] = []
  await waitFor(() => { for (let f = echoed.next(); f !== undefined; f = echoed.next()) back2.push(f); return back2.length === 2 }, 'both answers arrive')
  assert.deepEqual(back2.map(hex), answers.map(hex))
  await back.close()
})

test('FrameStream: an oversize prefix, or a sender over its window, is refused with TOO_LARGE', async (t) => {
  const a = await pair(t, 100, 1000)
  a.out.send(Uint8Array.of(101)) // announces 101 bytes: over the frame bound, refused on the prefix alone
  await assert.rejects(a.frames.next(), (e) => NetError.is(e, 'TOO_LARGE'))

  const b = await pair(t, 100, 250)
  // Three frames of 100 with nobody reading: more than 250 bytes wait unread.
  let arrived = 0
  b.back.addEventListener('message', (e) => { arrived += e.data.byteLength })
  b.out.send(lengthPrefixed([new Uint8Array(100), new Uint8Array(100), new Uint8Array(100)]))
  await waitFor(() => arrived === 303, 'the backlog arrives')
  await assert.rejects(b.frames.next(), (e) => NetError.is(e, 'TOO_LARGE'))
})

test('FrameStream: frames that arrived before the sender aborted are still read, then the abort is an error or the end, never a hang', async (t) => {
  const { out, frames } = await pair(t, 1000, 10_000)
  out.send(lengthPrefixed([Uint8Array.of(7)]))
  assert.equal(hex(await frames.next() ?? new Uint8Array(0)), '07')
  out.send(Uint8Array.of(5, 1)) // a frame cut short
  out.abort(new Error('gone'))
  const last = await frames.next().then((f) => f, (err: unknown) => err)
  assert.ok(last === undefined || last instanceof Error, 'undefined or an error, not a frame')
})

test('FrameStream.sendParts: a put sent as its head and chunk is one frame, their concatenation', async (t) => {
  const { out, frames } = await pair(t, MAX_BLOB_FRAME_BYTES, 4 * (MAX_BLOB_FRAME_BYTES + 3))
  const sender = new FrameStream(out, MAX_BLOB_FRAME_BYTES, 4 * (MAX_BLOB_FRAME_BYTES + 3))
  const [head, data] = encodeBlobPutParts({ type: 'put', reqId: 9, blobId: new Uint8Array(16), capability: new Uint8Array(32), chunks: 2, index: 1, data: randomBytes(FILE_CIPHER_CHUNK_BYTES) })
  await sender.sendParts([head, data])
  await sender.sendParts([Uint8Array.of(1, 2)])
  assert.equal(hex(await frames.next() ?? new Uint8Array(0)), hex(Buffer.concat([head, data])))
  assert.equal(hex(await frames.next() ?? new Uint8Array(0)), '0102')
})

/** A stand-in for a libp2p stream's events and state (beside the real-stream tests above): what FrameStream reads of
 * one, driven by the test at moments a real stream does not let a test choose. */
class FakeStream extends EventTarget {
  status = 'open'
  remoteWriteStatus = 'writable'
  readBufferLength = 0
  writableNeedsDrain = false
  send (): boolean { return !this.writableNeedsDrain }
  message (data: Uint8Array): void { this.dispatchEvent(Object.assign(new Event('message'), { data })) }
}

test('FrameStream: a send waiting for drain is woken when the stream ends with an error, even after an earlier error end', async () => {
  const fake = new FakeStream()
  const fs = new FrameStream(fake as unknown as Stream, 100, 100)
  fake.writableNeedsDrain = true
  let settled = false
  const waiting = fs.send([new Uint8Array(10)]).finally(() => { settled = true })
  // Over the window: TOO_LARGE ends it; the send must not wait for a drain that never comes.
  fake.message(lengthPrefixed([new Uint8Array(90), new Uint8Array(90)]))
  await assert.rejects(fs.next(), (err: unknown) => NetError.is(err, 'TOO_LARGE'))
  await waiting
  assert.equal(settled, true)
  // Ended with an error before a send started: it returns at once, and a later close wakes nothing left waiting.
  await fs.send([new Uint8Array(10)])
  fake.dispatchEvent(Object.assign(new Event('close'), { error: new Error('gone') }))
  await fs.sendParts([new Uint8Array(3)])
})

test('FrameStream: frames the stream still holds when the remote has closed its side are read before the end', async () => {
  const fake = new FakeStream()
  fake.remoteWriteStatus = 'closed'
  fake.readBufferLength = 40
  const fs = new FrameStream(fake as unknown as Stream, 100, 1000)
  // As the stream does once a 'message' listener is added: the held bytes, then 'end'.
  const frames = [randomBytes(15), randomBytes(20)]
  fake.message(lengthPrefixed(frames))
  fake.readBufferLength = 0
  fake.dispatchEvent(new Event('end'))
  assert.deepEqual((await fs.next())?.length, 15)
  assert.equal(hex((await fs.next()) ?? new Uint8Array()), hex(frames[1] as Uint8Array))
  assert.equal(await fs.next(), undefined)
})
