// src/net/noise-reads.ts: Noise's length reader answers a short buffer without throwing, frames still come out whole
// from @libp2p/utils' real decoder however the bytes are cut, and our nodes' encrypted connections use it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { Stream } from '@libp2p/interface'
import { LengthPrefixedDecoder } from '@libp2p/utils'
import { NEEDS_MORE, NoiseShapeError, quietLengthReader, quietReads } from '../../src/net/noise-reads.ts'
import { openStreams } from '../helpers/streams.ts'
import { waitFor } from '../helpers/wait.ts'

/** Noise's own reader, as @chainsafe/libp2p-noise 17 has it (throws below two bytes). */
const stock = (data: { byteLength: number, subarray: () => Uint8Array }): number => {
  if (data.byteLength < 2) throw new RangeError('Could not decode int16BE')
  const b = data.subarray()
  return ((b[0] as number) << 8) + (b[1] as number)
}

test('a short buffer gets NEEDS_MORE, not a throw; two bytes or more get the stock reader', () => {
  const read = quietLengthReader(stock as never)
  assert.equal(read(new Uint8Array(0)), NEEDS_MORE)
  assert.equal(read(new Uint8Array([7])), NEEDS_MORE)
  assert.equal(read(new Uint8Array([1, 2, 9])), 258)
})

test('the real decoder cuts the same frames from bytes arriving one at a time or all at once, with no RangeError', () => {
  const frames = [randomBytes(1), randomBytes(300), randomBytes(0x1234), randomBytes(2)]
  const wire = Buffer.concat(frames.flatMap((f) => [Buffer.from([f.length >> 8, f.length & 0xff]), f]))
  let throws = 0
  const counted = (data: { byteLength: number, subarray: () => Uint8Array }): number => {
    try { return stock(data) } catch (err) { throws++; throw err }
  }
  const cut = (chunks: Uint8Array[]): Buffer[] => {
    const d = new LengthPrefixedDecoder({ lengthDecoder: quietLengthReader(counted as never) as never, maxBufferSize: 16 * 1024 * 1024, encodingLength: () => 2 })
    const out: Buffer[] = []
    for (const c of chunks) for (const f of d.decode(c)) out.push(Buffer.from(f.subarray()))
    return out
  }
  assert.deepEqual(cut([wire]), frames)
  assert.deepEqual(cut([...wire].map((b) => new Uint8Array([b]))), frames)
  assert.equal(throws, 0, 'the stock reader was never asked with fewer than two bytes')
})

test('a stream that is not Noise\'s encrypted stream is refused, not silently left as it is', () => {
  assert.throws(() => { quietReads({}) }, NoiseShapeError)
  assert.throws(() => { quietReads({ decoder: { decode: () => {} } }) }, NoiseShapeError)
})

test('our nodes\' encrypted connections read with it, and large and small writes arrive intact', async (t) => {
  const { conn, dialled, accepted } = await openStreams(t, '/0m1-test/noise-reads/1.0.0', 1)
  // The connection's encrypted stream (below Yamux) is Noise's, with its length reader replaced.
  const maConn = (conn as unknown as { maConn?: unknown, muxer?: { maConn?: { decoder?: { lengthDecoder?: (d: Uint8Array) => number } } } }).muxer?.maConn
  assert.equal(maConn?.decoder?.lengthDecoder?.(new Uint8Array(1)), NEEDS_MORE, 'the quiet reader is in place')
  const s = dialled[0] as Stream
  const r = accepted[0] as Stream
  const got: Uint8Array[] = []
  r.addEventListener('message', (e) => { got.push(e.data.subarray()) })
  const parts = [randomBytes(10), randomBytes(200_000), randomBytes(3)]
  for (const p of parts) s.send(p)
  await waitFor(() => Buffer.concat(got).length === 200_013 ? true : undefined, 'all bytes arrive')
  assert.deepEqual(Buffer.concat(got), Buffer.concat(parts))
})
