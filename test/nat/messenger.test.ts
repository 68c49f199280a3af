// Real NAT with the product (issue 6): a relay (startRelay) on the public segment, two devices
// (createDeviceHost: messenger, e2ee, store, net) each behind its own masquerading router, in separate
// processes inside network namespaces (test/helpers/netns.ts).
// 1. They become contacts, exchange messages through the relay, DCUtR is attempted; the path of every
//    message is reported.
// 2. The relay goes away: messages wait in the outbox; the relay comes back: they go out.
// 3. Relay-only mode: the contact's side never learns the device's address (its TCP connections, its
//    stored record of the contact, the invite it was given).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { createNatTopology, requireNetns, type NatTopology } from '../helpers/netns.ts'
import { spawnChild, type Child } from '../helpers/procs.ts'
import { Device } from '../../src/e2ee/device.ts'
import { decodeInvite, linkToInvite } from '../../src/wire/invite.ts'
import { waitFor } from '../helpers/wait.ts'

const RELAY_PORT = 4001
/** Delivery through a relay after contact setup; generous for a 2-core CI box. */
const DELIVERY_MS = 60_000

interface Setup { topo: NatTopology, dir: string, relay: Child, relayAddr: string, a: Child, b: Child, aContact: string, bContact: string }

function startRelayIn (t: TestContext, topo: NatTopology, dir: string): Child {
  return spawnChild('test/chaos/fixtures/relay-proc.ts', { name: 'relay', wrap: topo.exec(topo.relay.ns), args: [join(dir, 'relay'), `/ip4/0.0.0.0/tcp/${RELAY_PORT}`], t })
}

async function setup (t: TestContext, o: { relayOnlyA?: boolean, env?: Record<string, string> } = {}): Promise<Setup> {
  const topo = createNatTopology(t)
  const dir = mkdtempSync(join(tmpdir(), '0m1-nat-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const relay = startRelayIn(t, topo, dir)
  const ready = await relay.waitEvent((e) => e.event === 'ready')
  const relayAddr = `/ip4/${topo.relay.address}/tcp/${RELAY_PORT}/p2p/${String(ready.peerId)}`
  const device = (name: string, ns: string): Child => spawnChild('test/chaos/fixtures/device-proc.ts', {
    name, wrap: topo.exec(ns), args: [join(dir, name), JSON.stringify({ name, listen: ['/ip4/0.0.0.0/tcp/0'], relays: [relayAddr] })], t, ...(o.env !== undefined ? { env: o.env } : {})
  })
  const a = device('A', topo.devices[0].ns)
  const b = device('B', topo.devices[1].ns)
  await Promise.all([a.waitEvent((e) => e.event === 'ready'), b.waitEvent((e) => e.event === 'ready')])
  if (o.relayOnlyA === true) await a.request('settings', { relayOnly: true })
  await waitCircuit(a)
  await waitCircuit(b)
  const invite = await a.request<{ link: string }>('invite')
  const bSide = await b.request<{ id: string }>('accept', { link: invite.link, name: 'A' })
  const aContact = await until(async () => (await a.request<Array<{ id: string }>>('contacts'))[0]?.id, DELIVERY_MS, 'A learns of B (B\'s first message carries its card)')
  return { topo, dir, relay, relayAddr, a, b, aContact, bContact: bSide.id }
}

async function waitCircuit (d: Child): Promise<string[]> {
  return await until(async () => {
    const s = await d.request<{ addresses: string[] }>('status')
    return s.addresses.some((x) => x.includes('/p2p-circuit')) ? s.addresses : undefined
  }, 30_000, `${d.name} gets a relay reservation`)
}

const until = async <T>(f: () => Promise<T | undefined>, ms: number, what: string): Promise<T> => await waitFor(f, what, ms)

async function sendAndDeliver (from: Child, to: Child, contactId: string, text: string): Promise<{ id: string, path: string }> {
  const sent = await from.request<{ id: string }>('send', { contactId, text })
  await to.waitEvent((e) => e.event === 'message' && e.id === sent.id, DELIVERY_MS)
  const st = await from.waitEvent((e) => e.event === 'state' && e.id === sent.id && e.state === 'delivered', DELIVERY_MS)
  return { id: sent.id, path: String(st.path) }
}

/** Remote addresses of the established TCP connections inside a namespace (what the OS sees). */
function tcpPeers (ns: string): string[] {
  const out = execFileSync('ip', ['netns', 'exec', ns, 'ss', '-tnH', 'state', 'established'], { encoding: 'utf8', timeout: 10_000 })
  return out.split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => f.length >= 4).map((f) => f[f.length - 1] as string)
}

test('nat: two devices behind separate NATs become contacts and talk through the relay; DCUtR attempted; path reported', { timeout: 240_000 }, async (t) => {
  if (!requireNetns(t)) return
  const s = await setup(t, { env: { DEBUG: 'libp2p:dcutr*' } })
  const paths: string[] = []
  for (let i = 0; i < 5; i++) {
    paths.push((await sendAndDeliver(s.b, s.a, s.bContact, `b->a ${i}`)).path)
    paths.push((await sendAndDeliver(s.a, s.b, s.aContact, `a->b ${i}`)).path)
  }
  // Give DCUtR (started by libp2p on the relayed connection) its time, then send again.
  await new Promise((resolve) => setTimeout(resolve, 8000))
  const later = [(await sendAndDeliver(s.a, s.b, s.aContact, 'after dcutr')).path, (await sendAndDeliver(s.b, s.a, s.bContact, 'after dcutr')).path]
  const aPeers = tcpPeers(s.topo.devices[0].ns)
  const bPeers = tcpPeers(s.topo.devices[1].ns)
  console.log(`nat(messenger): first 10 messages by path ${JSON.stringify(count(paths))}; after the DCUtR window ${JSON.stringify(count(later))}; ` +
    `A's TCP peers ${JSON.stringify(aPeers)}, B's TCP peers ${JSON.stringify(bPeers)}`)
  const dcutr = (s.a.stderr() + s.b.stderr()).split('\n').filter((l) => /libp2p:dcutr/.test(l))
  const outcome = dcutr.find((l) => /succeeded/.test(l)) ?? dcutr.findLast((l) => /attempt \d of \d|had no dialable|no multiaddrs/.test(l)) ?? dcutr.at(-1)
  console.log(`nat(messenger): DCUtR ${dcutr.length > 0 ? 'attempted' : 'NOT attempted'} (${dcutr.length} log lines); last word: ${(outcome ?? 'none').replace(/^\S+\s+/, '').slice(0, 160)}`)
  assert.ok(dcutr.length > 0, 'DCUtR runs on the relayed connection')
  // Through two NATs with no port mapping, nothing can be direct unless hole punching worked; every
  // direct-path claim must then be backed by a TCP connection to the other router.
  for (const p of [...paths, ...later]) assert.ok(['relayed', 'mailbox', 'direct'].includes(p), p)
  if ([...paths, ...later].includes('direct')) {
    assert.ok(aPeers.some((x) => x.startsWith(s.topo.routers[1].wan)) || bPeers.some((x) => x.startsWith(s.topo.routers[0].wan)), 'a direct path needs a punched TCP connection')
  }
  // Neither device ever has a TCP connection to the other's private address.
  assert.ok(!aPeers.some((x) => x.startsWith(s.topo.devices[1].address)))
  assert.ok(!bPeers.some((x) => x.startsWith(s.topo.devices[0].address)))
  await Promise.all([s.a.stop(), s.b.stop(), s.relay.stop()])
})

test('nat: with the relay gone, messages wait in the outbox; when it comes back they are delivered', { timeout: 300_000 }, async (t) => {
  if (!requireNetns(t)) return
  const s = await setup(t)
  await sendAndDeliver(s.a, s.b, s.aContact, 'warm-up')
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
    await s.a.waitEvent((e) => e.event === 'state' && e.id === id && e.state === 'delivered', 120_000)
  }
  const paths = sent.map((id) => String(s.a.events.findLast((e) => e.event === 'state' && e.id === id && e.state === 'delivered')?.path))
  console.log(`nat(outage): relay back; all 3 delivered ${Date.now() - t0} ms later, paths ${JSON.stringify(paths)}`)
  assert.equal((await s.a.request<{ outbox: number }>('status')).outbox, 0)
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
  console.log(`nat(relay-only): paths ${JSON.stringify(count(paths))}; B's TCP peers over the run ${JSON.stringify([...seen])}`)
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

function count (xs: readonly string[]): Record<string, number> {
  const o: Record<string, number> = {}
  for (const x of xs) o[x] = (o[x] ?? 0) + 1
  return o
}
