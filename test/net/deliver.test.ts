import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createTestnet } from '../helpers/testnet.ts'

test('direct: two devices exchange envelopes, path direct, ack after the handler', async (t) => {
  const net = await createTestnet(t, { relays: 1, devices: 2 })
  const [a, b] = net.devices
  assert.ok(a !== undefined && b !== undefined)
  const got: Array<{ env: Uint8Array, path: string, told: string[] }> = []
  // onSent tells the path before the receiver has the envelope (a receipt may overtake the ack).
  const told: string[] = []
  b.onEnvelope(async (env, info) => { got.push({ env, path: info.path, told: [...told] }); await new Promise((resolve) => setTimeout(resolve, 20)); return false })
  const env = new Uint8Array(randomBytes(1024))
  const { path } = await a.deliver({ peerId: b.peerId, addresses: b.addresses() }, env, { onSent: (p) => { told.push(p) } })
  assert.equal(path, 'direct')
  assert.deepEqual(got[0]?.told, ['direct'])
  assert.deepEqual(told, ['direct'])
  // resolved only after the handler resolved
  assert.equal(got.length, 1)
  assert.deepEqual(got[0]?.env, env)
  assert.equal(got[0]?.path, 'direct')
})

test('relayed: relayOnly devices reach each other only through relay circuits, both ways', async (t) => {
  const net = await createTestnet(t, { relays: 2, devices: 2, relayOnly: true })
  const [a, b] = net.devices
  assert.ok(a !== undefined && b !== undefined)
  for (const d of [a, b]) {
    assert.ok(d.addresses().length >= 2)
    assert.ok(d.addresses().every((x) => x.includes('/p2p-circuit')), 'relayOnly announces circuit addresses only')
  }
  const atA: Uint8Array[] = []
  const atB: Uint8Array[] = []
  a.onEnvelope(async (env, info) => { assert.equal(info.path, 'relayed'); atA.push(env); return false })
  b.onEnvelope(async (env, info) => { assert.equal(info.path, 'relayed'); atB.push(env); return false })
  const e1 = new Uint8Array(randomBytes(4096))
  const e2 = new Uint8Array(randomBytes(1024))
  const told: string[] = []
  assert.equal((await a.deliver({ peerId: b.peerId, addresses: b.addresses() }, e1, { onSent: (p) => { told.push(p) } })).path, 'relayed')
  assert.deepEqual(told, ['relayed'])
  assert.equal((await b.deliver({ peerId: a.peerId, addresses: a.addresses() }, e2, {})).path, 'relayed')
  assert.deepEqual(atB, [e1])
  assert.deepEqual(atA, [e2])
  // 2.1.0 on the circuit: the handler is told the stream can carry the receipt and who sent it, and its answer comes
  // back as the ack (the delivered receipt), end to end through the relay.
  b.onEnvelope(async (_env, info) => { assert.deepEqual(info, { path: 'relayed', ackReceipt: true, remotePeer: a.peerId }); return true })
  assert.deepEqual(await a.deliver({ peerId: b.peerId, addresses: b.addresses() }, new Uint8Array(randomBytes(512)), {}), { path: 'relayed', delivered: true })
  // no direct connection between the two devices ever existed
  for (const [x, y] of [[a, b], [b, a]] as const) {
    const conns = x.libp2p.getConnections().filter((c) => c.remotePeer.toString() === y.peerId)
    assert.ok(conns.every((c) => c.remoteAddr.toString().includes('/p2p-circuit')))
  }
})

test('deliver: a throwing handler gives REJECTED (no other path tried); a stopped peer gives UNREACHABLE', async (t) => {
  const { NetError } = await import('../../src/net/errors.ts')
  const net = await createTestnet(t, { relays: 1, devices: 2 })
  const [a, b] = net.devices
  assert.ok(a !== undefined && b !== undefined)
  let calls = 0
  b.onEnvelope(async () => { calls++; throw new Error('cannot decrypt') })
  const to = { peerId: b.peerId, addresses: b.addresses() }
  await assert.rejects(a.deliver(to, new Uint8Array(1024), {}), (err) => NetError.is(err, 'REJECTED'))
  assert.equal(calls, 1)
  await b.stop()
  await assert.rejects(a.deliver(to, new Uint8Array(1024), {}), (err) => NetError.is(err, 'UNREACHABLE'))
})
