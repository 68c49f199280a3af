// The SignalStore contract, run with the same assertions against SignalStores on SQLCipher and its
// in-memory twin (test/twins/memory-signal-stores.ts): a real libsignal session (PQXDH prekey
// bundle, both directions) through each, one-time prekeys consumed, a rolled-back unit of work
// leaving the message key unused, identities pinned, the last-resort Kyber key's reuse refused.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import {
  CiphertextMessageType, Direction, IdentityChange, IdentityKeyPair, KEMKeyPair, KyberPreKeyRecord, PreKeyBundle, PreKeyRecord,
  PreKeySignalMessage, PrivateKey, ProtocolAddress, SignalMessage, SignedPreKeyRecord, processPreKeyBundle,
  signalDecrypt, signalDecryptPreKey, signalEncrypt
} from '@signalapp/libsignal-client'
import { openDatabase, resolveDatabaseKey } from '../../src/store/db.ts'
import { MIGRATIONS } from '../../src/store/schema.ts'
import { SignalStores, type SignalStore } from '../../src/store/signal-stores.ts'
import { MemorySignalStores } from '../twins/memory-signal-stores.ts'
import { tempDir, type TestContext } from '../helpers/testnet.ts'

type Make = (t: TestContext, identity: Uint8Array, registrationId: number) => SignalStore

const sqlStores: Make = (t, identity, registrationId) => {
  const dir = tempDir(t, '0m1-signal-')
  const db = openDatabase({ path: join(dir, 'store.db'), key: resolveDatabaseKey(dir, { create: true }), migrations: MIGRATIONS })
  t.after(() => { db.close() })
  return new SignalStores(db, identity, registrationId)
}

const IMPLEMENTATIONS: Array<[string, Make]> = [
  ['SQLCipher SignalStores', sqlStores],
  ['in-memory twin', (_t, identity, registrationId) => new MemorySignalStores(identity, registrationId)]
]

interface Party {
  store: SignalStore
  address: ProtocolAddress
  identity: IdentityKeyPair
  bundle: PreKeyBundle
}

async function party (t: TestContext, make: Make, name: string, registrationId: number): Promise<Party> {
  const identity = IdentityKeyPair.generate()
  const store = make(t, identity.serialize(), registrationId)
  const preKey = PrivateKey.generate()
  await store.savePreKey(1, PreKeyRecord.new(1, preKey.getPublicKey(), preKey))
  const signed = PrivateKey.generate()
  const signature = identity.privateKey.sign(signed.getPublicKey().serialize())
  await store.saveSignedPreKey(1, SignedPreKeyRecord.new(1, Date.now(), signed.getPublicKey(), signed, signature))
  const kyber = KEMKeyPair.generate()
  const kyberSignature = identity.privateKey.sign(kyber.getPublicKey().serialize())
  store.saveKyber(1, KyberPreKeyRecord.new(1, Date.now(), kyber, kyberSignature), false)
  const lastResort = KEMKeyPair.generate()
  store.saveKyber(2, KyberPreKeyRecord.new(2, Date.now(), lastResort, identity.privateKey.sign(lastResort.getPublicKey().serialize())), true)
  const bundle = PreKeyBundle.new(registrationId, 1, 1, preKey.getPublicKey(), 1, signed.getPublicKey(), signature, identity.publicKey,
    1, kyber.getPublicKey(), kyberSignature)
  return { store, address: ProtocolAddress.new(name, 1), identity, bundle }
}

/** Alice starts a session from Bob's bundle; each pins the other's identity first (no trust on first use). */
async function session (t: TestContext, make: Make): Promise<{ alice: Party, bob: Party, first: PreKeySignalMessage }> {
  const alice = await party(t, make, 'alice', 11)
  const bob = await party(t, make, 'bob', 22)
  alice.store.pinIdentity('bob', bob.identity.publicKey)
  bob.store.pinIdentity('alice', alice.identity.publicKey)
  await alice.store.atomically(async () => { await processPreKeyBundle(bob.bundle, bob.address, alice.address, alice.store, alice.store, new Date()) })
  const ct = await alice.store.atomically(async () => await signalEncrypt(Buffer.from('hello bob'), bob.address, alice.address, alice.store, alice.store, new Date()))
  assert.equal(ct.type(), CiphertextMessageType.PreKey)
  return { alice, bob, first: PreKeySignalMessage.deserialize(ct.serialize()) }
}

const openFirst = async (bob: Party, alice: Party, m: PreKeySignalMessage): Promise<Uint8Array> =>
  await bob.store.atomically(async () => await signalDecryptPreKey(m, alice.address, bob.address, bob.store, bob.store, bob.store, bob.store, bob.store))

for (const [name, make] of IMPLEMENTATIONS) {
  test(`${name}: a libsignal session through the store works both ways and consumes the one-time prekeys`, async (t) => {
    const { alice, bob, first } = await session(t, make)
    assert.equal(Buffer.from(await openFirst(bob, alice, first)).toString(), 'hello bob')
    await assert.rejects(bob.store.getPreKey(1))
    await assert.rejects(bob.store.getKyberPreKey(1))
    assert.ok(await bob.store.getKyberPreKey(2), 'the last-resort Kyber key stays')
    assert.ok(await bob.store.getSignedPreKey(1))
    assert.notEqual(bob.store.session('alice'), null)
    const reply = await bob.store.atomically(async () => await signalEncrypt(Buffer.from('hello alice'), alice.address, bob.address, bob.store, bob.store, new Date()))
    assert.equal(reply.type(), CiphertextMessageType.Whisper)
    const pt = await alice.store.atomically(async () => await signalDecrypt(SignalMessage.deserialize(reply.serialize()), bob.address, alice.address, alice.store, alice.store))
    assert.equal(Buffer.from(pt).toString(), 'hello alice')
    assert.equal((await alice.store.getExistingSessions([bob.address])).length, 1)
    await assert.rejects(alice.store.getExistingSessions([ProtocolAddress.new('nobody', 1)]))
  })

  test(`${name}: a unit of work that fails leaves the session and prekeys as they were`, async (t) => {
    const { alice, bob, first } = await session(t, make)
    await assert.rejects(bob.store.atomically(async () => {
      await signalDecryptPreKey(first, alice.address, bob.address, bob.store, bob.store, bob.store, bob.store, bob.store)
      throw new Error('storing the message failed')
    }), /storing the message failed/)
    assert.equal(bob.store.session('alice'), null)
    assert.ok(await bob.store.getPreKey(1), 'the one-time prekey is still there')
    // The message opens now, once: its key is used up afterwards.
    assert.equal(Buffer.from(await openFirst(bob, alice, first)).toString(), 'hello bob')
    await assert.rejects(openFirst(bob, alice, first))
    // An extra writer that throws drops the unit too.
    const again = await alice.store.atomically(async () => await signalEncrypt(Buffer.from('two'), bob.address, alice.address, alice.store, alice.store, new Date()))
    const before = bob.store.session('alice')?.serialize()
    await assert.rejects(bob.store.atomically(
      async () => await signalDecryptPreKey(PreKeySignalMessage.deserialize(again.serialize()), alice.address, bob.address, bob.store, bob.store, bob.store, bob.store, bob.store),
      () => { throw new Error('extra failed') }), /extra failed/)
    assert.deepEqual(bob.store.session('alice')?.serialize(), before)
  })

  test(`${name}: identities are trusted only as pinned; a changed key is reported`, async (t) => {
    const me = await party(t, make, 'me', 1)
    const a = IdentityKeyPair.generate().publicKey
    const b = IdentityKeyPair.generate().publicKey
    const who = ProtocolAddress.new('them', 1)
    assert.equal(await me.store.isTrustedIdentity(who, a, Direction.Sending), false)
    assert.equal(await me.store.getIdentity(who), null)
    assert.equal(await me.store.saveIdentity(who, a), IdentityChange.NewOrUnchanged)
    assert.equal(await me.store.saveIdentity(who, a), IdentityChange.NewOrUnchanged)
    assert.equal(await me.store.isTrustedIdentity(who, a, Direction.Sending), true)
    assert.equal(await me.store.isTrustedIdentity(who, b, Direction.Sending), false)
    assert.equal(await me.store.saveIdentity(who, b), IdentityChange.ReplacedExisting)
    assert.ok((await me.store.getIdentity(who))?.equals(b))
    assert.equal(await me.store.getLocalRegistrationId(), 1)
    assert.ok((await me.store.getIdentityKeyPair()).publicKey.equals(me.identity.publicKey))
  })

  test(`${name}: the last-resort Kyber key refuses the same base key twice; a nested unit is a savepoint`, async (t) => {
    const me = await party(t, make, 'me', 1)
    const base = PrivateKey.generate().getPublicKey()
    await me.store.markKyberPreKeyUsed(2, 1, base)
    await assert.rejects(me.store.markKyberPreKeyUsed(2, 1, base))
    await me.store.markKyberPreKeyUsed(2, 1, PrivateKey.generate().getPublicKey())
    await me.store.markKyberPreKeyUsed(1, 1, base)
    await assert.rejects(me.store.getKyberPreKey(1))
    await assert.rejects(me.store.markKyberPreKeyUsed(9, 1, base))
    me.store.begin()
    const k = PrivateKey.generate()
    await me.store.savePreKey(5, PreKeyRecord.new(5, k.getPublicKey(), k))
    assert.ok(await me.store.getPreKey(5), 'visible inside the unit')
    // A nested unit sees the outer one's writes; its own are dropped alone on rollback, joined on commit.
    const done: string[] = []
    me.store.begin()
    assert.ok(await me.store.getPreKey(5), 'the outer unit is visible inside the inner one')
    await me.store.savePreKey(6, PreKeyRecord.new(6, k.getPublicKey(), k))
    me.store.defer(() => { done.push('dropped write') }, () => { done.push('dropped effect') })
    me.store.rollback()
    await assert.rejects(me.store.getPreKey(6))
    me.store.begin()
    await me.store.savePreKey(7, PreKeyRecord.new(7, k.getPublicKey(), k))
    me.store.defer(() => { done.push('write') }, () => { done.push('effect') })
    me.store.commit(() => { done.push('extra') })
    assert.equal(done.length, 0, 'nothing is written before the outer unit commits')
    me.store.rollback()
    await assert.rejects(me.store.getPreKey(5))
    await assert.rejects(me.store.getPreKey(7))
    assert.equal(done.length, 0)
    assert.throws(() => { me.store.commit() })
    me.store.begin()
    me.store.begin()
    await me.store.savePreKey(8, PreKeyRecord.new(8, k.getPublicKey(), k))
    me.store.defer(() => { done.push('write') }, () => { done.push('effect') })
    me.store.commit(() => { done.push('extra') })
    me.store.commit()
    assert.ok(await me.store.getPreKey(8))
    assert.deepEqual(done, ['write', 'extra', 'effect'], 'writes in order in the commit, effects after it')
  })
}
