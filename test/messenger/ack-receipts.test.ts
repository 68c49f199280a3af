// /0m1/deliver/2.1.0 in the messenger, on real libp2p nodes on loopback with real SQLCipher stores and libsignal
// sessions: a direct text is 'delivered' by its deliver ack (the receiver seals and sends nothing back, the sender
// opens nothing), a sealed receipt still goes when the ratchet is due a turn (RATCHET_TURN_MS) and for mailbox
// copies and 2.0.0 peers, a blocked contact's text is only 'accepted', and a burst's acks share commits.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { Device } from '../../src/e2ee/device.ts'
import { History } from '../../src/messenger/history.ts'
import { cardAddresses, MessengerCore, RATCHET_TURN_MS } from '../../src/messenger/messenger.ts'
import type { DeliverOutcome, DeviceBatchPort, InboundMailbox, MailboxSessionPort, NetworkPort } from '../../src/messenger/ports.ts'
import type { MessageView, MessengerEvent, SettingsView } from '../../src/messenger/types.ts'
import { createDeviceNode, type DeviceNode } from '../../src/net/node.ts'
import type { Clock } from '../../src/platform/clock.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import type { Payload } from '../../src/wire/payload.ts'
import { DELIVER_PROTOCOL, DELIVER_PROTOCOL_2_0 } from '../../src/wire/deliver.ts'
import { countCommits, MemoryRelay } from '../helpers/two-messengers.ts'
import { waitFor } from '../helpers/wait.ts'

const RELAY = '/memory/relay'

/** The messenger's network port on a real device node; mailboxes on an in-memory relay. Counts what goes each way. */
class Port implements NetworkPort {
  readonly peerId: string
  /** Envelopes this side handed to the network, and those its handler got from it. */
  sent = 0
  received = 0
  /** Off: deliveries from this side fail (as for an unreachable contact), so texts go to the mailbox. */
  online = true
  constructor (readonly node: DeviceNode, readonly relay: MemoryRelay) { this.peerId = node.peerId }
  addresses (): string[] { return this.node.addresses() }
  onEnvelope (h: (envelope: Uint8Array, info: { path: 'direct' | 'relayed', ackReceipt: boolean, remotePeer: string }) => Promise<boolean>): void {
    this.node.onEnvelope(async (e, info) => { this.received++; return await h(e, info) })
  }

  async deliver (to: { peerId: string, addresses: string[] }, envelope: Uint8Array, o: { signal?: AbortSignal, onSent?: (path: 'direct' | 'relayed') => void }): Promise<DeliverOutcome> {
    if (!this.online) throw new Error('offline')
    this.sent++
    return await this.node.deliver(to, envelope, o)
  }

  async deposit (_relay: string, mailboxId: Uint8Array, envelope: Uint8Array): Promise<void> { this.relay.deposit(mailboxId, envelope) }
  async openMailbox (_relay: string, box: InboundMailbox): Promise<MailboxSessionPort> { return this.relay.session(box.mailboxId) }
}

interface End {
  readonly core: MessengerCore
  readonly device: Device
  readonly history: History
  readonly port: Port
  readonly contactId: string
  readonly commits: { readonly count: number, reset: () => void }
  /** Delivered receipts this side sealed: the message ids of each. */
  readonly receipts: string[][]
  readonly events: MessengerEvent[]
}

/** Counts the delivered receipts a device seals, by the payloads handed to its seal calls. */
function spyReceipts (device: Device): string[][] {
  const out: string[][] = []
  const note = (p: Payload): void => {
    if (p.kind === 'receipt' && p.type === 'delivered') out.push(p.ids.map((id) => Buffer.from(id).toString('hex')))
  }
  const batch = device.batch.bind(device)
  device.batch = async (fn, extra) => await batch(async (b) => await fn({
    open: b.open.bind(b),
    seal: async (contactId, payload, o) => { note(payload); return await b.seal(contactId, payload, o) }
  } satisfies DeviceBatchPort<Payload>), extra)
  const seal = device.seal.bind(device)
  device.seal = async (contactId, payload, o) => { note(payload); return await seal(contactId, payload, o) }
  return out
}

/** Alice and Bob, contacts, each a messenger on its own libp2p node. `bobNow`: Bob's clock. */
async function pair (t: { after: (fn: () => Promise<void>) => void }, o: { bobNow?: () => number, bobServes2_0Only?: boolean, aliceClock?: Clock, aliceCardPeerId?: (id: string) => string } = {}): Promise<{ a: End, b: End }> {
  const dir = mkdtempSync(join(tmpdir(), '0m1-ackr-'))
  const relay = new MemoryRelay()
  const settings: SettingsView = { relayOnly: false, lanDiscovery: false, fetchIsolation: 'device', relays: [RELAY] }
  const nodeA = await createDeviceNode({ listen: ['/ip4/127.0.0.1/tcp/0'], relays: [], logger: silentLogger })
  const nodeB = await createDeviceNode({ listen: ['/ip4/127.0.0.1/tcp/0'], relays: [], logger: silentLogger })
  if (o.bobServes2_0Only === true) await nodeB.libp2p.unhandle(DELIVER_PROTOCOL)
  const alice = await Device.create(join(dir, 'alice'), { name: 'alice', synchronous: 'NORMAL' })
  const bob = await Device.create(join(dir, 'bob'), { name: 'bob', synchronous: 'NORMAL' })
  const invite = await alice.createInvite({ relays: [RELAY], addresses: nodeA.addresses(), peerId: o.aliceCardPeerId?.(nodeA.peerId) ?? nodeA.peerId })
  const accepted = await bob.acceptInvite(invite.link, { card: { relays: [RELAY], addresses: nodeB.addresses(), peerId: nodeB.peerId } })
  const opened = await alice.openEnvelope(accepted.envelope)
  const end = (device: Device, node: DeviceNode, contactId: string, now?: () => number, clock?: Clock): End => {
    const receipts = spyReceipts(device)
    const port = new Port(node, relay)
    const history = new History(device.db, { searchIdleMs: false })
    // The card as already announced: no card goes out at start to blur what the tests count.
    history.setSetting('announced-card', JSON.stringify({ relays: [RELAY], addresses: cardAddresses(node.addresses()), peerId: node.peerId }))
    const core = new MessengerCore({ device, history, net: port, logger: silentLogger, settings: () => settings, ...(now !== undefined ? { now } : {}), ...(clock !== undefined ? { clock } : {}) })
    const events: MessengerEvent[] = []
    core.subscribe((e) => { events.push(e) })
    return { core, device, history, port, contactId, commits: countCommits(device.db), receipts, events }
  }
  const a = end(alice, nodeA, opened.contact.id, undefined, o.aliceClock)
  const b = end(bob, nodeB, accepted.contact.id, o.bobNow)
  await a.core.start()
  await b.core.start()
  t.after(async () => {
    await a.core.stop()
    await b.core.stop()
    await nodeA.stop()
    await nodeB.stop()
    alice.close()
    bob.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return { a, b }
}

async function outState (e: End, id: string): Promise<MessageView | undefined> {
  return (await e.core.messages(e.contactId)).find((m) => m.id === id)
}

async function delivered (e: End, id: string, what: string): Promise<MessageView> {
  return await waitFor(async () => {
    const m = (await e.core.messages(e.contactId)).find((x) => x.id === id)
    return m?.state === 'delivered' ? m : undefined
  }, what)
}

const statesOf = (e: End, id: string): string[] =>
  e.events.flatMap((ev) => ev.type === 'message-state' && ev.message.id === id ? [ev.message.state] : [])

test('a direct text is delivered by its ack: the receiver seals and sends nothing back, the sender opens nothing and never shows sent', async (t) => {
  const bobTime = Date.now()
  const { a, b } = await pair(t, { bobNow: () => bobTime })
  // The first message of a burst turns the ratchet: its sealed receipt comes too (see the next test).
  const first = await a.core.send(a.contactId, 'first')
  await delivered(a, first.id, 'the first is delivered')
  await waitFor(() => a.port.received === 1 ? true : undefined, 'the first one\'s turn receipt arrives')
  assert.deepEqual(b.receipts, [[first.id]])

  const sentBefore = b.port.sent
  const second = await a.core.send(a.contactId, 'second')
  const view = await delivered(a, second.id, 'the second is delivered')
  assert.equal(view.path, 'direct')
  assert.deepEqual(statesOf(a, second.id), ['delivered'], 'straight to delivered, no sent on the way')
  assert.deepEqual(b.receipts, [[first.id]], 'no receipt sealed for the second')
  assert.equal(b.port.sent, sentBefore, 'bob sent nothing back')
  assert.equal(a.port.received, 1, 'alice opened nothing for it: her session did not step for a receipt')
  assert.equal(await a.core.status().then((s) => s.outbox), 0, 'its outbox row is gone')
  assert.deepEqual((await b.core.messages(b.contactId)).map((m) => m.text), ['first', 'second'])
})

test('the ratchet turn: a message answered by ack after RATCHET_TURN_MS with nothing sealed to the contact gets a sealed receipt too; one right after does not', async (t) => {
  let bobTime = Date.now()
  const { a, b } = await pair(t, { bobNow: () => bobTime })
  const m1 = await a.core.send(a.contactId, 'one')
  await delivered(a, m1.id, 'one')
  assert.deepEqual(b.receipts, [[m1.id]], 'nothing sealed to alice yet: the first answer turns')
  const m2 = await a.core.send(a.contactId, 'two')
  await delivered(a, m2.id, 'two')
  assert.deepEqual(b.receipts, [[m1.id]], 'right after: the ack only')
  bobTime += RATCHET_TURN_MS - 1
  const m3 = await a.core.send(a.contactId, 'three')
  await delivered(a, m3.id, 'three')
  assert.deepEqual(b.receipts, [[m1.id]], 'just under the interval: the ack only')
  bobTime += 1
  const m4 = await a.core.send(a.contactId, 'four')
  await delivered(a, m4.id, 'four')
  assert.deepEqual(b.receipts, [[m1.id], [m4.id]], 'a turn after the interval')
  // Anything sealed to alice counts as a turn: a text of bob's now makes the next answer an ack only.
  bobTime += RATCHET_TURN_MS
  const reply = await b.core.send(b.contactId, 'reply')
  await delivered(b, reply.id, 'bob\'s reply')
  const m5 = await a.core.send(a.contactId, 'five')
  await delivered(a, m5.id, 'five')
  assert.deepEqual(b.receipts, [[m1.id], [m4.id]], 'bob\'s own text turned the ratchet')
})

test('a copy of a stored message on 2.1.0 is acked delivered (no sealed receipt); a blocked contact\'s text is acked accepted and stays not delivered', async (t) => {
  const bobTime = Date.now()
  const { a, b } = await pair(t, { bobNow: () => bobTime })
  const m1 = await a.core.send(a.contactId, 'one')
  await delivered(a, m1.id, 'one')
  const before = b.receipts.length
  // The same envelope again, as a re-send after a lost ack would be: the ack says delivered.
  let envelope: Uint8Array | undefined
  const deliver = a.port.node.deliver.bind(a.port.node)
  a.port.node.deliver = async (to, env, o) => { envelope = env; return await deliver(to, env, o) }
  const m2 = await a.core.send(a.contactId, 'two')
  await delivered(a, m2.id, 'two')
  assert.ok(envelope !== undefined)
  const again = await a.port.node.deliver({ peerId: b.port.peerId, addresses: b.port.addresses() }, envelope, {})
  assert.deepEqual(again, { path: 'direct', delivered: true })
  assert.equal(b.receipts.length, before, 'the copy was answered by its ack alone')
  assert.equal((await b.core.messages(b.contactId)).length, 2, 'stored once')

  await b.core.setBlocked(b.contactId, true)
  const outcomes: DeliverOutcome[] = []
  a.port.node.deliver = async (to, env, o) => { const r = await deliver(to, env, o); outcomes.push(r); return r }
  const m3 = await a.core.send(a.contactId, 'to a blocker')
  await waitFor(() => outcomes.length > 0 ? true : undefined, 'the text is acked')
  assert.deepEqual(outcomes, [{ path: 'direct', delivered: false }], 'acked accepted, not delivered')
  await waitFor(async () => (await outState(a, m3.id))?.state === 'sent' ? true : undefined, 'shown sent')
  assert.equal(b.receipts.length, before, 'no receipt for a blocked contact')
  assert.equal((await a.core.status()).outbox, 1, 'still waiting for a receipt')
})

test('a text drained from a mailbox still gets a sealed receipt', async (t) => {
  const bobTime = Date.now()
  const { a, b } = await pair(t, { bobNow: () => bobTime })
  const direct = await a.core.send(a.contactId, 'direct')
  await delivered(a, direct.id, 'the direct one (its receipt turns the ratchet)')
  await waitFor(() => a.port.received === 1 ? true : undefined, 'its turn receipt arrives')
  a.port.online = false
  const m = await a.core.send(a.contactId, 'by the mailbox')
  await waitFor(async () => (await b.core.messages(b.contactId)).length === 2 ? true : undefined, 'bob drains it')
  a.port.online = true
  await delivered(a, m.id, 'delivered by the sealed receipt')
  assert.deepEqual(b.receipts, [[direct.id], [m.id]], 'sealed although the ratchet just turned')
  assert.equal(a.port.received, 2, 'alice opened the receipt')
})

test('a 2.0.0-only receiver seals a receipt for every text, and texts still become delivered', async (t) => {
  const bobTime = Date.now()
  const { a, b } = await pair(t, { bobNow: () => bobTime, bobServes2_0Only: true })
  const ids: string[] = []
  for (const text of ['one', 'two', 'three']) {
    const m = await a.core.send(a.contactId, text)
    await delivered(a, m.id, text)
    ids.push(m.id)
  }
  assert.deepEqual(b.receipts.flat().sort(), [...ids].sort(), 'a sealed receipt for each, however close together')
  await waitFor(() => a.port.received >= 3 ? true : undefined, 'alice opens them')
  const protocols = a.port.node.libp2p.getConnections().flatMap((c) => c.streams).filter((s) => s.direction === 'outbound' && s.protocol.startsWith('/0m1/deliver/')).map((s) => s.protocol)
  assert.deepEqual(protocols, [DELIVER_PROTOCOL_2_0], 'alice fell back to 2.0.0')
  // The other way, bob's node offers 2.1.0 to alice's: acked delivered.
  const reply = await b.core.send(b.contactId, 'reply')
  await delivered(b, reply.id, 'bob\'s reply')
})

test('a burst of 64 texts in flight: the delivered acks are committed in far fewer commits than messages', async (t) => {
  const { a } = await pair(t)
  const N = 64
  a.commits.reset()
  const sent = await Promise.all(Array.from({ length: N }, async (_, i) => await a.core.send(a.contactId, `burst ${i}`)))
  for (const m of sent) await delivered(a, m.id, `burst ${m.seq}`)
  const commits = a.commits.count
  t.diagnostic(`${commits} commits at the sender for ${N} messages`)
  // One for the sealed burst, the rest for acks (a frame carries up to a window of them) and the turn receipt.
  assert.ok(commits < N / 2, `${commits} commits for ${N} messages`)
  for (const m of sent) assert.deepEqual(statesOf(a, m.id), ['delivered'])
})

test('a third node replaying a stored envelope gets accepted, not delivered, and cannot switch off the ratchet turn of the contact\'s next text', async (t) => {
  let bobTime = Date.now()
  const { a, b } = await pair(t, { bobNow: () => bobTime })
  const m1 = await a.core.send(a.contactId, 'one')
  await delivered(a, m1.id, 'one (its receipt turns the ratchet)')
  let envelope: Uint8Array | undefined
  const deliver = a.port.node.deliver.bind(a.port.node)
  a.port.node.deliver = async (to, env, o) => { envelope = env; return await deliver(to, env, o) }
  const m2 = await a.core.send(a.contactId, 'two')
  await delivered(a, m2.id, 'two')
  a.port.node.deliver = deliver
  assert.ok(envelope !== undefined)
  // Anyone holding the bytes (a mailbox relay keeps deposited copies, and knows bob's peer id as his circuit relay).
  const mallory = await createDeviceNode({ listen: ['/ip4/127.0.0.1/tcp/0'], relays: [], logger: silentLogger })
  t.after(async () => { await mallory.stop() })
  const to = { peerId: b.port.peerId, addresses: b.port.addresses() }
  for (let i = 0; i < 3; i++) {
    bobTime += RATCHET_TURN_MS
    assert.deepEqual(await mallory.deliver(to, envelope, {}), { path: 'direct', delivered: false }, `replay ${i}: no delivered receipt for a stranger`)
  }
  const sealedBefore = b.receipts.length
  const m3 = await a.core.send(a.contactId, 'three')
  await delivered(a, m3.id, 'three')
  await waitFor(() => b.receipts.length > sealedBefore ? true : undefined, 'a sealed receipt for three')
  assert.deepEqual(b.receipts.at(-1), [m3.id], 'the turn is still due: the replays sealed nothing after the first, so they did not count as turns')
  assert.equal((await b.core.messages(b.contactId)).length, 3, 'stored once')
  // Alice's own copy of a message stored before she was blocked: accepted, as it was answered before 2.1.0.
  await b.core.setBlocked(b.contactId, true)
  assert.deepEqual(await a.port.node.deliver(to, envelope, {}), { path: 'direct', delivered: false }, 'no delivered ack while blocked')
})

test('a copy from the contact answered by ack when a turn is due gets its sealed receipt, whatever the duplicate limit says', async (t) => {
  let bobTime = Date.now()
  const { a, b } = await pair(t, { bobNow: () => bobTime })
  const m1 = await a.core.send(a.contactId, 'one')
  await delivered(a, m1.id, 'one')
  let envelope: Uint8Array | undefined
  const deliver = a.port.node.deliver.bind(a.port.node)
  a.port.node.deliver = async (to, env, o) => { envelope = env; return await deliver(to, env, o) }
  const m2 = await a.core.send(a.contactId, 'two')
  await delivered(a, m2.id, 'two')
  assert.ok(envelope !== undefined)
  const to = { peerId: b.port.peerId, addresses: b.port.addresses() }
  for (let i = 1; i <= 2; i++) {
    bobTime += RATCHET_TURN_MS
    assert.deepEqual(await deliver(to, envelope, {}), { path: 'direct', delivered: true })
    await waitFor(() => b.receipts.length === 1 + i ? true : undefined, `copy ${i}: its turn receipt is sealed`)
  }
})

/** Makes each write transaction of the history fail as a full store would, after its body ran, while `fail()` says so. */
function failCommits (history: History, fail: () => boolean): { count: number } {
  const failures = { count: 0 }
  const transaction = history.transaction.bind(history)
  history.transaction = <T>(fn: () => T): T => transaction(() => {
    const r = fn()
    if (fail()) { failures.count++; throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }) }
    return r
  })
  return failures
}

test('an ack whose commit fails leaves the text queued with its outbox row, and tells nobody it was delivered', async (t) => {
  const bobTime = Date.now()
  const { a } = await pair(t, { bobNow: () => bobTime })
  const m1 = await a.core.send(a.contactId, 'one')
  await delivered(a, m1.id, 'one')
  await waitFor(() => a.port.received === 1 ? true : undefined, 'its turn receipt arrives')
  let failing = true
  const failures = failCommits(a.history, () => failing)
  const m2 = await a.core.send(a.contactId, 'two')
  await waitFor(() => failures.count > 0 ? true : undefined, 'the ack commit fails')
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(statesOf(a, m2.id), [], 'no delivered event for a rolled-back row')
  assert.equal((await outState(a, m2.id))?.state, 'queued')
  assert.equal((await a.core.status()).outbox, 1, 'its outbox row is kept')
  failing = false
})

test('a failing ack commit does not resend in a loop: the rows wait RECEIPT_RETRY_MS, then go again and are delivered', { timeout: 60_000 }, async (t) => {
  const bobTime = Date.now()
  const { a } = await pair(t, { bobNow: () => bobTime })
  const m1 = await a.core.send(a.contactId, 'one')
  await delivered(a, m1.id, 'one')
  await waitFor(() => a.port.received === 1 ? true : undefined, 'its turn receipt arrives')
  let failing = true
  const failures = failCommits(a.history, () => failing)
  const sentBefore = a.port.sent
  const m2 = await a.core.send(a.contactId, 'two')
  // The second attempt comes from the store (RECEIPT_WAIT_MS after the send), its time then past: without the hold
  // it went again at once, and again, each acked and failing.
  await waitFor(() => failures.count >= 2 ? true : undefined, 'the stored row\'s attempt fails too', 30_000)
  await new Promise((resolve) => setTimeout(resolve, 1_000))
  const sends = a.port.sent - sentBefore
  t.diagnostic(`${sends} sends, ${failures.count} failed commits`)
  assert.ok(sends <= 3, `${sends} sends while the commit fails`)
  failing = false
  await waitFor(async () => (await outState(a, m2.id))?.state === 'delivered' ? true : undefined, 'delivered once the store takes it', 30_000)
})

test('a wall clock set back does not stop the ratchet turns: the next message answered by ack gets a sealed receipt', async (t) => {
  let bobTime = Date.now()
  const { a, b } = await pair(t, { bobNow: () => bobTime })
  const m1 = await a.core.send(a.contactId, 'one')
  await delivered(a, m1.id, 'one')
  assert.deepEqual(b.receipts, [[m1.id]])
  bobTime -= 60 * 60_000
  const m2 = await a.core.send(a.contactId, 'two')
  await delivered(a, m2.id, 'two')
  await waitFor(() => b.receipts.length === 2 ? true : undefined, 'a turn receipt after the clock went back')
  assert.deepEqual(b.receipts, [[m1.id], [m2.id]])
  const m3 = await a.core.send(a.contactId, 'three')
  await delivered(a, m3.id, 'three')
  assert.deepEqual(b.receipts, [[m1.id], [m2.id]], 'then the interval counts from the new time')
})

test('the card\'s peer id is compared by the peer it names: written as a CID, the ack is still the receipt; a malformed one gets the sealed receipt', async (t) => {
  const bobTime = Date.now()
  // Alice's card gives her peer id as a CIDv1 (base32), another way to write the same id.
  const { a, b } = await pair(t, { bobNow: () => bobTime, aliceCardPeerId: (id) => peerIdFromString(id).toCID().toString() })
  const first = await a.core.send(a.contactId, 'first')
  await delivered(a, first.id, 'the first is delivered')
  await waitFor(() => a.port.received === 1 ? true : undefined, 'the first one\'s turn receipt arrives')
  const second = await a.core.send(a.contactId, 'second')
  await delivered(a, second.id, 'the second is delivered')
  assert.deepEqual(statesOf(a, second.id), ['delivered'], 'by the ack')
  assert.deepEqual(b.receipts, [[first.id]], 'no receipt sealed for the second')

  // A card id that names no peer: the ack never counts, each text gets its sealed receipt (by the mailbox: bob cannot
  // dial that id) and is still delivered.
  const { a: a2, b: b2 } = await pair(t, { bobNow: () => bobTime, aliceCardPeerId: (id) => `${id}!` })
  for (const text of ['one', 'two']) {
    const m = await a2.core.send(a2.contactId, text)
    await waitFor(() => b2.receipts.some((r) => r.includes(m.id)) ? true : undefined, `${text}: its receipt is sealed`)
    await delivered(a2, m.id, `${text} is delivered`)
  }
})

