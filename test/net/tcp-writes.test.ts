// src/net/tcp-writes.ts on real libp2p over loopback (TCP, Noise, Yamux): a stream send reaches the socket as one
// write on both ends of a connection (the dialler's and the listener's), and the bytes arrive as they were sent.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Socket } from 'node:net'
import type { Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { createTestnet } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'
import type { DeviceNode } from '../../src/net/node.ts'

const PROTOCOL = '/0m1-test/tcp-writes/1.0.0'

/** Socket writes made while `fn` runs and until the next turn of the event loop (src/net/muxer-writes.ts writes the
 * frames of one turn together, on the next). */
async function socketWrites (fn: () => void): Promise<number> {
  const write = Socket.prototype.write // eslint-disable-line @typescript-eslint/unbound-method
  let n = 0
  Socket.prototype.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
    n++
    return write.apply(this, args)
  } as Socket['write']
  try {
    fn()
    await new Promise((resolve) => setImmediate(resolve))
  } finally {
    Socket.prototype.write = write
  }
  return n
}

function collect (stream: Stream): { bytes: () => Uint8Array } {
  const chunks: Uint8Array[] = []
  stream.addEventListener('message', (e) => { chunks.push(e.data.subarray()) })
  return { bytes: () => Buffer.concat(chunks) }
}

test('a stream send is one socket write on a dialled and on an accepted TCP connection, bytes intact', async (t) => {
  const net = await createTestnet(t, { relays: 0, devices: 2 })
  const [a, b] = net.devices as [DeviceNode, DeviceNode]
  let accepted: Stream | undefined
  await b.libp2p.handle(PROTOCOL, (stream) => { accepted = stream })
  const addr = b.addresses().find((x) => x.includes('/tcp/') && !x.includes('/ws'))
  assert.ok(addr !== undefined)
  const conn = await a.libp2p.dial(multiaddr(addr))
  const dialled = await conn.newStream(PROTOCOL)
  const atB = await waitFor(() => accepted, 'b accepts the stream')
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
