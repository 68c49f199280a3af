// Raw libsignal with in-memory stores: the baseline the product's crypto is measured against. Two parties
// set up a PQXDH session (Kyber prekey included) and then exchange plain SignalMessages. Sessions are kept
// as SessionRecord objects, as the product keeps them (a lean baseline): serializing the record on every
// save and parsing it on every load would slow the baseline by 10-35% and flatter the ratio.
import {
  IdentityKeyPair, IdentityKeyStore, KEMKeyPair, KyberPreKeyRecord, KyberPreKeyStore, PreKeyBundle, PreKeyRecord,
  PreKeySignalMessage, PreKeyStore, PrivateKey, ProtocolAddress, SessionRecord, SessionStore, SignalMessage,
  SignedPreKeyRecord, SignedPreKeyStore, CiphertextMessageType, IdentityChange,
  processPreKeyBundle, signalDecrypt, signalDecryptPreKey, signalEncrypt, type PublicKey, type Direction
} from '@signalapp/libsignal-client'

class MemSessions extends SessionStore {
  private readonly m = new Map<string, SessionRecord>()
  /** Called after every save (the durable floor writes the record to SQLCipher here). */
  onSave: ((a: ProtocolAddress, r: SessionRecord) => void) | undefined
  async saveSession (a: ProtocolAddress, r: SessionRecord): Promise<void> {
    this.m.set(a.toString(), r)
    this.onSave?.(a, r)
  }

  async getSession (a: ProtocolAddress): Promise<SessionRecord | null> { return this.m.get(a.toString()) ?? null }

  async getExistingSessions (as: ProtocolAddress[]): Promise<SessionRecord[]> {
    const out: SessionRecord[] = []
    for (const a of as) { const s = await this.getSession(a); if (s !== null) out.push(s) }
    return out
  }
}

class MemIdentity extends IdentityKeyStore {
  private readonly known = new Map<string, PublicKey>()
  constructor (private readonly pair: IdentityKeyPair, private readonly regId: number) { super() }
  async getIdentityKey (): Promise<PrivateKey> { return this.pair.privateKey }
  async getLocalRegistrationId (): Promise<number> { return this.regId }
  async saveIdentity (a: ProtocolAddress, k: PublicKey): Promise<IdentityChange> {
    const old = this.known.get(a.toString())
    this.known.set(a.toString(), k)
    return old !== undefined && !old.equals(k) ? IdentityChange.ReplacedExisting : IdentityChange.NewOrUnchanged
  }

  async isTrustedIdentity (a: ProtocolAddress, k: PublicKey, _d: Direction): Promise<boolean> {
    const old = this.known.get(a.toString())
    return old === undefined || old.equals(k)
  }

  async getIdentity (a: ProtocolAddress): Promise<PublicKey | null> { return this.known.get(a.toString()) ?? null }
}

class MemPreKeys extends PreKeyStore {
  readonly m = new Map<number, PreKeyRecord>()
  async savePreKey (id: number, r: PreKeyRecord): Promise<void> { this.m.set(id, r) }
  async getPreKey (id: number): Promise<PreKeyRecord> { const r = this.m.get(id); if (r === undefined) throw new Error('no prekey'); return r }
  async removePreKey (id: number): Promise<void> { this.m.delete(id) }
}

class MemSignedPreKeys extends SignedPreKeyStore {
  readonly m = new Map<number, SignedPreKeyRecord>()
  async saveSignedPreKey (id: number, r: SignedPreKeyRecord): Promise<void> { this.m.set(id, r) }
  async getSignedPreKey (id: number): Promise<SignedPreKeyRecord> { const r = this.m.get(id); if (r === undefined) throw new Error('no signed prekey'); return r }
}

class MemKyber extends KyberPreKeyStore {
  readonly m = new Map<number, KyberPreKeyRecord>()
  async saveKyberPreKey (id: number, r: KyberPreKeyRecord): Promise<void> { this.m.set(id, r) }
  async getKyberPreKey (id: number): Promise<KyberPreKeyRecord> { const r = this.m.get(id); if (r === undefined) throw new Error('no kyber prekey'); return r }
  async markKyberPreKeyUsed (): Promise<void> {}
}

export interface Party {
  readonly address: ProtocolAddress
  readonly sessions: MemSessions
  readonly identity: MemIdentity
  readonly preKeys: MemPreKeys
  readonly signedPreKeys: MemSignedPreKeys
  readonly kyber: MemKyber
  readonly bundle: PreKeyBundle
}

function party (name: string, regId: number): Party {
  const pair = IdentityKeyPair.generate()
  const preKey = PrivateKey.generate()
  const signed = PrivateKey.generate()
  const signedSig = pair.privateKey.sign(signed.getPublicKey().serialize())
  const kem = KEMKeyPair.generate()
  const kemSig = pair.privateKey.sign(kem.getPublicKey().serialize())
  const p: Party = {
    address: ProtocolAddress.new(name, 1),
    sessions: new MemSessions(),
    identity: new MemIdentity(pair, regId),
    preKeys: new MemPreKeys(),
    signedPreKeys: new MemSignedPreKeys(),
    kyber: new MemKyber(),
    bundle: PreKeyBundle.new(regId, 1, 1, preKey.getPublicKey(), 1, signed.getPublicKey(), signedSig, pair.publicKey, 1, kem.getPublicKey(), kemSig)
  }
  p.preKeys.m.set(1, PreKeyRecord.new(1, preKey.getPublicKey(), preKey))
  p.signedPreKeys.m.set(1, SignedPreKeyRecord.new(1, Date.now(), signed.getPublicKey(), signed, signedSig))
  p.kyber.m.set(1, KyberPreKeyRecord.new(1, Date.now(), kem, kemSig))
  return p
}

export async function encrypt (from: Party, to: Party, plaintext: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const m = await signalEncrypt(plaintext, to.address, from.address, from.sessions, from.identity)
  // One type byte in front, as any transport would need to tell a PreKey message from a Whisper one.
  const body = m.serialize()
  const out = new Uint8Array(body.length + 1)
  out[0] = m.type()
  out.set(body, 1)
  return out
}

export async function decrypt (at: Party, from: Party, bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const body = bytes.slice(1)
  if (bytes[0] === CiphertextMessageType.PreKey) {
    return await signalDecryptPreKey(PreKeySignalMessage.deserialize(body), from.address, at.address, at.sessions, at.identity, at.preKeys, at.signedPreKeys, at.kyber)
  }
  return await signalDecrypt(SignalMessage.deserialize(body), from.address, at.address, at.sessions, at.identity)
}

/** Alice and Bob with a confirmed session both ways (the PreKey message is already exchanged); `setupMs`
 * times the part an invite's accepter and its maker cannot avoid: PQXDH from the bundle, the first
 * (PreKey) message encrypted and decrypted. Key generation, done when the invite is made, is not in it. */
export async function sessionPair (): Promise<{ alice: Party, bob: Party, setupMs: number }> {
  const alice = party('alice', 1)
  const bob = party('bob', 2)
  const t0 = performance.now()
  await processPreKeyBundle(bob.bundle, bob.address, alice.address, alice.sessions, alice.identity)
  await decrypt(bob, alice, await encrypt(alice, bob, new Uint8Array([1])))
  const setupMs = performance.now() - t0
  await decrypt(alice, bob, await encrypt(bob, alice, new Uint8Array([2])))
  return { alice, bob, setupMs }
}

export function textOf (bytes: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(bytes)
  for (let i = 0; i < bytes; i++) out[i] = 0x61 + (i % 26)
  return out
}
