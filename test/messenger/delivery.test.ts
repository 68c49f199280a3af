// Multi-node delivery on loopback with real hosts (SQLCipher, libsignal, libp2p) and real relays.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createDeviceNode } from '../../src/net/node.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { createPeople, person, introduce, waitMessages, waitStates, type TestContext } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'

test('direct: two devices exchange messages, the path is direct, receipts turn them delivered', async (t) => {
  const { people: [alice, bob], contact } = await createPeople(t, { relays: 1, people: ['alice', 'bob'] })
  if (alice === undefined || bob === undefined) throw new Error('two people')
  const aToB = contact(alice, bob)
  const bToA = contact(bob, alice)

  const sent = []
  for (let i = 1; i <= 5; i++) sent.push(await alice.m().send(aToB, `hello bob ${i}`))
  const back = await bob.m().send(bToA, 'hello alice')
  const delivered = await waitStates(alice, aToB, sent.map((m) => m.id), 'delivered', 'alice sees delivered')
  assert.ok(delivered.every((m) => m.path === 'direct'), `paths: ${delivered.map((m) => m.path).join(',')}`)
  const got = await waitMessages(bob, bToA, 5, 'bob has 5')
  assert.deepEqual(got.map((m) => m.text), [1, 2, 3, 4, 5].map((i) => `hello bob ${i}`))
  assert.deepEqual(got.map((m) => m.seq), [1, 2, 3, 4, 5])
  await waitStates(bob, bToA, [back.id], 'delivered', 'bob sees delivered')
  const atAlice = await waitMessages(alice, aToB, 1, 'alice has 1')
  assert.equal(atAlice[0]?.text, 'hello alice')

  // Read receipts.
  await bob.m().markRead(bToA)
  await waitStates(alice, aToB, sent.map((m) => m.id), 'read', 'alice sees read')
  assert.equal((await alice.m().status()).outbox, 0)
})

test('relayed: both devices reachable only through relay reservations, messages flow both ways', async (t) => {
  const { people: [alice, bob], contact } = await createPeople(t, { relays: 2, people: ['alice', 'bob'], relayOnly: true })
  if (alice === undefined || bob === undefined) throw new Error('two people')
  const st = await alice.m().status()
  assert.ok(st.addresses.length > 0 && st.addresses.every((a) => a.includes('/p2p-circuit')), `addresses: ${st.addresses.join(' ')}`)
  const aToB = contact(alice, bob)
  const bToA = contact(bob, alice)
  const a1 = await alice.m().send(aToB, 'through the relay')
  const b1 = await bob.m().send(bToA, 'and back')
  const [da] = await waitStates(alice, aToB, [a1.id], 'delivered', 'alice delivered')
  const [db] = await waitStates(bob, bToA, [b1.id], 'delivered', 'bob delivered')
  assert.ok(da?.path === 'relayed' || da?.path === 'mailbox', `alice path ${da?.path}`)
  assert.ok(db?.path === 'relayed' || db?.path === 'mailbox', `bob path ${db?.path}`)
  assert.notEqual(da?.path, 'direct')
  assert.equal((await waitMessages(bob, bToA, 1, 'bob got'))[0]?.text, 'through the relay')
  assert.equal((await waitMessages(alice, aToB, 1, 'alice got'))[0]?.text, 'and back')
})

/** Two relays, alice and bob introduced, one message delivered (so each knows the other's card), then bob stops. */
async function bobGoesOffline (t: TestContext) {
  const { relays: [r1, r2], people: [alice, bob], contact } = await createPeople(t, { relays: 2, people: ['alice', 'bob'] })
  if (r1 === undefined || r2 === undefined || alice === undefined || bob === undefined) throw new Error('two relays, two people')
  const aToB = contact(alice, bob)
  const bToA = contact(bob, alice)
  const hello = await alice.m().send(aToB, 'before')
  await waitStates(alice, aToB, [hello.id], 'delivered', 'first delivered')
  await bob.stop()
  return { r1, r2, alice, bob, aToB, bToA }
}

test('offline: messages wait on two relays, the recipient drains them once and in order, relays delete their copies', async (t) => {
  const { r1, r2, alice, bob, aToB, bToA } = await bobGoesOffline(t)

  const ids: string[] = []
  for (let i = 1; i <= 10; i++) ids.push((await alice.m().send(aToB, `offline ${i}`)).id)
  await waitStates(alice, aToB, ids, 'stored', 'all stored on relays')
  const count = (r: typeof r1): number => Number(r.handle.db.prepare('SELECT count(*) AS n FROM envelopes').get()?.n)
  assert.ok(count(r1) >= 10, `relay 1 holds ${count(r1)}`)
  assert.ok(count(r2) >= 10, `relay 2 holds ${count(r2)}`)

  await bob.start()
  const got = await waitMessages(bob, bToA, 11, 'bob drains')
  assert.deepEqual(got.map((m) => m.text), ['before', ...ids.map((_, i) => `offline ${i + 1}`)])
  assert.equal(new Set(got.map((m) => m.id)).size, got.length, 'no duplicates')
  assert.ok(got.slice(1).every((m) => m.path === 'mailbox' || m.path === 'direct'))
  await waitStates(alice, aToB, ids, 'delivered', 'receipts reach alice')
  await waitFor(() => count(r1) === 0 && count(r2) === 0, 'relays deleted their copies')
  // Nothing shown twice even after a refetch.
  await new Promise((resolve) => setTimeout(resolve, 300))
  assert.equal((await bob.m().messages(bToA)).filter((m) => m.direction === 'in').length, 11)
})

test('one relay dead, the other restarts between deposit and fetch: nothing is lost', async (t) => {
  const { r1, r2, alice, bob, aToB, bToA } = await bobGoesOffline(t)
  await r1.stop()

  const ids: string[] = []
  for (let i = 1; i <= 5; i++) ids.push((await alice.m().send(aToB, `while r1 is dead ${i}`)).id)
  await waitStates(alice, aToB, ids, 'stored', 'stored on the live relay')
  await r2.restart()
  await bob.start()
  const got = await waitMessages(bob, bToA, 6, 'bob drains r2', 30_000)
  assert.deepEqual(got.slice(1).map((m) => m.text), ids.map((_, i) => `while r1 is dead ${i + 1}`))
  await waitStates(alice, aToB, ids, 'delivered', 'receipts reach alice', 30_000)
})

test('duplicates arriving by two paths (mailbox, then direct) are shown once and receipted again', async (t) => {
  const { relays: [r1], people: [alice, bob], contact } = await createPeople(t, { relays: 1, people: ['alice', 'bob'] })
  if (r1 === undefined || alice === undefined || bob === undefined) throw new Error('a relay, two people')
  const aToB = contact(alice, bob)
  const bToA = contact(bob, alice)
  const hello = await alice.m().send(aToB, 'before')
  await waitStates(alice, aToB, [hello.id], 'delivered', 'first delivered')
  await bob.stop()
  const m = await alice.m().send(aToB, 'once only')
  await waitStates(alice, aToB, [m.id], 'stored', 'stored on the relay')
  const row = r1.handle.db.prepare('SELECT envelope FROM envelopes').get()
  assert.ok(row !== undefined)
  const copy = new Uint8Array(row.envelope as Uint8Array)

  await bob.start()
  await waitMessages(bob, bToA, 2, 'bob drains the mailbox')
  // The same sealed envelope again, this time straight over the network from another node.
  const status = await bob.m().status()
  const courier = await createDeviceNode({ listen: ['/ip4/127.0.0.1/tcp/0'], relays: [], logger: silentLogger })
  t.after(async () => { await courier.stop() })
  const { path, delivered } = await courier.deliver({ peerId: status.peerId, addresses: [...status.addresses] }, copy, {})
  assert.equal(path, 'direct')
  // A copy of a message bob stored, on a 2.1.0 stream, but from a node that is not alice's: its ack says only
  // accepted (a replay by anyone holding the bytes is no delivered receipt), and alice gets a sealed one.
  assert.equal(delivered, false)
  // deliver() resolves only once bob's handler has stored (or dropped) the copy: no wait needed.
  const shown = (await bob.m().messages(bToA)).filter((x) => x.direction === 'in')
  assert.deepEqual(shown.map((x) => x.text), ['before', 'once only'])
  await waitStates(alice, aToB, [m.id], 'delivered', 'delivered')
})

test('a device that comes back on a new address tells its contacts inside the encryption', async (t) => {
  // No relays: the only way alice can reach bob again is the card bob sends with his new address.
  const alice = await person(t, 'alice', { relays: [] })
  let port = 0
  const bob = await person(t, 'bob', { relays: [], listen: () => [`/ip4/127.0.0.1/tcp/${port}`] })
  const { aToB, bToA } = await introduce(alice, bob)
  const first = await alice.m().send(aToB, 'first')
  await waitStates(alice, aToB, [first.id], 'delivered', 'first delivered')
  const before = (await bob.m().status()).addresses
  await bob.stop()
  port = 0
  await bob.start()
  const after = (await bob.m().status()).addresses
  assert.notDeepEqual(after, before, 'bob listens elsewhere now')
  const second = await alice.m().send(aToB, 'second')
  const [done] = await waitStates(alice, aToB, [second.id], 'delivered', 'second delivered at the new address', 30_000)
  assert.equal(done?.path, 'direct')
  assert.deepEqual((await waitMessages(bob, bToA, 2, 'bob has both')).map((m) => m.text), ['first', 'second'])
})

test('three people introduced pairwise in one call each reach the other two', async (t) => {
  const { people, contact } = await createPeople(t, { relays: 1, people: 3 })
  const [alice, bob, carol] = people
  if (alice === undefined || bob === undefined || carol === undefined) throw new Error('three people')
  const toAlice = await carol.m().send(contact(carol, alice), 'hi alice')
  const toBob = await carol.m().send(contact(carol, bob), 'hi bob')
  const fromBob = await bob.m().send(contact(bob, alice), 'bob here')
  assert.equal((await waitMessages(alice, contact(alice, carol), 1, 'alice hears carol'))[0]?.text, 'hi alice')
  assert.equal((await waitMessages(bob, contact(bob, carol), 1, 'bob hears carol'))[0]?.text, 'hi bob')
  assert.equal((await waitMessages(alice, contact(alice, bob), 1, 'alice hears bob'))[0]?.text, 'bob here')
  await waitStates(carol, contact(carol, alice), [toAlice.id], 'delivered', 'carol sees delivered to alice')
  await waitStates(carol, contact(carol, bob), [toBob.id], 'delivered', 'carol sees delivered to bob')
  await waitStates(bob, contact(bob, alice), [fromBob.id], 'delivered', 'bob sees delivered to alice')
})
