// Issue 13 chat features across real nodes: two device hosts (libp2p on loopback, SQLCipher, libsignal)
// and a relay holding their mailboxes. A reply, a deletion for everyone, an edit, a block and a revoked
// invite, each seen (or refused) on the other node.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MessengerError } from '../../src/messenger/errors.ts'
import { createPeople, person, waitMessages } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'

test('real nodes: reply, edit and delete for everyone reach the contact; a block keeps their messages out', async (t) => {
  const { people, contact } = await createPeople(t, { relays: 1, people: 2 })
  const [alice, bob] = people as [typeof people[0], typeof people[0]]
  const aToB = contact(alice, bob)
  const bToA = contact(bob, alice)
  const q = await alice.m().send(aToB, 'lunch at noon?')
  await waitMessages(bob, bToA, 1, 'bob gets the question')
  const r = await bob.m().send(bToA, 'yes!', { replyTo: q.id })
  const got = await waitFor(async () => (await alice.m().messages(aToB)).find((m) => m.id === r.id), 'alice gets the reply')
  assert.deepEqual(got.replyTo, { id: q.id, quote: 'lunch at noon?' })
  await alice.m().editMessage(aToB, q.id, 'lunch at one?')
  await waitFor(async () => (await bob.m().messages(bToA)).find((m) => m.id === q.id && m.text === 'lunch at one?' && m.editedAt !== undefined), 'bob sees the edit')
  await alice.m().deleteMessage(aToB, q.id, { forEveryone: true })
  await waitFor(async () => (await bob.m().messages(bToA)).find((m) => m.id === q.id && m.deleted === true && m.text === ''), 'bob sees it deleted')
  assert.equal((await bob.m().search('lunch')).length, 0)
  assert.equal((await bob.m().search('yes')).length, 1)
  // Alice blocks Bob: his next message is not stored or shown, and gets no delivered receipt.
  await alice.m().setBlocked(aToB, true)
  const spam = await bob.m().send(bToA, 'hello??')
  await waitFor(async () => (await bob.m().messages(bToA)).find((m) => m.id === spam.id && (m.state === 'sent' || m.state === 'stored')), 'bob hands it over')
  await alice.m().setBlocked(aToB, false)
  const after = await bob.m().send(bToA, 'still there?')
  await waitFor(async () => (await alice.m().messages(aToB)).find((m) => m.id === after.id), 'alice gets the message sent after unblocking')
  const aliceSees = await alice.m().messages(aToB)
  assert.equal(aliceSees.find((m) => m.id === spam.id), undefined, 'the message sent while blocked was never kept')
  assert.notEqual((await bob.m().messages(bToA)).find((m) => m.id === spam.id)?.state, 'delivered')
})

test('real nodes: a revoked invite is refused; the pending one is handed out again until answered', async (t) => {
  const { relays, people } = await createPeople(t, { relays: 1, people: 1, introduce: false })
  const alice = people[0] as typeof people[0]
  const carol = await person(t, 'carol', { relays: [relays[0]?.addr ?? ''] })
  const one = await alice.m().createInvite()
  assert.equal((await alice.m().createInvite()).link, one.link)
  const [pending] = await alice.m().pendingInvites()
  assert.ok(pending !== undefined)
  await alice.m().revokeInvite(pending.id)
  assert.deepEqual(await alice.m().pendingInvites(), [])
  // Carol can read the link (it is signed and not expired) but her first message is never accepted.
  const c = await carol.m().acceptInvite(one.link, { name: 'alice' })
  const hi = await carol.m().send(c.id, 'hi alice')
  // Her card and text reached the relay (or Alice's node, which refused them): Alice still has no contact.
  await waitFor(async () => (await carol.m().messages(c.id)).find((m) => m.id === hi.id && (m.state === 'stored' || m.state === 'sent')), 'carol hands it over')
  assert.deepEqual(await alice.m().contacts(), [])
  // A new invite works.
  const two = await alice.m().createInvite()
  assert.notEqual(two.link, one.link)
  const dave = await person(t, 'dave', { relays: [relays[0]?.addr ?? ''] })
  await dave.m().acceptInvite(two.link, { name: 'alice' })
  await waitFor(async () => (await alice.m().contacts()).find((x) => x.name === 'dave'), 'alice learns dave')
  assert.deepEqual(await alice.m().pendingInvites(), [])
})

test('real nodes: a short invite (at most 120 characters) expands to the same verified invite; a wrong key or a revoked one is refused clearly', async (t) => {
  const { relays, people } = await createPeople(t, { relays: 1, people: 1, introduce: false })
  const alice = people[0] as typeof people[0]
  const relay = relays[0] as (typeof relays)[0]
  const bob = await person(t, 'bob', { relays: [relay.addr] })
  const s = await alice.m().shortInvite()
  assert.ok(s.short.startsWith('0m1s:'))
  assert.ok(s.short.length <= 120, `${s.short.length} characters`)
  assert.equal((await alice.m().shortInvite()).short, s.short, 'the same pending invite keeps its short link')
  assert.equal(s.link, (await alice.m().createInvite()).link)
  // The relay holds it sealed: the invite's text is nowhere in its store.
  const stored = relay.handle.db.prepare('SELECT sealed FROM parked_invites').all()
  assert.equal(stored.length, 1)
  assert.ok(!Buffer.from(stored[0]?.sealed as Uint8Array).toString('latin1').includes(s.link.slice(10, 60)))
  // A wrong key: a clear refusal, nothing stored.
  const raw = Buffer.from(s.short.slice(5), 'base64url')
  raw[raw.length - 1] = (raw[raw.length - 1] as number) ^ 1
  await assert.rejects(bob.m().acceptInvite(`0m1s:${raw.toString('base64url')}`), (e) => MessengerError.is(e, 'SHORT_INVITE_KEY') && /copied wrong/.test(e.message))
  await assert.rejects(bob.m().acceptInvite(s.short.slice(0, 40)), (e) => MessengerError.is(e, 'SHORT_INVITE_KEY'))
  assert.deepEqual(await bob.m().contacts(), [])
  // The right link: the same invite, verified and accepted; Alice learns Bob.
  const c = await bob.m().acceptInvite(s.short, { name: 'alice' })
  assert.equal(c.name, 'alice')
  await waitFor(async () => (await alice.m().contacts()).find((x) => x.name === 'bob'), 'alice learns bob')
  // A revoked invite's short link: its parked copy is gone from the relay.
  const next = await alice.m().shortInvite()
  assert.notEqual(next.short, s.short)
  const [pending] = await alice.m().pendingInvites()
  assert.ok(pending !== undefined)
  await alice.m().revokeInvite(pending.id)
  const carol = await person(t, 'carol', { relays: [relay.addr] })
  await assert.rejects(carol.m().acceptInvite(next.short), (e) => MessengerError.is(e, 'SHORT_INVITE_GONE') && /revoked/.test(e.message))
})
