// Deposits, presence and mailbox fetches travel under short-lived identities: what a relay sees on its connections
// never names the device's long-term peer id, changes with each rotation, and (isolation `contact`) differs per mailbox.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createTestnet } from '../helpers/testnet.ts'
import { makeMailboxKey } from '../helpers/mailbox-key.ts'
import { watchInbound, type SeenStream } from '../helpers/observer.ts'
import { waitFor } from '../helpers/wait.ts'
import { DHT_PROTOCOL } from '../../src/net/libp2p.ts'

const env = (n: number): Uint8Array => new Uint8Array(randomBytes(n))
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

test('a relay sees deposits from a short-lived peer id, never the depositor\'s long-term one, and a new one after rotation', async (t) => {
  const net = await createTestnet(t, { relays: 1, devices: 1 })
  const [sender] = net.devices
  const relay = net.relays[0]
  assert.ok(sender !== undefined && relay !== undefined)
  const box = makeMailboxKey()

  await sender.deposit(relay.addr, box.mailboxId, env(1024))
  await sender.deposit(relay.addr, box.mailboxId, env(1024))
  const before = relay.seen.filter((s) => s.op === 'deposit' && hex(s.mailboxId) === hex(box.mailboxId))
  assert.equal(before.length, 2)
  const first = before[0]?.remotePeer
  assert.ok(first !== undefined)
  assert.notEqual(first, sender.peerId, 'the deposit does not come from the long-term peer id')
  assert.equal(before[1]?.remotePeer, first, 'one identity per period: both deposits under it')
  assert.deepEqual(sender.shortLived().map((v) => v.peerId), [first])
  // The relay does know the long-term peer id (it holds its reservation), just not as a depositor.
  assert.ok(relay.handle.libp2p.getConnections().some((c) => c.remotePeer.toString() === sender.peerId))

  sender.rotateIdentities()
  await sender.deposit(relay.addr, box.mailboxId, env(1024))
  const after = relay.seen.filter((s) => s.op === 'deposit').at(-1)?.remotePeer
  assert.ok(after !== undefined)
  assert.notEqual(after, first, 'a rotation brings a new peer id')
  assert.notEqual(after, sender.peerId)
  assert.equal(relay.handle.store.usage(box.mailboxId).count, 3, 'nothing lost across the rotation')
})

test('identities rotate by age: a deposit after the maximum age uses a fresh peer id', async (t) => {
  const net = await createTestnet(t, { relays: 1, devices: 0 })
  const relay = net.relays[0]
  assert.ok(relay !== undefined)
  const sender = await net.addDevice({ identityMaxAgeMs: 300 })
  const box = makeMailboxKey()
  await sender.deposit(relay.addr, box.mailboxId, env(1024))
  await new Promise((resolve) => setTimeout(resolve, 400))
  await sender.deposit(relay.addr, box.mailboxId, env(1024))
  const peers = relay.seen.filter((s) => s.op === 'deposit').map((s) => s.remotePeer)
  assert.equal(peers.length, 2)
  assert.notEqual(peers[0], peers[1])
  assert.ok(!peers.includes(sender.peerId))
})

test('fetch isolation: `contact` fetches two mailboxes over two peer ids, `device` over one; neither is the long-term id', async (t) => {
  const net = await createTestnet(t, { relays: 1, devices: 0 })
  const relay = net.relays[0]
  assert.ok(relay !== undefined)
  const sessionPeers = async (mode: 'device' | 'contact'): Promise<{ peers: string[], longTerm: string }> => {
    const owner = await net.addDevice({ fetchIsolation: mode })
    const boxes = [makeMailboxKey(), makeMailboxKey()]
    const sessions = await Promise.all(boxes.map(async (b) => await owner.openMailbox(relay.addr, b)))
    const ids = new Set(boxes.map((b) => hex(b.mailboxId)))
    const peers = relay.seen.filter((s) => s.op === 'session' && ids.has(hex(s.mailboxId))).map((s) => s.remotePeer)
    assert.equal(peers.length, 2)
    for (const s of sessions) await s.close()
    return { peers, longTerm: owner.peerId }
  }
  const contact = await sessionPeers('contact')
  assert.notEqual(contact.peers[0], contact.peers[1], 'isolation contact: a different peer id per mailbox')
  assert.ok(!contact.peers.includes(contact.longTerm))
  const device = await sessionPeers('device')
  assert.equal(device.peers[0], device.peers[1], 'isolation device: one peer id for the device\'s mailboxes')
  assert.ok(!device.peers.includes(device.longTerm))
})

test('a rotation closes mailbox sessions; reopened, they use the new identity and still receive', async (t) => {
  const net = await createTestnet(t, { relays: 1, devices: 2 })
  const [sender, owner] = net.devices
  const relay = net.relays[0]
  assert.ok(sender !== undefined && owner !== undefined && relay !== undefined)
  const box = makeMailboxKey()
  const s1 = await owner.openMailbox(relay.addr, box)
  let closed = false
  s1.onClose(() => { closed = true })
  owner.rotateIdentities()
  await waitFor(() => closed, 'the old session to close')
  const s2 = await owner.openMailbox(relay.addr, box)
  const sessions = relay.seen.filter((s) => s.op === 'session').map((s) => s.remotePeer)
  assert.equal(sessions.length, 2)
  assert.notEqual(sessions[0], sessions[1])
  const e = env(1024)
  await sender.deposit(relay.addr, box.mailboxId, e)
  assert.deepEqual((await s2.fetchAll()).map((i) => i.envelope), [e])
})

test('DHT servers see presence puts and gets only from short-lived peer ids; the long-term ids never speak DHT', async (t) => {
  const net = await createTestnet(t, { relays: 2, devices: 2 })
  const [a, b] = net.devices
  assert.ok(a !== undefined && b !== undefined)
  const seen: SeenStream[] = []
  for (const r of net.relays) watchInbound(r.handle.libp2p, DHT_PROTOCOL, seen)
  const key = new Uint8Array(randomBytes(32))
  const value = env(200)
  await a.publishPresence(key, value)
  assert.deepEqual(await b.lookupPresence(key), value)
  assert.ok(seen.length > 0, 'the DHT servers were asked')
  const dhtPeers = new Set(seen.map((s) => s.remotePeer))
  for (const d of [a, b]) assert.ok(!dhtPeers.has(d.peerId), 'a long-term peer id never opens a DHT stream')
  const shortLived = new Set([...a.shortLived(), ...b.shortLived()].map((v) => v.peerId))
  for (const p of dhtPeers) assert.ok(shortLived.has(p), 'every DHT stream came from a short-lived identity')
})

test('relay-only: short-lived identities dial only the configured relays and still deposit and publish', async (t) => {
  const net = await createTestnet(t, { relays: 2, devices: 2, relayOnly: true })
  const [a, b] = net.devices
  const relay = net.relays[0]
  assert.ok(a !== undefined && b !== undefined && relay !== undefined)
  const box = makeMailboxKey()
  await a.deposit(relay.addr, box.mailboxId, env(1024))
  const key = new Uint8Array(randomBytes(32))
  await a.publishPresence(key, env(100))
  assert.ok((await b.lookupPresence(key)) !== undefined)
  const relayPeers = new Set(net.relays.map((r) => r.handle.peerId))
  const views = a.shortLived()
  assert.ok(views.length > 0)
  for (const v of views) {
    assert.notEqual(v.peerId, a.peerId)
    for (const p of v.connectedTo) assert.ok(relayPeers.has(p), 'a short-lived identity of a relay-only device is connected only to relays')
  }
  const ids = new Set(views.map((v) => v.peerId))
  const seenBy = relay.seen.filter((s) => s.op === 'deposit').map((s) => s.remotePeer)
  assert.ok(seenBy.length > 0 && seenBy.every((p) => ids.has(p)))
})
