// Raw libp2p streams between two real device nodes over loopback TCP, and the socket writes they cost: the
// helpers of the transport tests (test/net/tcp-writes, muxer-writes, yamux-window).
import assert from 'node:assert/strict'
import { Socket } from 'node:net'
import type { Connection, Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { createTestnet, type TestContext } from './testnet.ts'
import { waitFor } from './wait.ts'
import type { DeviceNode } from '../../src/net/node.ts'

/** Socket writes made while `fn` runs and until the next turn of the event loop (src/net/muxer-writes.ts writes the
 * frames of one turn together, on the next). */
export async function socketWrites (fn: () => void): Promise<number> {
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

/** `n` streams of `protocol` from one device to another over one TCP connection, each with the other end's. */
export async function openStreams (t: TestContext, protocol: string, n = 1): Promise<{ conn: Connection, dialled: Stream[], accepted: Stream[] }> {
  const net = await createTestnet(t, { relays: 0, devices: 2 })
  const [a, b] = net.devices as [DeviceNode, DeviceNode]
  const accepted: Stream[] = []
  await b.libp2p.handle(protocol, (stream) => { accepted.push(stream) })
  const addr = b.addresses().find((x) => x.includes('/tcp/') && !x.includes('/ws'))
  assert.ok(addr !== undefined)
  const conn = await a.libp2p.dial(multiaddr(addr))
  const dialled: Stream[] = []
  for (let i = 0; i < n; i++) dialled.push(await conn.newStream(protocol))
  await waitFor(() => accepted.length === n, `the other end accepts ${n} stream(s)`)
  return { conn, dialled, accepted }
}
