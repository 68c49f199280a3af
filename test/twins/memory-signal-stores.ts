// In-memory twin of SignalStores (src/store/signal-stores.ts) for unit tests: records are kept
// serialized, as on disk, and writes go through the same unit of work (dropped on rollback).
// Held to the same assertions as the SQLCipher version by test/store/signal-stores-contract.test.ts.
// Not durable, and the callers' writes in commit() are not rolled back with the unit when one throws.
import {
  IdentityChange, IdentityKeyPair, KyberPreKeyRecord, PreKeyRecord, PublicKey, SenderKeyRecord, SessionRecord, SignedPreKeyRecord,
  type Direction, type PrivateKey, type ProtocolAddress, type Uuid
} from '@signalapp/libsignal-client'
import { runAtomically, type SignalStore } from '../../src/store/signal-stores.ts'

interface Unit {
  sessions: Map<string, Uint8Array>
  identities: Map<string, Uint8Array>
  preKeys: Map<number, Uint8Array | null>
  signedPreKeys: Map<number, Uint8Array>
  kyberPreKeys: Map<number, { record: Uint8Array, lastResort: boolean } | null>
  kyberUsed: string[]
  senderKeys: Map<string, Uint8Array>
  writes: Array<() => void>
  afters: Array<() => void>
}

const blob = (b: Uint8Array): Uint8Array<ArrayBuffer> => b as Uint8Array<ArrayBuffer>
const emptyUnit = (): Unit => ({ sessions: new Map(), identities: new Map(), preKeys: new Map(), signedPreKeys: new Map(), kyberPreKeys: new Map(), kyberUsed: [], senderKeys: new Map(), writes: [], afters: [] })

export class MemorySignalStores implements SignalStore {
  readonly #identityKeyPair: IdentityKeyPair
  readonly #registrationId: number
  readonly #saved = emptyUnit()
  readonly #units: Unit[] = []

  constructor (identityKeyPair: Uint8Array, registrationId: number) {
    this.#identityKeyPair = IdentityKeyPair.deserialize(blob(identityKeyPair))
    this.#registrationId = registrationId
  }

  get #unit (): Unit | undefined {
    return this.#units[this.#units.length - 1]
  }

  /** The newest pending value, innermost unit first. */
  #pending<K, V> (pick: (u: Unit) => Map<K, V>, key: K): V | undefined {
    for (let i = this.#units.length - 1; i >= 0; i--) {
      const m = pick(this.#units[i] as Unit)
      if (m.has(key)) return m.get(key)
    }
    return undefined
  }

  begin (): void {
    this.#units.push(emptyUnit())
  }

  commit (extra?: () => void): void {
    const u = this.#unit
    if (u === undefined) throw new Error('MemorySignalStores: no unit of work open')
    const outer = this.#units[this.#units.length - 2]
    if (outer !== undefined) {
      for (const [k, v] of u.sessions) outer.sessions.set(k, v)
      for (const [k, v] of u.identities) outer.identities.set(k, v)
      for (const [k, v] of u.preKeys) outer.preKeys.set(k, v)
      for (const [k, v] of u.signedPreKeys) outer.signedPreKeys.set(k, v)
      for (const [k, v] of u.kyberPreKeys) outer.kyberPreKeys.set(k, v)
      outer.kyberUsed.push(...u.kyberUsed)
      for (const [k, v] of u.senderKeys) outer.senderKeys.set(k, v)
      outer.writes.push(...u.writes)
      if (extra !== undefined) outer.writes.push(extra)
      outer.afters.push(...u.afters)
      this.#units.pop()
      return
    }
    for (const w of u.writes) w()
    extra?.()
    const s = this.#saved
    for (const used of u.kyberUsed) {
      if (s.kyberUsed.includes(used)) throw new Error('UNIQUE constraint failed: signal_kyber_used')
    }
    for (const [k, v] of u.sessions) s.sessions.set(k, v)
    for (const [k, v] of u.identities) s.identities.set(k, v)
    for (const [k, v] of u.preKeys) { if (v === null) s.preKeys.delete(k); else s.preKeys.set(k, v) }
    for (const [k, v] of u.signedPreKeys) s.signedPreKeys.set(k, v)
    for (const [k, v] of u.kyberPreKeys) { if (v === null) s.kyberPreKeys.delete(k); else s.kyberPreKeys.set(k, v) }
    s.kyberUsed.push(...u.kyberUsed)
    for (const [k, v] of u.senderKeys) s.senderKeys.set(k, v)
    this.#units.pop()
    for (const a of u.afters) a()
  }

  rollback (): void {
    this.#units.pop()
  }

  defer (write?: () => void, after?: () => void): void {
    const u = this.#unit
    if (u === undefined) { write?.(); after?.(); return }
    if (write !== undefined) u.writes.push(write)
    if (after !== undefined) u.afters.push(after)
  }

  async atomically<T> (fn: () => Promise<T>, extra?: (result: T) => void): Promise<T> {
    return await runAtomically(this, fn, extra)
  }

  #direct (fill: (u: Unit) => void): void {
    const open = this.#unit
    if (open !== undefined) { fill(open); return }
    this.begin()
    try {
      fill(this.#unit as unknown as Unit)
      this.commit()
    } catch (err) {
      this.rollback()
      throw err
    }
  }

  async saveSession (name: ProtocolAddress, record: SessionRecord): Promise<void> {
    const bytes = record.serialize()
    this.#direct((u) => u.sessions.set(name.name(), bytes))
  }

  async getSession (name: ProtocolAddress): Promise<SessionRecord | null> {
    return this.session(name.name())
  }

  session (address: string): SessionRecord | null {
    const bytes = this.#pending((u) => u.sessions, address) ?? this.#saved.sessions.get(address)
    return bytes === undefined ? null : SessionRecord.deserialize(blob(bytes))
  }

  async getExistingSessions (addresses: ProtocolAddress[]): Promise<SessionRecord[]> {
    return addresses.map((a) => {
      const s = this.session(a.name())
      if (s === null) throw new Error('no session for an address')
      return s
    })
  }

  async getIdentityKey (): Promise<PrivateKey> { return this.#identityKeyPair.privateKey }
  async getIdentityKeyPair (): Promise<IdentityKeyPair> { return this.#identityKeyPair }
  async getLocalRegistrationId (): Promise<number> { return this.#registrationId }

  identity (address: string): PublicKey | null {
    const bytes = this.#pending((u) => u.identities, address) ?? this.#saved.identities.get(address)
    return bytes === undefined ? null : PublicKey.deserialize(blob(bytes))
  }

  pinIdentity (address: string, key: PublicKey): void {
    const bytes = key.serialize()
    this.#direct((u) => u.identities.set(address, bytes))
  }

  async saveIdentity (name: ProtocolAddress, key: PublicKey): Promise<IdentityChange> {
    const existing = this.identity(name.name())
    if (existing !== null && existing.equals(key)) return IdentityChange.NewOrUnchanged
    this.pinIdentity(name.name(), key)
    return existing === null ? IdentityChange.NewOrUnchanged : IdentityChange.ReplacedExisting
  }

  async isTrustedIdentity (name: ProtocolAddress, key: PublicKey, _direction: Direction): Promise<boolean> {
    const pinned = this.identity(name.name())
    return pinned !== null && pinned.equals(key)
  }

  async getIdentity (name: ProtocolAddress): Promise<PublicKey | null> {
    return this.identity(name.name())
  }

  async savePreKey (id: number, record: PreKeyRecord): Promise<void> {
    const bytes = record.serialize()
    this.#direct((u) => u.preKeys.set(id, bytes))
  }

  async getPreKey (id: number): Promise<PreKeyRecord> {
    const pending = this.#pending((u) => u.preKeys, id)
    if (pending === null) throw new Error(`prekey ${id} was used`)
    const bytes = pending ?? this.#saved.preKeys.get(id)
    if (bytes === undefined || bytes === null) throw new Error(`no prekey ${id}`)
    return PreKeyRecord.deserialize(blob(bytes))
  }

  async removePreKey (id: number): Promise<void> {
    this.#direct((u) => u.preKeys.set(id, null))
  }

  async saveSignedPreKey (id: number, record: SignedPreKeyRecord): Promise<void> {
    const bytes = record.serialize()
    this.#direct((u) => u.signedPreKeys.set(id, bytes))
  }

  async getSignedPreKey (id: number): Promise<SignedPreKeyRecord> {
    const bytes = this.#pending((u) => u.signedPreKeys, id) ?? this.#saved.signedPreKeys.get(id)
    if (bytes === undefined) throw new Error(`no signed prekey ${id}`)
    return SignedPreKeyRecord.deserialize(blob(bytes))
  }

  async saveKyberPreKey (id: number, record: KyberPreKeyRecord): Promise<void> {
    this.saveKyber(id, record, false)
  }

  saveKyber (id: number, record: KyberPreKeyRecord, lastResort: boolean): void {
    const bytes = record.serialize()
    this.#direct((u) => u.kyberPreKeys.set(id, { record: bytes, lastResort }))
  }

  #kyber (id: number): { record: Uint8Array, lastResort: boolean } | undefined {
    const pending = this.#pending((u) => u.kyberPreKeys, id)
    if (pending === null) return undefined
    return pending ?? this.#saved.kyberPreKeys.get(id) ?? undefined
  }

  async getKyberPreKey (id: number): Promise<KyberPreKeyRecord> {
    const k = this.#kyber(id)
    if (k === undefined) throw new Error(`no Kyber prekey ${id}`)
    return KyberPreKeyRecord.deserialize(blob(k.record))
  }

  async markKyberPreKeyUsed (id: number, signedPreKeyId: number, baseKey: PublicKey): Promise<void> {
    const k = this.#kyber(id)
    if (k === undefined) throw new Error(`no Kyber prekey ${id}`)
    if (!k.lastResort) {
      this.#direct((u) => u.kyberPreKeys.set(id, null))
      return
    }
    const used = `${id}/${signedPreKeyId}/${Buffer.from(baseKey.serialize()).toString('hex')}`
    if (this.#units.some((u) => u.kyberUsed.includes(used)) || this.#saved.kyberUsed.includes(used)) throw new Error('Kyber prekey reused with the same base key')
    this.#direct((u) => u.kyberUsed.push(used))
  }

  async saveSenderKey (sender: ProtocolAddress, distributionId: Uuid, record: SenderKeyRecord): Promise<void> {
    const key = `${sender.name()}.${sender.deviceId()} ${distributionId}`
    this.#direct((u) => u.senderKeys.set(key, record.serialize()))
  }

  async getSenderKey (sender: ProtocolAddress, distributionId: Uuid): Promise<SenderKeyRecord | null> {
    const key = `${sender.name()}.${sender.deviceId()} ${distributionId}`
    const raw = this.#pending((u) => u.senderKeys, key) ?? this.#saved.senderKeys.get(key)
    return raw === undefined ? null : SenderKeyRecord.deserialize(blob(raw))
  }
}
