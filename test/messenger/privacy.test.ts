// Issue 9 with real hosts and relays: what a relay sees of deposits and fetches, the invite's mailbox retired
// after the handshake without losing what was in flight, and fetch isolation as a setting.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { RETIRED_FETCH_GRACE_MS } from '../../src/e2ee/device.ts'
import { decodeInvite, linkToInvite } from '../../src/wire/invite.ts'
import { introduce, person, startTestRelay, waitMessages } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

test('invite answered while the inviter is offline: nothing in flight is lost, and then the contact writes to a fresh mailbox', async (t) => {
  const relay = await startTestRelay(t)
  const alice = await person(t, 'alice', { relays: [relay.addr] })
  const bob = await person(t, 'bob', { relays: [relay.addr] })
  const longTerm = new Set([(await alice.m().status()).peerId, (await bob.m().status()).peerId])
  const { link } = await alice.m().createInvite()
  const inviteMailbox = decodeInvite(linkToInvite(link)).record.mailboxId
  const inviteBox = hex(inviteMailbox)
  // Issue 14.2: the inviter's device opens a session on the new invite mailbox at once, so the relay counts it as
  // an owned mailbox (bulk quota, full lifetime) before the inviter goes offline.
  await waitFor(() => !relay.handle.admission.isGuest(inviteMailbox, Date.now()), 'the relay to know the invite mailbox\'s owner')
  await alice.stop()

  const contact = await bob.m().acceptInvite(link, { name: 'alice' })
  await bob.m().send(contact.id, 'sent before alice ever answered')
  await waitFor(() => relay.seen.filter((s) => s.op === 'deposit' && hex(s.mailboxId) === inviteBox).length >= 2, 'card and message deposited in the invite mailbox')
  assert.equal(relay.handle.store.guestBytes(), 0, 'the answer went into an owned mailbox, not under the guest quota')

  await alice.start()
  const aToB = await waitFor(async () => (await alice.m().contacts()).find((c) => c.name === 'bob')?.id, 'alice learns bob')
  await waitMessages(alice, aToB, 1, 'alice gets the message that waited in the invite mailbox')
  // Alice's first card (sent at once) moves Bob to her fresh mailbox; her outbox empties once Bob has it.
  // Bob's outbox must be empty too: the card makes Bob retry what waited for Alice, and his first message
  // (sealed to the invite's mailbox) may be on its way again until her receipt for it lands; stopping Alice
  // then would send that old copy to the invite's mailbox.
  await waitFor(async () => (await alice.m().status()).outbox === 0 && (await bob.m().status()).outbox === 0, 'alice\'s card reaches bob and her receipt reaches him', 30_000)
  await alice.stop()
  const before = relay.seen.length
  await bob.m().send(contact.id, 'after the switch')
  await waitFor(() => relay.seen.slice(before).some((s) => s.op === 'deposit'), 'bob deposits')
  const after = relay.seen.slice(before).filter((s) => s.op === 'deposit')
  assert.ok(after.every((s) => hex(s.mailboxId) !== inviteBox), 'nothing goes to the invite\'s mailbox after the switch')

  await alice.start()
  const got = await waitMessages(alice, aToB, 2, 'alice gets the message from her new mailbox')
  assert.deepEqual(got.map((m) => m.text), ['sent before alice ever answered', 'after the switch'])
  // No deposit or fetch on the relay ever came from a device's long-term peer id.
  assert.ok(relay.seen.length > 0)
  for (const s of relay.seen) assert.ok(!longTerm.has(s.remotePeer), `a ${s.op} from a long-term peer id`)
})

test('fetch isolation is a setting: with `contact`, a relay sees one peer id per mailbox of the device', async (t) => {
  const relay = await startTestRelay(t)
  const alice = await person(t, 'alice', { relays: [relay.addr] })
  const bob = await person(t, 'bob', { relays: [relay.addr] })
  const carol = await person(t, 'carol', { relays: [relay.addr] })
  const { bToA } = await introduce(alice, bob)
  const { bToA: cToA } = await introduce(alice, carol)
  assert.equal((await alice.m().status()).settings.fetchIsolation, 'device', 'the default')
  assert.equal((await alice.m().updateSettings({ fetchIsolation: 'contact' })).fetchIsolation, 'contact')
  const aliceId = (await alice.m().status()).peerId
  await waitFor(async () => (await bob.m().status()).outbox === 0 && (await carol.m().status()).outbox === 0, 'the cards are through', 30_000)
  await alice.stop()
  // While Alice is away, Bob and Carol each deposit into Alice's mailbox for them: that tells the test their ids.
  const since = relay.seen.length
  await bob.m().send(bToA, 'from bob')
  await carol.m().send(cToA, 'from carol')
  const boxes = await waitFor(() => {
    const ids = new Set(relay.seen.slice(since).filter((s) => s.op === 'deposit').map((s) => hex(s.mailboxId)))
    return ids.size >= 2 ? ids : undefined
  }, 'both deposits')
  const reopened = relay.seen.length
  await alice.start()
  assert.equal((await alice.m().status()).settings.fetchIsolation, 'contact', 'the setting survives a restart')
  const sessions = await waitFor(() => {
    const s = relay.seen.slice(reopened).filter((o) => o.op === 'session' && boxes.has(hex(o.mailboxId)))
    return new Set(s.map((o) => hex(o.mailboxId))).size >= 2 ? s : undefined
  }, 'alice opens both mailboxes')
  const peers = new Set(sessions.map((s) => s.remotePeer))
  assert.equal(peers.size, 2, 'a different peer id for each of alice\'s mailboxes')
  assert.ok(!peers.has(aliceId), 'never the long-term peer id')
  const aSide = await alice.m().contacts()
  for (const c of aSide) await waitMessages(alice, c.id, 1, `alice receives from ${c.name}`)
})

test('the invite\'s mailbox is fetched until the contact is on the new one plus the grace, then dropped from the relays once empty', async (t) => {
  const relay = await startTestRelay(t)
  let skew = 0
  const alice = await person(t, 'alice', { relays: [relay.addr], now: () => Date.now() + skew })
  const bob = await person(t, 'bob', { relays: [relay.addr] })
  const { link } = await alice.m().createInvite()
  const inviteBox = hex(decodeInvite(linkToInvite(link)).record.mailboxId)
  const bToA = (await bob.m().acceptInvite(link, { name: 'alice' })).id
  const aToB = await waitFor(async () => (await alice.m().contacts()).find((c) => c.name === 'bob')?.id, 'alice learns bob')
  await waitFor(async () => (await alice.m().status()).outbox === 0, 'alice\'s card reaches bob', 30_000)
  await bob.m().send(bToA, 'on the new mailbox')
  await waitMessages(alice, aToB, 1, 'alice sees bob on her new mailbox (the switch)')
  const sessionsOf = (from: number): number => relay.seen.slice(from).filter((s) => s.op === 'session' && hex(s.mailboxId) === inviteBox).length

  // Within the grace the invite's mailbox is still fetched (a restart reopens its session).
  await alice.stop()
  let from = relay.seen.length
  await alice.start()
  await waitFor(() => sessionsOf(from) > 0, 'the retired mailbox is still fetched during the grace')

  // After the grace: one more drain finds it empty, and from then on it is no longer fetched.
  skew = RETIRED_FETCH_GRACE_MS + 3600_000
  await alice.stop()
  from = relay.seen.length
  await alice.start()
  await waitFor(() => sessionsOf(from) > 0, 'a last drain of the retired mailbox')
  await alice.stop()
  from = relay.seen.length
  await alice.start()
  await bob.m().send(bToA, 'still arriving')
  await waitMessages(alice, aToB, 2, 'the contact\'s current mailbox still works')
  assert.equal(sessionsOf(from), 0, 'the invite\'s mailbox is no longer fetched from the relay')
})
