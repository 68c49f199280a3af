// src/net/muxer-writes.ts on real libp2p over loopback (TCP, Noise, Yamux, two device nodes): Yamux frames sent on
// one turn of the event loop, on several streams, leave as one socket write, and arrive intact and in order; a
// stream's close (its FIN) still reaches the other end.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { Stream } from '@libp2p/interface'
import { Socket } from 'node:net'
import { flushWrites } from '../../src/net/muxer-writes.ts'
import { openStreams, socketWrites } from '../helpers/streams.ts'
import { waitFor } from '../helpers/wait.ts'

const PROTOCOL = '/0m1-test/muxer-writes/1.0.0'

function collect (stream: Stream): { bytes: () => Buffer, ended: () => boolean } {
  const chunks: Uint8Array[] = []
  let ended = false
  stream.addEventListener('message', (e) => { chunks.push(e.data.subarray()) })
  stream.addEventListener('remoteCloseWrite', () => { ended = true })
  return { bytes: () => Buffer.concat(chunks), ended: () => ended }
}

test('frames of one turn on two streams leave in one socket write, intact and in order; a close still arrives', async (t) => {
  const { dialled, accepted } = await openStreams(t, PROTOCOL, 2)
  const [s1, s2] = dialled as [Stream, Stream]
  const got = accepted.map(collect)

  const parts1 = Array.from({ length: 20 }, () => randomBytes(300))
  const parts2 = Array.from({ length: 20 }, () => randomBytes(500))
  // Which accepted stream is which: the first byte each carries.
  ;(parts1[0] as Buffer)[0] = 1
  ;(parts2[0] as Buffer)[0] = 2
  const writes = await socketWrites(() => {
    for (let i = 0; i < 20; i++) {
      s1.send(parts1[i] as Uint8Array)
      s2.send(parts2[i] as Uint8Array)
    }
  })
  // Without src/net/muxer-writes.ts: 40 data frames, 40 writes.
  assert.equal(writes, 1, '40 frames on two streams, one write')

  await s1.close()
  await s2.close()
  const want = [Buffer.concat(parts1), Buffer.concat(parts2)]
  await waitFor(() => got.every((g) => g.ended()) ? true : undefined, 'both closes reach b')
  const received = got.map((g) => g.bytes()).sort((x, y) => (x[0] ?? 0) - (y[0] ?? 0))
  assert.deepEqual(received, want)
})

test('flushWrites() writes the frames held for the end of the turn at once; later frames of the turn still leave together', async (t) => {
  const { dialled, accepted } = await openStreams(t, PROTOCOL, 1)
  const s = dialled[0] as Stream
  const got = collect(accepted[0] as Stream)
  const parts = Array.from({ length: 20 }, () => randomBytes(300))
  const write = Socket.prototype.write // eslint-disable-line @typescript-eslint/unbound-method
  let writes = 0
  Socket.prototype.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
    writes++
    return write.apply(this, args)
  } as Socket['write']
  t.after(() => { Socket.prototype.write = write })
  for (const p of parts.slice(0, 10)) s.send(p)
  assert.equal(writes, 0, 'held for the end of the turn')
  // What a messenger batch does before it holds the CPU for tens of ms (the turn's end comes only after it).
  flushWrites()
  assert.equal(writes, 1, 'the 10 held frames leave in one write, before the turn ends')
  flushWrites()
  assert.equal(writes, 1, 'nothing held: nothing written')
  for (const p of parts.slice(10)) s.send(p)
  await new Promise((resolve) => setImmediate(resolve))
  Socket.prototype.write = write
  assert.equal(writes, 2, 'the frames sent after the flush leave together at the end of the turn')
  await s.close()
  await waitFor(() => got.ended() ? true : undefined, 'the close reaches b')
  assert.deepEqual(got.bytes(), Buffer.concat(parts), 'every byte, in order')
})

test('a stream that sends from its own drain handler, while the connection drains, is not left waiting for a drain that never comes', async (t) => {
  const { dialled, accepted } = await openStreams(t, PROTOCOL, 18)
  const [, s2] = dialled as [Stream, Stream]
  const probe = accepted[1] as Stream
  let got = 0
  probe.addEventListener('message', (e) => { got += e.data.byteLength })
  for (const s of accepted) if (s !== probe) s.addEventListener('message', () => {})
  let fired = 0
  s2.addEventListener('drain', () => { if (fired++ === 0) s2.send(randomBytes(100)) })
  // One turn fills the connection (16 streams x 250 KiB), so the muxer tells its streams to wait, then drains.
  for (const s of dialled.slice(2)) s.send(randomBytes(250 * 1024))
  s2.send(randomBytes(100))
  await waitFor(() => fired > 0, 'the drain reaches s2', 20_000)
  // Sent after the drain: must arrive without any further window update or drain.
  s2.send(randomBytes(100))
  await waitFor(() => got >= 300 ? true : undefined, () => `all of s2's 300 bytes arrive (got ${got}, s2 needs drain: ${String(s2.writableNeedsDrain)})`, 20_000)
  assert.equal(got, 300)
})
