// src/net/deliver-inbound.ts on real libp2p over loopback: the ack of an envelope leaves in the same socket write as
// what its handler sent back before resolving (a receipt), not a turn later in a write of its own. Over a circuit
// every write is also a relayed frame: one per message fewer for the relay to read, decrypt, encrypt and write.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Socket } from 'node:net'
import { createTestnet } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'
import type { DeviceNode } from '../../src/net/node.ts'

function env (i: number): Uint8Array {
  const e = new Uint8Array(200).fill(0xee)
  new DataView(e.buffer).setUint32(0, i)
  return e
}
const indexOf = (e: Uint8Array): number => new DataView(e.buffer, e.byteOffset).getUint32(0)

test('an ack and the envelope its handler sent back share one socket write', async (t) => {
  const net = await createTestnet(t, { relays: 0, devices: 2 })
  const [a, b] = net.devices as [DeviceNode, DeviceNode]
  const toA = { peerId: a.peerId, addresses: a.addresses() }
  const toB = { peerId: b.peerId, addresses: b.addresses() }
  const gotByA: number[] = []
  a.onEnvelope(async (e) => { gotByA.push(indexOf(e)); return false })
  // The receipt's analogue: b answers each envelope with one of its own, sent before its handler resolves.
  b.onEnvelope(async (e) => { void b.deliver(toA, env(1000 + indexOf(e)), {}); return false })
  // Both deliver streams open on the one connection (b dials a once; a reuses it).
  assert.equal((await b.deliver(toA, env(0), {})).path, 'direct')
  assert.equal((await a.deliver({ peerId: b.peerId, addresses: [] }, env(1), {})).path, 'direct')
  await waitFor(() => gotByA.includes(1001) ? true : undefined, 'the first answer reaches a')
  const conns = b.libp2p.getConnections(a.libp2p.peerId)
  assert.equal(conns.length, 1, 'one connection between the two devices')

  // b's writes on its socket to a: the local port of that connection is b's side of it.
  const bPort = Number(a.libp2p.getConnections(b.libp2p.peerId)[0]?.remoteAddr.getComponents().find((c) => c.name === 'tcp')?.value)
  assert.ok(bPort > 0)
  const write = Socket.prototype.write // eslint-disable-line @typescript-eslint/unbound-method
  let bWrites = 0
  Socket.prototype.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
    if (this.localPort === bPort) bWrites++
    return write.apply(this, args)
  } as Socket['write']
  t.after(() => { Socket.prototype.write = write })
  const N = 5
  for (let i = 2; i < 2 + N; i++) {
    // One at a time, as a latency run sends: the answer and a's ack of it have come back before the next.
    assert.equal((await a.deliver(toB, env(i), {})).path, 'direct')
    await waitFor(() => gotByA.includes(1000 + i) ? true : undefined, `answer ${i} reaches a`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  Socket.prototype.write = write
  // Per envelope b writes its answer and its ack (and a's ack of the answer is a's write). Without the ack joining
  // the answer's write: 2 per envelope.
  assert.equal(bWrites, N, `one write per envelope from b (${bWrites} for ${N})`)
})
