import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { readdirSync, readFileSync } from 'node:fs'
import { Device } from '../../src/e2ee/device.ts'
import { E2eeError } from '../../src/e2ee/errors.ts'
import { IdentityError } from '../../src/identity/errors.ts'
import { StoreError } from '../../src/store/errors.ts'
import { pair, tempDir, text } from './helpers.ts'

test('invite, accept, first envelope creates the contact on both sides; messages both ways', async (t) => {
  const p = await pair(t)
  const aliceSeesBob = p.alice.contact(p.aliceToBob)
  const bobSeesAlice = p.bob.contact(p.bobToAlice)
  assert.ok(aliceSeesBob !== undefined && bobSeesAlice !== undefined)
  assert.equal(aliceSeesBob.name, 'Bob Example')
  assert.equal(bobSeesAlice.name, 'Alice Example')
  assert.equal(aliceSeesBob.accountId, p.bob.accountId)
  assert.equal(bobSeesAlice.accountId, p.alice.accountId)
  assert.deepEqual(aliceSeesBob.theirRelays, ['/ip4/127.0.0.1/tcp/4002/p2p/relayB'])
  assert.deepEqual(bobSeesAlice.theirRelays, ['/ip4/127.0.0.1/tcp/4001/p2p/relayA'])
  // The mailbox each side writes to is the one the other side reads.
  assert.deepEqual(Buffer.from(aliceSeesBob.theirMailboxId), Buffer.from(bobSeesAlice.myMailboxId))
  assert.deepEqual(Buffer.from(bobSeesAlice.theirMailboxId), Buffer.from(aliceSeesBob.myMailboxId))

  const m1 = text(1, 'hello Bob')
  const got = await p.bob.openEnvelope(await p.alice.seal(p.aliceToBob, m1))
  assert.equal(got.newContact, false)
  assert.equal(got.contact.id, p.bobToAlice)
  assert.deepEqual(got.payload, m1)
  const m2 = text(1, 'hello Alice')
  assert.deepEqual((await p.alice.openEnvelope(await p.bob.seal(p.bobToAlice, m2))).payload, m2)
})

test('second create refuses with ACCOUNT_EXISTS and changes nothing', async (t) => {
  const dir = tempDir(t)
  const d = await Device.create(dir, { name: 'Once' })
  const id = d.accountId
  d.close()
  const before = readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f))])
  await assert.rejects(Device.create(dir, { name: 'Twice' }), (err) => E2eeError.is(err, 'ACCOUNT_EXISTS') && /already holds an account/.test(err.message))
  const after = readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f))])
  assert.deepEqual(after, before)
  const again = await Device.open(dir)
  assert.equal(again.accountId, id)
  assert.equal(again.displayName(), 'Once')
  again.close()
})

test('wrong passphrase is a clear WRONG_KEY error; open without account is NO_ACCOUNT', async (t) => {
  const dir = tempDir(t)
  const d = await Device.create(join(dir, 'x'), { name: 'P', passphrase: 'correct horse battery' })
  d.close()
  await assert.rejects(Device.open(join(dir, 'x'), { passphrase: 'wrong horse' }), (err) => StoreError.is(err, 'WRONG_KEY') && /wrong passphrase/.test(err.message))
  await assert.rejects(Device.open(join(dir, 'x')), (err) => StoreError.is(err, 'PASSPHRASE_REQUIRED'))
  await assert.rejects(Device.open(join(dir, 'nothing')), (err) => E2eeError.is(err, 'NO_ACCOUNT'))
  const ok = await Device.open(join(dir, 'x'), { passphrase: 'correct horse battery' })
  assert.equal(ok.displayName(), 'P')
  ok.close()
})

test('safety numbers are equal on both sides and change with an identity key', async (t) => {
  const p = await pair(t)
  const a = p.alice.safetyNumber(p.aliceToBob)
  const b = p.bob.safetyNumber(p.bobToAlice)
  assert.match(a.digits, /^\d{60}$/)
  assert.equal(a.digits, b.digits)
  const q = await pair(t)
  assert.notEqual(q.alice.safetyNumber(q.aliceToBob).digits, a.digits)
})

test('an invite is refused when used twice, by its maker, or after expiry; nothing stored', async (t) => {
  let now = 1_800_000_000_000
  const dir = tempDir(t)
  const alice = await Device.create(join(dir, 'a'), { name: 'A', now: () => now })
  const bob = await Device.create(join(dir, 'b'), { name: 'B', now: () => now })
  t.after(() => { alice.close(); bob.close() })
  const inv = await alice.createInvite({ relays: [], addresses: [], expiresInMs: 60_000 })
  await assert.rejects(alice.acceptInvite(inv.link, { card: { relays: [], addresses: [] } }), (err) => IdentityError.is(err, 'INVITE_OWN'))
  now += 60_001
  await assert.rejects(bob.acceptInvite(inv.link, { card: { relays: [], addresses: [] } }), (err) => IdentityError.is(err, 'INVITE_EXPIRED') && /expired/.test(err.message))
  assert.equal(bob.contacts().length, 0)
  const inv2 = await alice.createInvite({ relays: [], addresses: [] })
  assert.notEqual(inv2.link, inv.link)
  await bob.acceptInvite(inv2.link, { card: { relays: [], addresses: [] } })
  await assert.rejects(bob.acceptInvite(inv2.link, { card: { relays: [], addresses: [] } }), (err) => IdentityError.is(err, 'INVITE_ALREADY_CONTACT'))
  assert.equal(bob.contacts().length, 1)
})
