// A relay writes each Yamux frame as it is sent (src/net/libp2p.ts RELAY_COALESCES_WRITES), on real libp2p over
// loopback: relayed bytes are one frame per read, and collecting a turn's frames only delayed each by a turn.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Socket } from 'node:net'
import { createTestnet } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'
import type { DeviceNode } from '../../src/net/node.ts'

const PROTOCOL = '/0m1-test/relay-writes/1.0.0'

/** Socket writes made while `fn` runs, before any later turn of the event loop. */
function writesDuring (fn: () => void): number {
  const write = Socket.prototype.write // eslint-disable-line @typescript-eslint/unbound-method
  let n = 0
  Socket.prototype.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
    n++
    return write.apply(this, args)
  } as Socket['write']
  try {
    fn()
  } finally {
    Socket.prototype.write = write
  }
  return n
}

test('a relay writes each frame at once, intact and in order; a device still collects the frames of a turn', async (t) => {
  const net = await createTestnet(t, { relays: 1, devices: 1 })
  const relay = net.relays[0]?.handle
  const device = net.devices[0] as DeviceNode
  assert.ok(relay !== undefined)
  const chunks: Uint8Array[] = []
  await device.libp2p.handle(PROTOCOL, (stream) => {
    stream.addEventListener('message', (e) => { chunks.push(e.data.subarray()) })
  })
  // The device's connection to the relay (its reservation), used from the relay's side.
  const stream = await relay.libp2p.dialProtocol(device.libp2p.peerId, PROTOCOL)
  const parts = Array.from({ length: 3 }, () => randomBytes(500))
  const relayWrites = writesDuring(() => { for (const p of parts) stream.send(p) })
  // With the device's coalescing (src/net/muxer-writes.ts) this would be 0 now and 1 on the next turn.
  assert.equal(relayWrites, 3, 'three frames, three writes, none deferred')
  await waitFor(() => Buffer.concat(chunks).length === 1500 ? true : undefined, 'the device gets all 1,500 bytes')
  assert.deepEqual(Buffer.concat(chunks), Buffer.concat(parts))

  // The other way, the device defers and joins them.
  const back: Uint8Array[] = []
  await relay.libp2p.handle(PROTOCOL, (s) => { s.addEventListener('message', (e) => { back.push(e.data.subarray()) }) })
  const up = await device.libp2p.dialProtocol(relay.libp2p.peerId, PROTOCOL)
  assert.equal(writesDuring(() => { for (const p of parts) up.send(p) }), 0, 'a device defers its writes to the next turn')
  await waitFor(() => Buffer.concat(back).length === 1500 ? true : undefined, 'the relay gets all 1,500 bytes')
  assert.deepEqual(Buffer.concat(back), Buffer.concat(parts))
})
