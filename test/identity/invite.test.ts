import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { Device } from '../../src/e2ee/device.ts'
import { E2eeError } from '../../src/e2ee/errors.ts'
import { IdentityError } from '../../src/identity/errors.ts'
import { INVITE_PREFIX, INVITE_VERSION, MAX_INVITE_BYTES, decodeInvite, encodeSignedInvite, inviteToLink, linkToInvite } from '../../src/wire/invite.ts'
import { tempDir, text } from '../e2ee/helpers.ts'

const card = { relays: [], addresses: [] }

async function devices (t: { after: (fn: () => void) => void }, names: string[]): Promise<Device[]> {
  const dir = tempDir(t)
  const out: Device[] = []
  for (const n of names) out.push(await Device.create(join(dir, n), { name: n }))
  t.after(() => { for (const d of out) d.close() })
  return out
}

function nothingStored (d: Device): void {
  assert.equal(d.contacts().length, 0)
  for (const table of ['signal_sessions', 'signal_identities', 'contacts']) {
    assert.equal(d.db.prepare(`SELECT count(*) AS n FROM ${table}`).get()?.n, 0, `${table} must stay empty`)
  }
}

test('an invite is one line, distinct each time, and decodes to what was put in', async (t) => {
  const [alice] = await devices(t, ['alice'])
  assert.ok(alice !== undefined)
  const a = await alice.createInvite({ relays: ['/dns4/r1/tcp/4001'], addresses: ['/ip4/127.0.0.1/tcp/9'], peerId: '12D3KooWtest', expiresInMs: 3_600_000 })
  const b = await alice.createInvite({ relays: [], addresses: [] })
  assert.ok(a.link.startsWith(INVITE_PREFIX))
  assert.match(a.link, /^0m1:[A-Za-z0-9_-]+$/)
  assert.notEqual(a.link, b.link)
  const ia = decodeInvite(linkToInvite(a.link))
  const ib = decodeInvite(linkToInvite(b.link))
  assert.notEqual(ia.record.preKeyId, ib.record.preKeyId)
  assert.notEqual(ia.record.kyberPreKeyId, ib.record.kyberPreKeyId)
  assert.notDeepEqual(ia.record.mailboxId, ib.record.mailboxId)
  assert.deepEqual(ia.record.relays, ['/dns4/r1/tcp/4001'])
  assert.equal(ia.record.peerId, '12D3KooWtest')
  assert.equal(ia.record.displayName, 'alice')
  assert.equal(ia.record.expiresAt, a.expiresAt)
  assert.equal(inviteToLink(encodeSignedInvite(ia)), a.link)
  assert.equal(alice.inboundMailboxes().filter((m) => m.pending).length, 2)
})

test('tampered, truncated, wrong-version, oversized or foreign invites are refused with a sentence; nothing stored', async (t) => {
  const [alice, bob] = await devices(t, ['alice', 'bob'])
  assert.ok(alice !== undefined && bob !== undefined)
  const { link } = await alice.createInvite({ relays: ['/dns4/r1/tcp/4001'], addresses: [] })
  const bytes = linkToInvite(link)
  const refuse = async (l: string, code?: string): Promise<void> => {
    await assert.rejects(bob.acceptInvite(l, { card }), (err) => {
      assert.ok(IdentityError.is(err), String(err))
      if (code !== undefined) assert.equal(err.code, code)
      assert.match(err.message, /^[A-Z].*\.$/)
      // A sentence for a person: no field names of the format, no version numbers.
      assert.doesNotMatch(err.message, /Kyber|prekey|format version|\(in |bytes/, err.message)
      return true
    })
  }
  // A flipped bit in every byte.
  for (let i = 0; i < bytes.length; i++) {
    const bad = Uint8Array.from(bytes)
    bad[i] = (bad[i] as number) ^ (1 << (i % 8))
    await refuse(inviteToLink(bad))
  }
  for (const n of [0, 1, 10, 100, 1000, bytes.length - 1]) await refuse(inviteToLink(bytes.subarray(0, n)), n === 0 ? 'INVITE_TRUNCATED' : undefined)
  await refuse(inviteToLink(bytes.subarray(0, bytes.length - 64)), 'INVITE_TRUNCATED')
  await refuse(link.slice(0, link.length - 10))
  const v2 = Uint8Array.from(bytes)
  v2[0] = 3
  await refuse(inviteToLink(v2), 'INVITE_VERSION')
  await refuse(inviteToLink(new Uint8Array([INVITE_VERSION, ...new Uint8Array(MAX_INVITE_BYTES)])), 'INVITE_TOO_LARGE')
  await refuse(INVITE_PREFIX + 'A'.repeat(20_000), 'INVITE_TOO_LARGE')
  await refuse(inviteToLink(new Uint8Array([...bytes, 0])), 'INVITE_MALFORMED')
  await refuse('https://example.com/not-an-invite', 'INVITE_MALFORMED')
  await refuse(link.replace('0m1:', '0m1:*'), 'INVITE_MALFORMED')
  // Garbage that decodes to an unknown version byte is not "made by another version".
  await refuse('0m1:AAAAAAAA', 'INVITE_MALFORMED')
  await refuse('0m1:broken', 'INVITE_MALFORMED')
  const v1 = Uint8Array.from(bytes)
  v1[0] = 1
  await refuse(inviteToLink(v1), 'INVITE_VERSION')
  nothingStored(bob)
  // The genuine one still works, copy/paste line breaks included.
  const ok = await bob.acceptInvite(link.slice(0, 100) + '\n' + link.slice(100) + '  ', { card })
  assert.equal(ok.contact.name, 'alice')
})

test("an invite's one-time prekey is spent once: a second accepter cannot take over the contact", async (t) => {
  const [alice, bob, mallory] = await devices(t, ['alice', 'bob', 'mallory'])
  assert.ok(alice !== undefined && bob !== undefined && mallory !== undefined)
  const { link } = await alice.createInvite({ relays: [], addresses: [] })
  const preKeyId = decodeInvite(linkToInvite(link)).record.preKeyId
  const fromBob = await bob.acceptInvite(link, { card })
  const fromMallory = await mallory.acceptInvite(link, { card })
  const opened = await alice.openEnvelope(fromBob.envelope)
  assert.equal(opened.newContact, true)
  assert.equal(opened.contact.accountId, bob.accountId)
  assert.equal(alice.db.prepare('SELECT count(*) AS n FROM signal_prekeys WHERE id = ?').get([preKeyId])?.n, 0)
  assert.equal(alice.inboundMailboxes().filter((m) => m.pending).length, 0)
  // The invite's mailbox is retired once Bob's card is in: Mallory's copy is a stranger's message there, dropped quietly.
  await assert.rejects(alice.openEnvelope(fromMallory.envelope), (err) => E2eeError.is(err, 'BAD_SENDER'))
  assert.equal(alice.contacts().length, 1)
})

test('a message that overtakes the contact card is CARD_REQUIRED, stores nothing, and opens after the card', async (t) => {
  const [alice, bob] = await devices(t, ['alice', 'bob'])
  assert.ok(alice !== undefined && bob !== undefined)
  const { link } = await alice.createInvite({ relays: [], addresses: [] })
  const first = await bob.acceptInvite(link, { card })
  const m = text(1, 'overtaking')
  const second = await bob.seal(first.contact.id, m)
  assert.equal(second.length, 4096) // still a sealed PreKey message
  await assert.rejects(alice.openEnvelope(second), (err) => E2eeError.is(err, 'CARD_REQUIRED'))
  nothingStored(alice)
  assert.equal((await alice.openEnvelope(first.envelope)).newContact, true)
  const got = await alice.openEnvelope(second)
  assert.equal(got.newContact, false)
  assert.deepEqual(got.payload, m)
  // Alice's reply confirms the session: Bob's next message is a plain (small) one.
  await bob.openEnvelope(await alice.seal(got.contact.id, text(1, 'ack')))
  assert.equal((await bob.seal(first.contact.id, text(2, 'short'))).length, 1024)
})

test('an unknown mailbox and a foreign device are typed errors', async (t) => {
  const [alice, bob, carol] = await devices(t, ['alice', 'bob', 'carol'])
  assert.ok(alice !== undefined && bob !== undefined && carol !== undefined)
  const { link } = await alice.createInvite({ relays: [], addresses: [] })
  const first = await bob.acceptInvite(link, { card })
  await assert.rejects(carol.openEnvelope(first.envelope), (err) => E2eeError.is(err, 'UNKNOWN_MAILBOX'))
  await assert.rejects(alice.seal('no-such-contact', text(1, 'x')), (err) => E2eeError.is(err, 'UNKNOWN_CONTACT'))
})
