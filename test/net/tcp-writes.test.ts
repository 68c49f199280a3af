// src/net/tcp-writes.ts on real libp2p over loopback (TCP, Noise, Yamux): a stream send reaches the socket as one
// write on both ends of a connection (the dialler's and the listener's), and the bytes arrive as they were sent.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Stream } from '@libp2p/interface'
import { openStreams, socketWrites } from '../helpers/streams.ts'
import { waitFor } from '../helpers/wait.ts'

const PROTOCOL = '/0m1-test/tcp-writes/1.0.0'

function collect (stream: Stream): { bytes: () => Uint8Array } {
  const chunks: Uint8Array[] = []
  stream.addEventListener('message', (e) => { chunks.push(e.data.subarray()) })
  return { bytes: () => Buffer.concat(chunks) }
}

test('a stream send is one socket write on a dialled and on an accepted TCP connection, bytes intact', async (t) => {
  const pair = await openStreams(t, PROTOCOL)
  const dialled = pair.dialled[0] as Stream
  const atB = pair.accepted[0] as Stream
  const gotAtB = collect(atB)
  const gotAtA = collect(dialled)

  const one = new Uint8Array(700).map((_, i) => i % 251)
  // Noise makes each frame two buffers (its length, the ciphertext); @libp2p/tcp alone writes them one by one.
  assert.equal(await socketWrites(() => { dialled.send(one) }), 1, 'the dialler writes the frame once')
  const two = new Uint8Array(300).fill(7)
  assert.equal(await socketWrites(() => { atB.send(two) }), 1, 'the listener writes the frame once')

  await waitFor(() => gotAtB.bytes().length >= one.length ? true : undefined, 'b receives')
  await waitFor(() => gotAtA.bytes().length >= two.length ? true : undefined, 'a receives')
  assert.deepEqual(gotAtB.bytes(), Buffer.from(one))
  assert.deepEqual(gotAtA.bytes(), Buffer.from(two))
})
