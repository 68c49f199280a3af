// Proof that the namespace NAT is real and that bare libp2p crosses it: a circuit relay v2 server on
// the public segment, two devices each behind its own masquerading router, an echo through the relay,
// then a DCUtR attempt. Reports which path carried the bytes. No product code involved.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createNatTopology, probeTcp, requireNetns } from '../helpers/netns.ts'
import { spawnChild } from '../helpers/procs.ts'

const FIXTURE = 'test/nat/fixtures/raw-node.ts'
const RELAY_PORT = 4001
/** DCUtR's own budget is 3 tries of 5 s; this covers it with margin. */
const DCUTR_WAIT_MS = 20_000

test('raw libp2p: two devices behind separate NATs talk through a circuit relay; DCUtR attempted', { timeout: 120_000 }, async (t) => {
  if (!requireNetns(t)) return
  const topo = createNatTopology(t)
  const [d1, d2] = topo.devices

  // The NAT's shape, before libp2p: outbound is masqueraded, unsolicited inbound is dropped.
  assert.equal(await probeTcp(d1.ns, topo.relay.ns, topo.relay.address), d1.router.wan, 'relay must see the router, not the device')
  assert.equal(await probeTcp(d2.ns, d1.ns, d1.router.wan), undefined, 'unsolicited inbound must not cross the NAT')

  const env = { DEBUG: 'libp2p:dcutr*' }
  const relay = spawnChild(FIXTURE, { name: 'relay', wrap: topo.exec(topo.relay.ns), args: ['relay', String(RELAY_PORT)], env, t })
  const ready = await relay.waitEvent((e) => e.event === 'ready')
  const relayAddr = `/ip4/${topo.relay.address}/tcp/${RELAY_PORT}/p2p/${String(ready.peerId)}`
  const a = spawnChild(FIXTURE, { name: 'device1', wrap: topo.exec(d1.ns), args: ['device', relayAddr], env, t })
  const b = spawnChild(FIXTURE, { name: 'device2', wrap: topo.exec(d2.ns), args: ['device', relayAddr], env, t })
  const [aReady, bReady] = await Promise.all([a.waitEvent((e) => e.event === 'ready'), b.waitEvent((e) => e.event === 'ready')])
  const [, bAddrs] = await Promise.all([a.request<string[]>('reserved'), b.request<string[]>('reserved')])
  const bCircuit = bAddrs.find((m) => m.includes('/p2p-circuit'))
  assert.ok(bCircuit !== undefined, 'device2 has a circuit address')

  // The relay sees both devices from their routers' public addresses only.
  const relayConns = await relay.request<Array<{ peer: string, remoteAddr: string }>>('connections')
  for (const c of relayConns) {
    assert.ok(c.remoteAddr.includes(d1.router.wan) || c.remoteAddr.includes(d2.router.wan), `relay saw ${c.remoteAddr}`)
  }

  const first = await a.request<{ path: string, remoteAddr: string }>('echo', { to: bCircuit, bytes: 4096 })
  assert.equal(first.path, 'relayed', 'the first exchange goes through the relay')

  // DCUtR runs on its own once the relayed connection is up; give it its time, then echo again.
  // Stop waiting once DCUtR has given up (its last retry logged) or a direct connection exists.
  let upgraded = false
  const deadline = Date.now() + DCUTR_WAIT_MS
  while (Date.now() < deadline) {
    upgraded = await a.request<boolean>('awaitDirect', { peer: String(bReady.peerId), ms: 500 })
    if (upgraded || /attempt 3 of 3|succeeded/.test(a.stderr() + b.stderr())) break
  }
  const second = await a.request<{ path: string, remoteAddr: string }>('echo', { to: String(bReady.peerId), bytes: 4096 })
  const attempted = /dcutr/i.test(a.stderr() + b.stderr())
  const dcutrLines = (a.stderr() + b.stderr()).split('\n').filter((l) => /dcutr/i.test(l) && /fail|error|succeeded|no public|dialing/i.test(l))
  console.log(`nat(raw libp2p): first exchange path=${first.path}; DCUtR ${attempted ? 'attempted' : 'not attempted'}, upgraded=${upgraded}; second exchange path=${second.path} via ${second.remoteAddr}`)
  for (const l of dcutrLines.slice(0, 6)) console.log(`  dcutr: ${l.replace(/^\S+\s+/, '').slice(0, 200)}`)
  assert.equal(second.path, upgraded ? 'direct' : 'relayed')

  // Neither device saw the other's private address on any connection.
  const bConns = await b.request<Array<{ peer: string, remoteAddr: string }>>('connections')
  for (const c of bConns.filter((x) => x.peer === String(aReady.peerId))) {
    assert.ok(!c.remoteAddr.includes(d1.address), `device2 saw device1's private address: ${c.remoteAddr}`)
  }
  await Promise.all([a.stop(), b.stop(), relay.stop()])
})
