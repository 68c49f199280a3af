// Real NAT with the product (issue 6): a relay (startRelay) on the public segment, two devices
// (createDeviceHost: messenger, e2ee, store, net) each behind its own masquerading router, in separate
// processes inside network namespaces (test/helpers/netns.ts).
// 1. The relay goes away: messages wait in the outbox; the relay comes back: they go out. (One router
//    is symmetric, so no direct path can exist to carry them meanwhile.)
// 2. Relay-only mode: the contact's side never learns the device's address (its TCP connections, its
//    stored record of the contact, the invite it was given), no UDP packet (so no STUN request, no ICE
//    check) ever leaves the device's LAN, and the link never becomes direct.
// Hole punching through the NATs (direct paths, symmetric fallback): test/nat/holepunch.test.ts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { requireNetns } from '../helpers/netns.ts'
import { Device } from '../../src/e2ee/device.ts'
import { decodeInvite, linkToInvite } from '../../src/wire/invite.ts'
import { count, linkOf, sendAndDeliver, setup, startRelayIn, tcpPeers } from '../helpers/nat-messenger.ts'
import { waitFor } from '../helpers/wait.ts'

test('nat: with the relay gone, messages wait in the outbox; when it comes back they are delivered', { timeout: 300_000 }, async (t) => {
  if (!requireNetns(t)) return
  const s = await setup(t, { nat: ['symmetric', 'eim'] })
  await sendAndDeliver(s.a, s.b, s.aContact, 'warm-up')
  assert.equal(await linkOf(s.a), 'relayed', 'a symmetric NAT leaves only the relay')
  await s.relay.kill('SIGKILL')
  const sent: string[] = []
  for (let i = 0; i < 3; i++) sent.push((await s.a.request<{ id: string }>('send', { contactId: s.aContact, text: `while relay down ${i}` })).id)
  await new Promise((resolve) => setTimeout(resolve, 6000))
  const status = await s.a.request<{ outbox: number }>('status')
  const states = (await s.a.request<Array<{ id: string, state: string }>>('messages', { contactId: s.aContact })).filter((m) => sent.includes(m.id)).map((m) => m.state)
  console.log(`nat(outage): relay down 6 s: A's outbox holds ${status.outbox}, states ${JSON.stringify(states)}`)
  assert.ok(status.outbox >= 3, `outbox ${status.outbox}`)
  assert.ok(states.every((x) => x === 'queued' || x === 'sent'), JSON.stringify(states))
  assert.ok(!s.b.events.some((e) => e.event === 'message' && sent.includes(String(e.id))), 'nothing reached B without a relay')

  const relay2 = startRelayIn(t, s.topo, s.dir) // same data directory: same peer id, same address
  await relay2.waitEvent((e) => e.event === 'ready')
  const t0 = Date.now()
  for (const id of sent) {
    await s.b.waitEvent((e) => e.event === 'message' && e.id === id, 120_000)
    await s.a.waitEvent((e) => e.event === 'state' && e.id === id && e.state === 'delivered' && e.path !== undefined, 120_000)
  }
  const paths = sent.map((id) => String(s.a.events.findLast((e) => e.event === 'state' && e.id === id && e.state === 'delivered')?.path))
  console.log(`nat(outage): relay back; all 3 delivered ${Date.now() - t0} ms later, paths ${JSON.stringify(paths)}`)
  // The texts are delivered; a card A queued when its relay came back may still be on its way: the outbox empties.
  await waitFor(async () => (await s.a.request<{ outbox: number }>('status')).outbox === 0, 'A\'s outbox to empty', 60_000)
  await Promise.all([s.a.stop(), s.b.stop(), relay2.stop()])
})

test('nat: relay-only mode: the contact never sees the device\'s address', { timeout: 240_000 }, async (t) => {
  if (!requireNetns(t)) return
  const s = await setup(t, { relayOnlyA: true })
  const aPrivate = s.topo.devices[0].address
  const aPublic = s.topo.routers[0].wan
  const leaks = (xs: readonly string[]): string[] => xs.filter((x) => x.includes(aPrivate) || x.includes(aPublic))

  // What A hands out: its status and its invite carry circuit addresses only.
  const status = await s.a.request<{ addresses: string[] }>('status')
  assert.ok(status.addresses.length > 0 && status.addresses.every((x) => x.includes('/p2p-circuit')), JSON.stringify(status.addresses))
  const invite = decodeInvite(linkToInvite((await s.a.request<{ link: string }>('invite')).link))
  assert.deepEqual(leaks(invite.record.addresses), [])
  assert.ok(invite.record.addresses.every((x) => x.includes('/p2p-circuit')), JSON.stringify(invite.record.addresses))

  // Traffic both ways while B's TCP connections are sampled.
  const seen = new Set<string>()
  const sampler = setInterval(() => { for (const p of tcpPeers(s.topo.devices[1].ns)) seen.add(p) }, 200)
  t.after(() => { clearInterval(sampler) })
  const paths: string[] = []
  for (let i = 0; i < 4; i++) {
    paths.push((await sendAndDeliver(s.a, s.b, s.aContact, `ro a->b ${i}`)).path)
    paths.push((await sendAndDeliver(s.b, s.a, s.bContact, `ro b->a ${i}`)).path)
  }
  await new Promise((resolve) => setTimeout(resolve, 3000))
  clearInterval(sampler)
  const links = [await linkOf(s.a), await linkOf(s.b)]
  const udp = s.topo.udpOut(s.topo.routers[0])
  console.log(`nat(relay-only): paths ${JSON.stringify(count(paths))}; links ${JSON.stringify(links)}; UDP packets out of A's LAN ${udp}; B's TCP peers over the run ${JSON.stringify([...seen])}`)
  assert.ok(paths.every((p) => p === 'relayed' || p === 'mailbox'), JSON.stringify(paths))
  assert.deepEqual(links, ['relayed', 'relayed'], 'never direct')
  // ICE gathers with STUN requests (UDP) and its candidates carry the address: a device that never sent a
  // UDP packet gathered nothing to send. (A's libp2p has no WebRTC transport in relay-only mode.)
  assert.equal(udp, 0, 'no UDP packet left the relay-only device\'s LAN')
  assert.ok(seen.size > 0)
  for (const p of seen) assert.ok(p.startsWith(`${s.topo.relay.address}:`), `B had a TCP connection to ${p}, not the relay`)

  // What B stored about A (read from B's own encrypted store after it stopped).
  await s.b.stop()
  const bDevice = await Device.open(join(s.dir, 'B'), {})
  try {
    const rec = bDevice.contacts()[0]
    assert.ok(rec !== undefined)
    console.log(`nat(relay-only): B's record of A: ${rec.theirAddresses.length} addresses, all circuit: ${rec.theirAddresses.every((x) => x.includes('/p2p-circuit'))}`)
    assert.deepEqual(leaks(rec.theirAddresses), [])
  } finally {
    bDevice.close()
  }
  await Promise.all([s.a.stop(), s.relay.stop()])
})
