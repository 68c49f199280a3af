// src/net/yamux-window.ts on real libp2p over loopback (TCP, Noise, Yamux, two device nodes): a receiver sends a
// window update only once half its receive window is used, not one per data frame, and flow control still holds: a
// paused reader stops the sender at the window, and a large transfer to a slow, pausing reader ends intact.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import type { Stream } from '@libp2p/interface'
import type { TestContext } from '../helpers/testnet.ts'
import { openStreams } from '../helpers/streams.ts'
import { waitFor } from '../helpers/wait.ts'
import { WINDOW_UPDATE_FRACTION } from '../../src/net/yamux-window.ts'

const PROTOCOL = '/0m1-test/yamux-window/1.0.0'
/** Yamux frame types (the spec's numbering): 0 data, 1 window update. */
const DATA = 0
const WINDOW_UPDATE = 1
/** The spec's initial stream window, 256 KiB. */
const INITIAL_WINDOW = 256 * 1024

interface Frames { data: number, dataBytes: number, updates: number }

/** Counts the frames a Yamux stream sends (its muxer's sendFrame, which every frame of that stream goes through). */
function countFrames (stream: Stream): Frames {
  const s = stream as unknown as { sendFrame: (header: { type: number, length: number }, data?: unknown) => boolean }
  assert.equal(typeof s.sendFrame, 'function', 'a Yamux stream')
  const f: Frames = { data: 0, dataBytes: 0, updates: 0 }
  const send = s.sendFrame
  s.sendFrame = (header, data) => {
    if (header.type === DATA) { f.data++; f.dataBytes += header.length }
    if (header.type === WINDOW_UPDATE) f.updates++
    return send(header, data)
  }
  return f
}

async function openPair (t: TestContext): Promise<{ dialled: Stream, accepted: Stream }> {
  const pair = await openStreams(t, PROTOCOL)
  return { dialled: pair.dialled[0] as Stream, accepted: pair.accepted[0] as Stream }
}

const turn = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }

test('a receiver sends one window update per half window used, not one per data frame', async (t) => {
  const { dialled, accepted } = await openPair(t)
  const sent = countFrames(dialled)
  const answered = countFrames(accepted)
  let received = 0
  accepted.addEventListener('message', (e) => { received += e.data.byteLength })
  // 600 envelope-sized sends, one per turn of the event loop so that each is its own data frame, as on a deliver
  // stream: 420 KB, more than the initial window, so the sender needs updates to finish.
  const n = 600
  const size = 700
  for (let i = 0; i < n; i++) {
    if (!dialled.send(randomBytes(size))) await dialled.onDrain()
    await turn()
  }
  await waitFor(() => received >= n * size, 'b receives everything')
  assert.equal(received, n * size)
  assert.ok(sent.data >= n / 2, `the sends went as separate data frames (${sent.data})`)
  // @libp2p/yamux alone answers every data frame: ~600 updates here.
  const most = Math.ceil(sent.dataBytes / (INITIAL_WINDOW * WINDOW_UPDATE_FRACTION)) + 1
  assert.ok(answered.updates <= most, `${answered.updates} window updates for ${sent.data} data frames (at most ${most})`)
  assert.ok(answered.updates >= 1, 'the window was replenished')
})

test('a paused reader stops the sender at the window; a large transfer to a slow reader ends intact', async (t) => {
  const { dialled, accepted } = await openPair(t)
  const sent = countFrames(dialled)
  accepted.pause()
  const total = 8 * 1024 * 1024
  const chunk = 64 * 1024
  const source = randomBytes(total)
  const writer = (async () => {
    for (let at = 0; at < total; at += chunk) {
      if (!dialled.send(source.subarray(at, at + chunk))) await dialled.onDrain()
    }
    await dialled.close()
  })()
  // Paused: no update goes back, so the sender stops once the initial window is used.
  await waitFor(() => sent.dataBytes >= INITIAL_WINDOW, 'the sender uses its window')
  for (let i = 0; i < 20; i++) await turn()
  assert.equal(sent.dataBytes, INITIAL_WINDOW, 'nothing beyond the window is sent to a paused reader')

  // A slow reader: pauses after every message and resumes a little later.
  const hash = createHash('sha256')
  let received = 0
  let ended = false
  accepted.addEventListener('message', (e) => {
    const bytes = e.data.subarray()
    hash.update(bytes)
    received += bytes.byteLength
    // By its read side: once the remote has closed its write, the stream is still 'open' but no longer resumable.
    if (accepted.readStatus !== 'readable') return
    accepted.pause()
    setTimeout(() => { if (accepted.readStatus === 'paused') accepted.resume() }, 1)
  })
  accepted.addEventListener('remoteCloseWrite', () => { ended = true })
  accepted.resume()
  await writer
  await waitFor(() => ended && received === total, 'b reads the whole transfer', 60_000)
  assert.equal(hash.digest('hex'), createHash('sha256').update(source).digest('hex'))
})
