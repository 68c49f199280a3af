// libsignal's session, identity, prekey, signed-prekey and Kyber-prekey stores on SQLCipher.
// Writes made during one operation are held in a unit of work and committed in one transaction
// with the caller's own writes (or dropped on failure), so a message that fails to decrypt or to
// be stored leaves the session exactly as it was. Sessions and identities are cached in memory:
// this process is the only writer, and the per-message path then reads nothing from disk.
import {
  IdentityChange, IdentityKeyPair, KyberPreKeyRecord, PreKeyRecord, PublicKey, SessionRecord, SignedPreKeyRecord,
  type Direction, type IdentityKeyStore, type KyberPreKeyStore, type PreKeyStore, type PrivateKey, type ProtocolAddress,
  type SessionStore, type SignedPreKeyStore
} from '@signalapp/libsignal-client'
import type { Database } from './db.ts'

interface Unit {
  sessions: Map<string, SessionRecord>
  identities: Map<string, PublicKey>
  preKeys: Map<number, PreKeyRecord | null>
  signedPreKeys: Map<number, SignedPreKeyRecord>
  kyberPreKeys: Map<number, { record: KyberPreKeyRecord, lastResort: boolean } | null>
  kyberUsed: Array<{ kyberId: number, signedPreKeyId: number, baseKey: Uint8Array<ArrayBuffer> }>
}

function bytes (b: Uint8Array): Uint8Array<ArrayBuffer> {
  return b as Uint8Array<ArrayBuffer>
}

/**
 * libsignal's five stores plus the unit of work the Device wraps each operation in, as the e2ee
 * layer uses them. SignalStores (below) keeps them in SQLCipher.
 */
export interface SignalStore extends SessionStore, IdentityKeyStore, PreKeyStore, SignedPreKeyStore, KyberPreKeyStore {
  /** Starts collecting writes; units do not nest. */
  begin: () => void
  /** Writes the unit and `extra` (the caller's rows) atomically. */
  commit: (extra?: () => void) => void
  /** Drops the unit's writes. */
  rollback: () => void
  /** Runs `fn` in a unit of work: committed with `extra` when fn resolves, dropped when it throws. */
  atomically: <T>(fn: () => Promise<T>, extra?: (result: T) => void) => Promise<T>
  session: (address: string) => SessionRecord | null
  identity: (address: string) => PublicKey | null
  /** Pins a contact's identity key. */
  pinIdentity: (address: string, key: PublicKey) => void
  saveKyber: (id: number, record: KyberPreKeyRecord, lastResort: boolean) => void
}

export class SignalStores implements SignalStore {
  private unit: Unit | undefined
  private readonly sessionCache = new Map<string, SessionRecord | null>()
  private readonly identityCache = new Map<string, PublicKey | null>()
  private readonly identityKeyPair: IdentityKeyPair

  constructor (private readonly db: Database, identityKeyPair: Uint8Array, private readonly registrationId: number) {
    this.identityKeyPair = IdentityKeyPair.deserialize(bytes(identityKeyPair))
  }

  // ---- unit of work ----

  /** Starts collecting writes. Units do not nest: the Device serializes its operations. */
  begin (): void {
    if (this.unit !== undefined) throw new Error('SignalStores: a unit of work is already open')
    this.unit = { sessions: new Map(), identities: new Map(), preKeys: new Map(), signedPreKeys: new Map(), kyberPreKeys: new Map(), kyberUsed: [] }
  }

  /** Writes the unit and `extra` (the caller's rows) in one transaction, then updates the caches. */
  commit (extra?: () => void): void {
    const u = this.unit
    if (u === undefined) throw new Error('SignalStores: no unit of work open')
    this.db.transaction(() => {
      this.write(u)
      extra?.()
    })()
    this.unit = undefined
    for (const [k, v] of u.sessions) this.sessionCache.set(k, v)
    for (const [k, v] of u.identities) this.identityCache.set(k, v)
  }

  rollback (): void {
    this.unit = undefined
  }

  /** Runs `fn` in a unit of work: committed with `extra` when fn resolves, dropped when it throws. */
  async atomically<T> (fn: () => Promise<T>, extra?: (result: T) => void): Promise<T> {
    return await runAtomically(this, fn, extra)
  }

  private write (u: Unit): void {
    const db = this.db
    for (const [address, record] of u.sessions) {
      db.prepare('INSERT INTO signal_sessions (address, record) VALUES (?, ?) ON CONFLICT (address) DO UPDATE SET record = excluded.record').run([address, record.serialize()])
    }
    for (const [address, key] of u.identities) {
      db.prepare('INSERT INTO signal_identities (address, identity_key) VALUES (?, ?) ON CONFLICT (address) DO UPDATE SET identity_key = excluded.identity_key').run([address, key.serialize()])
    }
    for (const [id, record] of u.preKeys) {
      if (record === null) db.prepare('DELETE FROM signal_prekeys WHERE id = ?').run([id])
      else db.prepare('INSERT OR REPLACE INTO signal_prekeys (id, record) VALUES (?, ?)').run([id, record.serialize()])
    }
    for (const [id, record] of u.signedPreKeys) {
      db.prepare('INSERT OR REPLACE INTO signal_signed_prekeys (id, record) VALUES (?, ?)').run([id, record.serialize()])
    }
    for (const [id, entry] of u.kyberPreKeys) {
      if (entry === null) db.prepare('DELETE FROM signal_kyber_prekeys WHERE id = ?').run([id])
      else db.prepare('INSERT OR REPLACE INTO signal_kyber_prekeys (id, record, last_resort) VALUES (?, ?, ?)').run([id, entry.record.serialize(), entry.lastResort ? 1 : 0])
    }
    for (const used of u.kyberUsed) {
      db.prepare('INSERT INTO signal_kyber_used (kyber_id, signed_prekey_id, base_key) VALUES (?, ?, ?)').run([used.kyberId, used.signedPreKeyId, used.baseKey])
    }
  }

  /** Outside a unit of work (account creation, invites) writes go straight to the database. */
  private direct (fill: (u: Unit) => void): void {
    if (this.unit !== undefined) {
      fill(this.unit)
      return
    }
    this.begin()
    try {
      fill(this.unit as unknown as Unit)
      this.commit()
    } catch (err) {
      this.rollback()
      throw err
    }
  }

  // ---- SessionStore ----

  async saveSession (name: ProtocolAddress, record: SessionRecord): Promise<void> {
    const address = name.name()
    this.direct((u) => u.sessions.set(address, record))
  }

  async getSession (name: ProtocolAddress): Promise<SessionRecord | null> {
    return this.session(name.name())
  }

  session (address: string): SessionRecord | null {
    const pending = this.unit?.sessions.get(address)
    if (pending !== undefined) return pending
    const cached = this.sessionCache.get(address)
    if (cached !== undefined) return cached
    const row = this.db.prepare('SELECT record FROM signal_sessions WHERE address = ?').get([address])
    const record = row === undefined ? null : SessionRecord.deserialize(bytes(row.record as Uint8Array))
    this.sessionCache.set(address, record)
    return record
  }

  async getExistingSessions (addresses: ProtocolAddress[]): Promise<SessionRecord[]> {
    return addresses.map((a) => {
      const s = this.session(a.name())
      if (s === null) throw new Error('no session for an address')
      return s
    })
  }

  // ---- IdentityKeyStore ----

  async getIdentityKey (): Promise<PrivateKey> {
    return this.identityKeyPair.privateKey
  }

  async getIdentityKeyPair (): Promise<IdentityKeyPair> {
    return this.identityKeyPair
  }

  async getLocalRegistrationId (): Promise<number> {
    return this.registrationId
  }

  identity (address: string): PublicKey | null {
    const pending = this.unit?.identities.get(address)
    if (pending !== undefined) return pending
    const cached = this.identityCache.get(address)
    if (cached !== undefined) return cached
    const row = this.db.prepare('SELECT identity_key FROM signal_identities WHERE address = ?').get([address])
    const key = row === undefined ? null : PublicKey.deserialize(bytes(row.identity_key as Uint8Array))
    this.identityCache.set(address, key)
    return key
  }

  /** Pins a contact's identity key (from the invite, or the sealed-sender certificate of a new contact). */
  pinIdentity (address: string, key: PublicKey): void {
    this.direct((u) => u.identities.set(address, key))
  }

  async saveIdentity (name: ProtocolAddress, key: PublicKey): Promise<IdentityChange> {
    const address = name.name()
    const existing = this.identity(address)
    if (existing !== null && existing.equals(key)) return IdentityChange.NewOrUnchanged
    this.direct((u) => u.identities.set(address, key))
    return existing === null ? IdentityChange.NewOrUnchanged : IdentityChange.ReplacedExisting
  }

  /** Never trust on first use: a key is trusted only if it equals the one pinned for the address. */
  async isTrustedIdentity (name: ProtocolAddress, key: PublicKey, _direction: Direction): Promise<boolean> {
    const pinned = this.identity(name.name())
    return pinned !== null && pinned.equals(key)
  }

  async getIdentity (name: ProtocolAddress): Promise<PublicKey | null> {
    return this.identity(name.name())
  }

  // ---- PreKeyStore ----

  async savePreKey (id: number, record: PreKeyRecord): Promise<void> {
    this.direct((u) => u.preKeys.set(id, record))
  }

  async getPreKey (id: number): Promise<PreKeyRecord> {
    const pending = this.unit?.preKeys.get(id)
    if (pending === null) throw new Error(`prekey ${id} was used`)
    if (pending !== undefined) return pending
    const row = this.db.prepare('SELECT record FROM signal_prekeys WHERE id = ?').get([id])
    if (row === undefined) throw new Error(`no prekey ${id}`)
    return PreKeyRecord.deserialize(bytes(row.record as Uint8Array))
  }

  async removePreKey (id: number): Promise<void> {
    this.direct((u) => u.preKeys.set(id, null))
  }

  // ---- SignedPreKeyStore ----

  async saveSignedPreKey (id: number, record: SignedPreKeyRecord): Promise<void> {
    this.direct((u) => u.signedPreKeys.set(id, record))
  }

  async getSignedPreKey (id: number): Promise<SignedPreKeyRecord> {
    const pending = this.unit?.signedPreKeys.get(id)
    if (pending !== undefined) return pending
    const row = this.db.prepare('SELECT record FROM signal_signed_prekeys WHERE id = ?').get([id])
    if (row === undefined) throw new Error(`no signed prekey ${id}`)
    return SignedPreKeyRecord.deserialize(bytes(row.record as Uint8Array))
  }

  // ---- KyberPreKeyStore ----

  async saveKyberPreKey (id: number, record: KyberPreKeyRecord): Promise<void> {
    this.saveKyber(id, record, false)
  }

  saveKyber (id: number, record: KyberPreKeyRecord, lastResort: boolean): void {
    this.direct((u) => u.kyberPreKeys.set(id, { record, lastResort }))
  }

  private kyber (id: number): { record: KyberPreKeyRecord, lastResort: boolean } | undefined {
    const pending = this.unit?.kyberPreKeys.get(id)
    if (pending === null) return undefined
    if (pending !== undefined) return pending
    const row = this.db.prepare('SELECT record, last_resort FROM signal_kyber_prekeys WHERE id = ?').get([id])
    if (row === undefined) return undefined
    return { record: KyberPreKeyRecord.deserialize(bytes(row.record as Uint8Array)), lastResort: row.last_resort === 1 }
  }

  async getKyberPreKey (id: number): Promise<KyberPreKeyRecord> {
    const k = this.kyber(id)
    if (k === undefined) throw new Error(`no Kyber prekey ${id}`)
    return k.record
  }

  /** One-time Kyber prekeys are deleted; the last-resort one records (signed prekey, base key) and
   * refuses the same pair twice, as libsignal's contract asks. */
  async markKyberPreKeyUsed (id: number, signedPreKeyId: number, baseKey: PublicKey): Promise<void> {
    const k = this.kyber(id)
    if (k === undefined) throw new Error(`no Kyber prekey ${id}`)
    if (!k.lastResort) {
      this.direct((u) => u.kyberPreKeys.set(id, null))
      return
    }
    const base = baseKey.serialize()
    const seenPending = this.unit?.kyberUsed.some((x) => x.kyberId === id && x.signedPreKeyId === signedPreKeyId && Buffer.from(x.baseKey).equals(base)) ?? false
    const seen = seenPending || this.db.prepare('SELECT 1 AS x FROM signal_kyber_used WHERE kyber_id = ? AND signed_prekey_id = ? AND base_key = ?').get([id, signedPreKeyId, base]) !== undefined
    if (seen) throw new Error('Kyber prekey reused with the same base key')
    this.direct((u) => u.kyberUsed.push({ kyberId: id, signedPreKeyId, baseKey: base }))
  }
}

/** The unit-of-work protocol shared by every SignalStore (the SQLCipher one and the test twin). */
export async function runAtomically<T> (
  unit: { begin: () => void, commit: (extra?: () => void) => void, rollback: () => void },
  fn: () => Promise<T>, extra?: (result: T) => void
): Promise<T> {
  unit.begin()
  let result: T
  try {
    result = await fn()
  } catch (err) {
    unit.rollback()
    throw err
  }
  try {
    unit.commit(extra === undefined ? undefined : () => { extra(result) })
  } catch (err) {
    unit.rollback()
    throw err
  }
  return result
}
