// The first message after accepting an invite (issue 10, first.message): the invite's answer (the card that
// creates the contact at the inviter) is handed over before the text behind it, so the text goes direct at
// once. Raced to the connection, the text often arrived first, was refused (CARD_REQUIRED) and took the
// mailbox path instead. Real hosts (SQLCipher, libsignal, libp2p) and a real relay on loopback.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { person, startTestRelay, waitStates } from '../helpers/testnet.ts'

test('first message after accepting an invite: sent behind the answer, delivered direct, never refused for a missing card', { timeout: 90_000 }, async (t) => {
  const relay = await startTestRelay(t)
  const alice = await person(t, 'alice', { relays: [relay.addr] })
  for (const name of ['bob', 'carol', 'dave']) {
    const accepter = await person(t, name, { relays: [relay.addr] })
    const invite = await alice.m().createInvite()
    const contact = await accepter.m().acceptInvite(invite.link, { name: 'alice' })
    const sent = await accepter.m().send(contact.id, `hello from ${name}`)
    const [done] = await waitStates(accepter, contact.id, [sent.id], 'delivered', `${name} sees delivered`)
    // The first path sticks: 'mailbox' here means the direct attempt was refused or lost the race.
    assert.equal(done?.path, 'direct', `${name}'s first message took ${done?.path ?? 'no'} path`)
    await accepter.stop()
  }
})
