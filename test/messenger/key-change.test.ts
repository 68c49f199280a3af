// A contact reinstalls (issue 14 item 8), through real messenger hosts, a real relay, libsignal and
// SQLCipher: the new install's session start lands in the contact's mailbox, the change is stored on
// the contact (one warning naming it, nothing shown as a message), survives a restart, and only the
// user's accept re-pins the key and shows the held message; block drops it and later ones silently;
// an answered invite's mailbox raises nothing.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { Device } from '../../src/e2ee/device.ts'
import { E2eeError } from '../../src/e2ee/errors.ts'
import type { MessengerCore } from '../../src/messenger/messenger.ts'
import { createDeviceNode } from '../../src/net/node.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { DATABASE_FILE, openDatabase, resolveDatabaseKey } from '../../src/store/db.ts'
import { MIGRATIONS } from '../../src/store/schema.ts'
import { decodeInvite, linkToInvite } from '../../src/wire/invite.ts'
import { text } from '../e2ee/helpers.ts'
import { mailboxOf, reinstall, type Mailbox, type Reinstalled } from '../helpers/reinstall.ts'
import { person, startTestRelay, tempDir, waitMessages, type Person, type RelaySlot, type TestContext } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

interface Setup { relay: RelaySlot, alice: Person, aliceToBob: string, invite: string, into: Mailbox, bob2: Reinstalled }

/** Alice and Bob are introduced; Bob's install goes away and a new one writes to Alice's mailbox for Bob. */
async function bobReinstalls (t: TestContext): Promise<Setup> {
  const relay = await startTestRelay(t)
  const alice = await person(t, 'alice', { relays: [relay.addr] })
  const bob = await person(t, 'bob', { relays: [relay.addr] })
  const invite = (await alice.m().createInvite()).link
  const bobToAlice = (await bob.m().acceptInvite(invite, { name: 'alice' })).id
  const aliceToBob = (await waitFor(async () => (await alice.m().contacts()).find((c) => c.name === 'bob'), 'alice learns bob')).id
  // Bob's store, read beside his node: he writes to Alice's fresh mailbox once her first card reached him.
  const db = openDatabase({ path: join(bob.dir, DATABASE_FILE), key: resolveDatabaseKey(bob.dir, { create: false }), migrations: MIGRATIONS })
  const inviteBox = hex(decodeInvite(linkToInvite(invite)).record.mailboxId)
  const into = await waitFor(() => { const m = mailboxOf(db, bobToAlice, 'their'); return hex(m.mailboxId) !== inviteBox && m }, 'bob gets alice\'s card')
  db.close()
  await bob.stop()
  const fresh = (await alice.m().createInvite()).link
  const bob2 = await reinstall(tempDir(t, '0m1-bob2-'), 'bob2', fresh, into, { relays: [relay.addr], addresses: [] })
  t.after(() => { bob2.device.close() })
  return { relay, alice, aliceToBob, invite, into, bob2 }
}

test('a contact reinstalls: the change is stored with the contact, survives a restart, and accept shows the held message', async (t) => {
  const s = await bobReinstalls(t)
  const { alice, aliceToBob, bob2 } = s
  await alice.m().setVerified(aliceToBob, true)
  const hello = await bob2.seal(text(1, 'new phone, same Bob'))
  // Through the relay, as the new install would write.
  const node = await createDeviceNode({ listen: ['/ip4/127.0.0.1/tcp/0'], relays: [s.relay.addr], logger: silentLogger })
  t.after(async () => { await node.stop() })
  for (const e of [bob2.first, hello]) await node.deposit(s.relay.addr, s.into.mailboxId, e)

  const pending = await waitFor(async () => (await alice.m().contacts()).find((c) => c.id === aliceToBob && c.keyChange?.held === 2), 'the change is stored on bob')
  assert.equal(pending.keyChange?.state, 'pending')
  assert.equal(pending.verified, true, 'nothing changes before the user decides')
  const warnings = alice.events.filter((e) => e.type === 'warning')
  assert.equal(warnings.length, 1, 'one warning for the change, not one per message')
  assert.equal(warnings[0]?.type === 'warning' ? warnings[0].contactId : undefined, aliceToBob)
  assert.ok(alice.events.some((e) => e.type === 'contact' && e.contact.id === aliceToBob && e.contact.keyChange?.state === 'pending'), 'the UI learns it live')
  assert.deepEqual((await alice.m().messages(aliceToBob)).filter((m) => m.direction === 'in'), [], 'the held message is not shown')

  await alice.stop()
  await alice.start()
  const after = (await alice.m().contacts()).find((c) => c.id === aliceToBob)
  assert.deepEqual({ state: after?.keyChange?.state, held: after?.keyChange?.held }, { state: 'pending', held: 2 }, 'survives a restart')
  const compare = await alice.m().pendingSafetyNumber(aliceToBob)
  assert.equal(compare.digits, bob2.device.safetyNumber(bob2.device.contacts()[0]?.id ?? '').digits, 'the number to compare is the new install\'s')
  assert.notEqual(compare.digits, (await alice.m().safetyNumber(aliceToBob)).digits)

  const accepted = await alice.m().acceptKeyChange(aliceToBob, compare.digits)
  assert.equal(accepted.keyChange?.state, 'accepted')
  assert.equal(accepted.verified, false, 'a new key starts unverified')
  const got = await waitMessages(alice, aliceToBob, 1, 'the held message opens')
  assert.equal(got[0]?.text, 'new phone, same Bob')
  assert.equal((await alice.m().safetyNumber(aliceToBob)).digits, compare.digits)
  await waitFor(async () => (await alice.m().contacts()).find((c) => c.id === aliceToBob)?.keyChange?.held === 0, 'held envelopes released')
  // Alice's reply is sealed in the new session and stored for the new install's mailbox (from its card).
  const reply = await alice.m().send(aliceToBob, 'welcome back')
  await waitFor(async () => (await alice.m().messages(aliceToBob)).find((m) => m.id === reply.id && m.state === 'stored'), 'reply stored on the relay')
})

test('a key accepted just before a stop: the held message opens at the next start', async (t) => {
  const { alice, aliceToBob, bob2 } = await bobReinstalls(t)
  const core = alice.m() as MessengerCore
  for (const e of [bob2.first, await bob2.seal(text(1, 'held across a crash'))]) {
    await assert.rejects(core.receiveEnvelope(e, 'mailbox'), (err) => E2eeError.is(err, 'UNTRUSTED_IDENTITY'))
  }
  await alice.stop()
  // The device accepted, then the process ended before the messenger opened what was held.
  const device = await Device.open(alice.dir)
  await device.acceptKeyChange(aliceToBob, device.pendingSafetyNumber(aliceToBob).digits)
  assert.equal(device.acceptedHeld(aliceToBob).length, 2)
  device.close()
  await alice.start()
  const got = await waitMessages(alice, aliceToBob, 1, 'the held message opens at start')
  assert.equal(got[0]?.text, 'held across a crash')
  await waitFor(async () => (await alice.m().contacts()).find((c) => c.id === aliceToBob)?.keyChange?.held === 0, 'and is released')
})

test('block: the held message is dropped, and later ones under that key raise nothing', async (t) => {
  const { alice, aliceToBob, bob2 } = await bobReinstalls(t)
  const core = alice.m() as MessengerCore
  await assert.rejects(core.receiveEnvelope(bob2.first, 'mailbox'), (e) => E2eeError.is(e, 'UNTRUSTED_IDENTITY'))
  assert.equal((await alice.m().contacts()).find((c) => c.id === aliceToBob)?.keyChange?.state, 'pending')
  const compared = (await alice.m().pendingSafetyNumber(aliceToBob)).digits
  const blocked = await alice.m().blockKeyChange(aliceToBob, compared)
  assert.deepEqual({ state: blocked.keyChange?.state, held: blocked.keyChange?.held }, { state: 'blocked', held: 0 })
  await assert.rejects(alice.m().acceptKeyChange(aliceToBob, compared), (e) => E2eeError.is(e, 'NO_KEY_CHANGE'), 'a blocked key cannot be accepted later')

  const seen = alice.events.length
  for (let i = 1; i <= 3; i++) {
    await assert.rejects(core.receiveEnvelope(await bob2.seal(text(i, 'let me in')), 'mailbox'), (e) => E2eeError.is(e, 'BLOCKED_IDENTITY'))
  }
  assert.deepEqual(alice.events.slice(seen), [], 'no warning, no contact change')
  assert.deepEqual(await alice.m().messages(aliceToBob), [])
})

test('accept names the number the user compared: when Mallory\'s key replaced Bob\'s before the click, nothing is pinned and no message shows', async (t) => {
  const s = await bobReinstalls(t)
  const { alice, aliceToBob, bob2 } = s
  const core = alice.m() as MessengerCore
  const pinned = (await alice.m().safetyNumber(aliceToBob)).digits
  await assert.rejects(core.receiveEnvelope(bob2.first, 'mailbox'), (e) => E2eeError.is(e, 'UNTRUSTED_IDENTITY'))
  const seen = (await alice.m().pendingSafetyNumber(aliceToBob)).digits
  // Mallory holds Alice's mailbox key for Bob (from Bob's old device) and writes under her own key.
  const mallory = await reinstall(tempDir(t, '0m1-mallory-'), 'mallory', (await alice.m().createInvite()).link, s.into)
  t.after(() => { mallory.device.close() })
  await assert.rejects(core.receiveEnvelope(mallory.first, 'mailbox'), (e) => E2eeError.is(e, 'UNTRUSTED_IDENTITY'))
  await assert.rejects(core.receiveEnvelope(await mallory.seal(text(1, 'it is me, Bob')), 'mailbox'), (e) => E2eeError.is(e, 'UNTRUSTED_IDENTITY'))

  await assert.rejects(alice.m().acceptKeyChange(aliceToBob, seen), (e) => E2eeError.is(e, 'KEY_CHANGE_MOVED'))
  assert.equal((await alice.m().safetyNumber(aliceToBob)).digits, pinned, 'the old key is still pinned')
  const c = (await alice.m().contacts()).find((x) => x.id === aliceToBob)
  assert.deepEqual({ state: c?.keyChange?.state, held: c?.keyChange?.held }, { state: 'pending', held: 2 })
  assert.deepEqual(await alice.m().messages(aliceToBob), [], 'Mallory\'s message is not shown')
  const now = (await alice.m().pendingSafetyNumber(aliceToBob)).digits
  assert.equal(now, mallory.device.safetyNumber(mallory.device.contacts()[0]?.id ?? '').digits, 'the number to compare now is Mallory\'s')
  assert.notEqual(now, seen)
})

test('an answered invite\'s mailbox: a stranger\'s session start there raises nothing', async (t) => {
  const { alice, aliceToBob, invite } = await bobReinstalls(t)
  const eve = await reinstall(tempDir(t, '0m1-eve-'), 'eve', invite, { mailboxId: decodeInvite(linkToInvite(invite)).record.mailboxId, mailboxKey: decodeInvite(linkToInvite(invite)).record.mailboxKey })
  t.after(() => { eve.device.close() })
  const core = alice.m() as MessengerCore
  const seen = alice.events.length
  for (let i = 0; i < 3; i++) {
    await assert.rejects(core.receiveEnvelope(eve.first, 'mailbox'), (e) => E2eeError.is(e, 'BAD_SENDER') || E2eeError.is(e, 'UNKNOWN_MAILBOX'))
  }
  assert.deepEqual(alice.events.slice(seen), [], 'no warning, no contact event')
  const contacts = await alice.m().contacts()
  assert.equal(contacts.find((c) => c.id === aliceToBob)?.keyChange, undefined)
  assert.equal(contacts.length, 1, 'and no contact')
})
