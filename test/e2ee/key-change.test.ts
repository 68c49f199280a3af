// A contact's identity key that changes (issue 14 item 8), on real libsignal and SQLCipher: the change
// is stored on the contact with its envelopes held, survives a restart, and nothing opens until the user
// accepts (re-pinned, unverified, the held envelopes open) or blocks (dropped, later ones silently).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { Device, IdentityChangedError, MAX_HELD_ENVELOPES } from '../../src/e2ee/device.ts'
import { E2eeError } from '../../src/e2ee/errors.ts'
import { accountIdFromIdentityKey } from '../../src/identity/account-id.ts'
import { mailboxOf, reinstall, type Reinstalled } from '../helpers/reinstall.ts'
import { pair, text, type Pair } from './helpers.ts'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const NET = { relays: ['/ip4/127.0.0.1/tcp/4001/p2p/relayA'], addresses: [] }

/** Bob reinstalls: a new account answers a fresh (unanswered) invite of Alice's and writes to Alice's mailbox for Bob. */
async function bobReinstalls (p: Pair, name = 'bob2'): Promise<Reinstalled> {
  const invite = await p.alice.createInvite(NET)
  const r = await reinstall(p.dir, name, invite.link, mailboxOf(p.alice.db, p.aliceToBob, 'my'))
  return r
}

const changed = (fresh: boolean) => (e: unknown): boolean => e instanceof IdentityChangedError && E2eeError.is(e, 'UNTRUSTED_IDENTITY') && e.fresh === fresh

test('a contact reinstalls: the change is stored with the contact and survives a restart; accept re-pins and the held messages open', async (t) => {
  const p = await pair(t)
  const oldKey = hex(p.alice.contact(p.aliceToBob)?.identityKey ?? new Uint8Array())
  p.alice.setVerified(p.aliceToBob, true)
  const bob2 = await bobReinstalls(p)
  t.after(() => { bob2.device.close() })
  const hello = await bob2.seal(text(1, 'new phone, same Bob'))

  await assert.rejects(p.alice.openEnvelope(bob2.first), changed(true), 'the first envelope under the new key starts the change')
  await assert.rejects(p.alice.openEnvelope(hello), changed(false), 'later ones are held under it')
  await assert.rejects(p.alice.openEnvelope(hello), changed(false), 'a copy is not held twice')
  let c = p.alice.contact(p.aliceToBob)
  assert.equal(c?.keyChange?.state, 'pending')
  assert.equal(c?.keyChange?.held, 2)
  assert.equal(hex(c?.identityKey ?? new Uint8Array()), oldKey, 'nothing is accepted without the user')
  assert.equal(c?.verified, true)
  const before = p.alice.safetyNumber(p.aliceToBob).digits
  const compare = p.alice.pendingSafetyNumber(p.aliceToBob)
  assert.notEqual(compare.digits, before, 'the new safety number is another')
  assert.equal(compare.digits, bob2.device.safetyNumber(bob2.device.contacts()[0]?.id ?? '').digits, 'and it is the one the new install shows')

  // Restart: the change and the held envelopes are in the store.
  p.alice.close()
  p.alice = await Device.open(join(p.dir, 'alice'))
  c = p.alice.contact(p.aliceToBob)
  assert.deepEqual({ state: c?.keyChange?.state, held: c?.keyChange?.held }, { state: 'pending', held: 2 })
  assert.deepEqual(p.alice.acceptedHeld(p.aliceToBob), [], 'nothing to open before the user accepts')

  // The number as the user compared it, in its groups of five: spaces do not matter.
  await p.alice.acceptKeyChange(p.aliceToBob, (compare.digits.match(/.{5}/g) ?? []).join(' '))
  c = p.alice.contact(p.aliceToBob)
  assert.equal(hex(c?.identityKey ?? new Uint8Array()), hex(bob2.device.identityKey()), 're-pinned')
  assert.equal(c?.accountId, accountIdFromIdentityKey(bob2.device.identityKey()))
  assert.equal(c?.verified, false, 'a new key is not verified')
  assert.equal(c?.keyChange?.state, 'accepted')
  assert.equal(p.alice.safetyNumber(p.aliceToBob).digits, compare.digits)
  assert.throws(() => p.alice.pendingSafetyNumber(p.aliceToBob), (e) => E2eeError.is(e, 'NO_KEY_CHANGE'))

  const held = p.alice.acceptedHeld(p.aliceToBob)
  assert.equal(held.length, 2)
  const kinds = []
  for (const e of held) kinds.push((await p.alice.openEnvelope(e)).payload)
  assert.equal(kinds[0]?.kind, 'card')
  assert.equal(kinds[1]?.kind === 'text' ? kinds[1].text : '', 'new phone, same Bob')
  p.alice.releaseHeld(p.aliceToBob)
  assert.equal(p.alice.contact(p.aliceToBob)?.keyChange?.held, 0)
  assert.deepEqual(p.alice.acceptedHeld(p.aliceToBob), [])

  // The new session works both ways: Alice's reply goes to the new install's mailbox (from its card).
  const reply = await p.alice.seal(p.aliceToBob, text(1, 'welcome back'))
  const got = await bob2.device.openEnvelope(reply)
  assert.equal(got.payload.kind === 'text' ? got.payload.text : '', 'welcome back')
  // The old install's session is not the contact's any more; its messages cannot raise a change again.
  await assert.rejects(p.alice.openEnvelope(await p.bob.seal(p.bobToAlice, text(9, 'old phone'))), (e) => E2eeError.is(e, 'UNDECRYPTABLE'))
  assert.equal(p.alice.contact(p.aliceToBob)?.keyChange?.state, 'accepted')
})

test('block: the held envelopes are dropped, and later ones under that key are dropped without a new warning, also after a restart', async (t) => {
  const p = await pair(t)
  const bob2 = await bobReinstalls(p)
  t.after(() => { bob2.device.close() })
  await assert.rejects(p.alice.openEnvelope(bob2.first), changed(true))
  const at = p.alice.contact(p.aliceToBob)?.keyChange?.at
  const seen = p.alice.pendingSafetyNumber(p.aliceToBob).digits
  await p.alice.blockKeyChange(p.aliceToBob, seen)
  let c = p.alice.contact(p.aliceToBob)
  assert.deepEqual({ state: c?.keyChange?.state, held: c?.keyChange?.held, at: c?.keyChange?.at }, { state: 'blocked', held: 0, at })
  assert.equal(Number(p.alice.db.prepare('SELECT count(*) AS n FROM held_envelopes').get()?.n), 0)
  await assert.rejects(p.alice.blockKeyChange(p.aliceToBob, seen), (e) => E2eeError.is(e, 'NO_KEY_CHANGE'))
  await assert.rejects(p.alice.acceptKeyChange(p.aliceToBob, seen), (e) => E2eeError.is(e, 'NO_KEY_CHANGE'))

  const later = await bob2.seal(text(1, 'let me in'))
  await assert.rejects(p.alice.openEnvelope(later), (e) => E2eeError.is(e, 'BLOCKED_IDENTITY'))
  p.alice.close()
  p.alice = await Device.open(join(p.dir, 'alice'))
  await assert.rejects(p.alice.openEnvelope(bob2.first), (e) => E2eeError.is(e, 'BLOCKED_IDENTITY'))
  c = p.alice.contact(p.aliceToBob)
  assert.deepEqual({ state: c?.keyChange?.state, held: c?.keyChange?.held, at: c?.keyChange?.at }, { state: 'blocked', held: 0, at })
  // The contact's real key still works.
  const real = await p.alice.openEnvelope(await p.bob.seal(p.bobToAlice, text(1, 'still me')))
  assert.equal(real.payload.kind === 'text' ? real.payload.text : '', 'still me')
})

test('only a session start made for this device counts; a newer key replaces the pending one; held envelopes are bounded', async (t) => {
  const p = await pair(t)
  // Someone with Alice's mailbox key for Bob but a session start made for another device: nothing is stored.
  const carol = await Device.create(join(p.dir, 'carol'), { name: 'Carol' })
  t.after(() => { carol.close() })
  const carolInvite = await carol.createInvite(NET)
  const stranger = await reinstall(p.dir, 'mallory', carolInvite.link, mailboxOf(p.alice.db, p.aliceToBob, 'my'))
  t.after(() => { stranger.device.close() })
  await assert.rejects(p.alice.openEnvelope(stranger.first), (e) => E2eeError.is(e, 'BAD_SENDER'))
  assert.equal(p.alice.contact(p.aliceToBob)?.keyChange, undefined)

  const bob2 = await bobReinstalls(p)
  t.after(() => { bob2.device.close() })
  await assert.rejects(p.alice.openEnvelope(bob2.first), changed(true))
  for (let i = 1; i <= MAX_HELD_ENVELOPES; i++) {
    await assert.rejects(p.alice.openEnvelope(await bob2.seal(text(i, `m${i}`))), changed(false))
  }
  assert.equal(p.alice.contact(p.aliceToBob)?.keyChange?.held, MAX_HELD_ENVELOPES, 'at most MAX_HELD_ENVELOPES are kept')

  const bob3 = await bobReinstalls(p, 'bob3')
  t.after(() => { bob3.device.close() })
  await assert.rejects(p.alice.openEnvelope(bob3.first), changed(true), 'another new key is a new change')
  assert.equal(p.alice.contact(p.aliceToBob)?.keyChange?.held, 1, 'the older pending key and its envelopes are gone')
  assert.equal(p.alice.pendingSafetyNumber(p.aliceToBob).digits, bob3.device.safetyNumber(bob3.device.contacts()[0]?.id ?? '').digits)
})

test('the decision names the number the user compared: a newer key that replaced it is refused and nothing is pinned or blocked', async (t) => {
  const p = await pair(t)
  const oldKey = hex(p.alice.contact(p.aliceToBob)?.identityKey ?? new Uint8Array())
  const bob2 = await bobReinstalls(p)
  t.after(() => { bob2.device.close() })
  await assert.rejects(p.alice.openEnvelope(bob2.first), changed(true))
  // The user reads the pending number; it matches the one on Bob's new install.
  const seen = p.alice.pendingSafetyNumber(p.aliceToBob).digits
  assert.equal(seen, bob2.device.safetyNumber(bob2.device.contacts()[0]?.id ?? '').digits)
  // Before the click, Mallory (who holds Alice's mailbox key for Bob) starts a session under her own key.
  const mallory = await bobReinstalls(p, 'mallory')
  t.after(() => { mallory.device.close() })
  await assert.rejects(p.alice.openEnvelope(mallory.first), changed(true))

  const moved = (e: unknown): boolean => E2eeError.is(e, 'KEY_CHANGE_MOVED')
  await assert.rejects(p.alice.acceptKeyChange(p.aliceToBob, seen), moved, 'accept names Bob\'s number, the pending key is Mallory\'s')
  await assert.rejects(p.alice.blockKeyChange(p.aliceToBob, seen), moved, 'and so does block')
  const c = p.alice.contact(p.aliceToBob)
  assert.equal(hex(c?.identityKey ?? new Uint8Array()), oldKey, 'nothing pinned')
  assert.deepEqual({ state: c?.keyChange?.state, held: c?.keyChange?.held }, { state: 'pending', held: 1 }, 'nothing decided, Mallory\'s envelope still held')
  assert.deepEqual(p.alice.acceptedHeld(p.aliceToBob), [])
  assert.equal(Number(p.alice.db.prepare("SELECT count(*) AS n FROM key_changes WHERE state != 'pending'").get()?.n), 0)
  await assert.rejects(p.alice.acceptKeyChange(p.aliceToBob, 'not a number'), RangeError)

  // The UI shows the new number; it is not Bob's, and deciding on it (here: block) works.
  const now = p.alice.pendingSafetyNumber(p.aliceToBob).digits
  assert.notEqual(now, seen)
  await p.alice.blockKeyChange(p.aliceToBob, now)
  assert.equal(p.alice.contact(p.aliceToBob)?.keyChange?.state, 'blocked')
  await assert.rejects(p.alice.openEnvelope(await mallory.seal(text(1, 'let me in'))), (e) => E2eeError.is(e, 'BLOCKED_IDENTITY'))
  assert.equal(hex(p.alice.contact(p.aliceToBob)?.identityKey ?? new Uint8Array()), oldKey)
})

test('an answered invite\'s mailbox cannot raise a key change: no event, nothing stored', async (t) => {
  const p = await pair(t)
  const eve = await Device.create(join(p.dir, 'eve'), { name: 'Eve' })
  t.after(() => { eve.close() })
  // Eve holds the invite Bob answered: her session start lands in Alice's retired invite mailbox.
  const { envelope } = await eve.acceptInvite(p.invite, { card: NET })
  await assert.rejects(p.alice.openEnvelope(envelope), (e) => E2eeError.is(e, 'BAD_SENDER') && !(e instanceof IdentityChangedError))
  await assert.rejects(p.alice.openEnvelope(envelope), (e) => E2eeError.is(e, 'BAD_SENDER'))
  assert.equal(p.alice.contact(p.aliceToBob)?.keyChange, undefined)
  assert.equal(Number(p.alice.db.prepare('SELECT count(*) AS n FROM key_changes').get()?.n), 0)
  assert.equal(Number(p.alice.db.prepare('SELECT count(*) AS n FROM held_envelopes').get()?.n), 0)
})
