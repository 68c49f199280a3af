// Invite secrets are retired after the handshake (issue 9): the inviter's first card moves the contact to a
// fresh mailbox and fresh presence keys; the invite's mailbox is drained, then no longer fetched, then forgotten;
// presence records are signed per contact, bounded in time and cannot change which peer id a contact is.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { E2eeError } from '../../src/e2ee/errors.ts'
import { presenceDay, PRESENCE_UPDATED_AT_SKEW_MS, newPresenceKeys, sealPresence } from '../../src/e2ee/presence.ts'
import { join } from 'node:path'
import { Device, RETIRED_FETCH_GRACE_MS, RETIRED_KEEP_MS } from '../../src/e2ee/device.ts'
import { openEnvelope, readEnvelopeHeader } from '../../src/wire/envelope.ts'
import { WireError } from '../../src/wire/errors.ts'
import { decodeInvite, linkToInvite } from '../../src/wire/invite.ts'
import { ALICE_PEER_ID, pair, text } from './helpers.ts'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const HOUR = 3600_000

test('the inviter\'s first card moves the contact off the invite\'s mailbox; the old one is drained, then dropped', async (t) => {
  let now = 1_760_000_000_000
  const p = await pair(t, { now: () => now, inviterCard: false })
  const invite = decodeInvite(linkToInvite(p.invite)).record
  const inviteBox = hex(invite.mailboxId)
  const aliceSide = p.alice.contact(p.aliceToBob)
  assert.ok(aliceSide !== undefined)
  assert.notEqual(hex(aliceSide.myMailboxId), inviteBox, 'the contact got a fresh mailbox at the handshake')
  assert.equal(hex(p.bob.contact(p.bobToAlice)?.theirMailboxId ?? new Uint8Array()), inviteBox, 'before Alice\'s card, Bob writes to the invite\'s mailbox')

  // In flight: Bob writes before Alice's card reached him (sealed for the invite's mailbox).
  const early = await p.bob.seal(p.bobToAlice, text(1, 'before the card'))
  const late = await p.bob.seal(p.bobToAlice, text(2, 'also before the card, re-sent much later'))
  assert.equal(hex(readEnvelopeHeader(early).mailboxId), inviteBox)
  assert.equal((await p.alice.openEnvelope(early)).payload.kind, 'text', 'the retired mailbox still opens')
  const listed = (): Array<{ id: string, stopWhenEmpty: boolean }> => p.alice.inboundMailboxes().map((b) => ({ id: hex(b.mailboxId), stopWhenEmpty: b.stopWhenEmpty === true }))
  assert.deepEqual(listed().find((b) => b.id === inviteBox), { id: inviteBox, stopWhenEmpty: false }, 'still fetched until Bob is seen on the new one')

  // Alice's first card (the messenger sends it at once): Bob switches to her fresh mailbox.
  await p.bob.openEnvelope(await p.alice.seal(p.aliceToBob, p.alice.myCard(p.aliceToBob, { relays: [], addresses: [], peerId: ALICE_PEER_ID })))
  const bobSide = p.bob.contact(p.bobToAlice)
  assert.equal(hex(bobSide?.theirMailboxId ?? new Uint8Array()), hex(aliceSide.myMailboxId))
  const after = await p.bob.seal(p.bobToAlice, text(3, 'after the card'))
  assert.equal(hex(readEnvelopeHeader(after).mailboxId), hex(aliceSide.myMailboxId))
  // Whoever holds the invite has the old mailbox key: it opens nothing sent after the switch.
  assert.throws(() => openEnvelope(after, invite.mailboxKey), (e) => WireError.is(e, 'AUTH'))
  assert.equal((await p.alice.openEnvelope(after)).payload.kind, 'text')

  // Seen on the new mailbox: the old one is fetched for the grace, then until a drain finds it empty.
  assert.equal(listed().find((b) => b.id === inviteBox)?.stopWhenEmpty, false)
  now += RETIRED_FETCH_GRACE_MS + HOUR
  assert.equal(listed().find((b) => b.id === inviteBox)?.stopWhenEmpty, true)
  p.alice.retiredDrained(p.aliceToBob)
  assert.equal(listed().find((b) => b.id === inviteBox), undefined, 'no longer fetched from the relays')
  // A copy sealed before the switch and re-sent later (by another path) still opens.
  assert.equal((await p.alice.openEnvelope(late)).payload.kind, 'text')
  // Once a sender can no longer be re-sending, the key is forgotten.
  now += RETIRED_KEEP_MS
  assert.equal(listed().find((b) => b.id === inviteBox), undefined)
  await assert.rejects(p.alice.openEnvelope(early), (e) => E2eeError.is(e, 'UNKNOWN_MAILBOX'), 'the invite mailbox is forgotten')
  const stray = await p.bob.seal(p.bobToAlice, text(4, 'x'))
  assert.equal((await p.alice.openEnvelope(stray)).payload.kind, 'text', 'the current mailbox is untouched')
})

test('an invite carries no presence secret; presence is signed per contact and only the card\'s peer id counts', async (t) => {
  let now = 1_760_000_000_000
  const p = await pair(t, { now: () => now })
  const invite = decodeInvite(linkToInvite(p.invite)).record
  assert.ok(!('presenceSecret' in invite), 'nothing in the invite derives presence keys')
  const day = presenceDay(now)
  const me = { peerId: ALICE_PEER_ID, addresses: ['/ip4/192.0.2.9/tcp/4001'], updatedAt: now }
  assert.deepEqual(p.bob.openPresence(p.bobToAlice, day, p.alice.sealPresence(p.aliceToBob, day, me)), me)

  // Someone who learnt the presence secret (here: Bob's copy) but not Alice's signing key cannot forge.
  const secret = p.bob.contact(p.bobToAlice)?.theirPresenceSecret
  assert.ok(secret !== undefined)
  const forged = sealPresence(secret, day, { ...me, addresses: ['/ip4/203.0.113.66/tcp/4001'] }, newPresenceKeys().privateKey)
  assert.throws(() => p.bob.openPresence(p.bobToAlice, day, forged), (e) => E2eeError.is(e, 'BAD_PRESENCE'))
  // Even a genuinely signed record cannot make Alice another peer id.
  const otherPeer = p.alice.sealPresence(p.aliceToBob, day, { ...me, peerId: '12D3KooWSomebodyElse' })
  assert.throws(() => p.bob.openPresence(p.bobToAlice, day, otherPeer), (e) => E2eeError.is(e, 'BAD_PRESENCE') && /peer id/.test(e.message))
  // A record from the future is refused.
  const future = p.alice.sealPresence(p.aliceToBob, day, { ...me, updatedAt: now + PRESENCE_UPDATED_AT_SKEW_MS + 1 })
  assert.throws(() => p.bob.openPresence(p.bobToAlice, day, future), (e) => E2eeError.is(e, 'BAD_PRESENCE') && /future/.test(e.message))
  now += PRESENCE_UPDATED_AT_SKEW_MS
  assert.equal(p.bob.openPresence(p.bobToAlice, day, future).updatedAt, me.updatedAt + PRESENCE_UPDATED_AT_SKEW_MS + 1, 'fine once the clock caught up')
})

test('the presence keys a device holds for a contact survive a restart', async (t) => {
  const p = await pair(t)
  const day = presenceDay(Date.now())
  const me = { peerId: ALICE_PEER_ID, addresses: [], updatedAt: Date.now() }
  const sealed = p.alice.sealPresence(p.aliceToBob, day, me)
  p.bob.close()
  p.bob = await Device.open(join(p.dir, 'bob'))
  assert.deepEqual(p.bob.openPresence(p.bobToAlice, day, sealed), me)
})

test('someone else holding the invite cannot raise an "identity changed" warning through the retired mailbox', async (t) => {
  const p = await pair(t)
  const eve = await Device.create(join(p.dir, 'eve'), { name: 'Eve' })
  t.after(() => { eve.close() })
  // Eve answers the invite Bob already used: her sealed first message lands in Alice's retired invite mailbox.
  const { envelope } = await eve.acceptInvite(p.invite, { card: { relays: [], addresses: [] } })
  await assert.rejects(p.alice.openEnvelope(envelope), (e) => E2eeError.is(e, 'BAD_SENDER'))
  assert.equal(p.alice.contacts().length, 1, 'no contact added')
})
