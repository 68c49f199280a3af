// libsignal's session, identity, prekey, signed-prekey and Kyber-prekey stores on SQLCipher.
// Writes made during one operation are held in a unit of work and committed in one transaction
// with the caller's own writes (or dropped on failure), so a message that fails to decrypt or to
// be stored leaves the session exactly as it was. Units nest: a batch of envelopes is one outer
// unit (one commit) and each envelope an inner one, dropped alone when that envelope fails. Sessions and identities are cached in memory:
// this process is the only writer, and the per-message path then reads nothing from disk.
import {
  IdentityChange, IdentityKeyPair, KyberPreKeyRecord, PreKeyRecord, PublicKey, SenderKeyRecord, SessionRecord, SignedPreKeyRecord,
  type Direction, type SenderKeyStore, type Uuid, type IdentityKeyStore, type KyberPreKeyStore, type PreKeyStore, type PrivateKey, type ProtocolAddress,
  type SessionStore, type SignedPreKeyStore
} from '@signalapp/libsignal-client'
import type { Database } from './db.ts'

type Statement = ReturnType<Database['prepare']>

interface Unit {
  sessions: Map<string, SessionRecord>
  identities: Map<string, PublicKey>
  preKeys: Map<number, PreKeyRecord | null>
  signedPreKeys: Map<number, SignedPreKeyRecord>
  kyberPreKeys: Map<number, { record: KyberPreKeyRecord, lastResort: boolean } | null>
  kyberUsed: Array<{ kyberId: number, signedPreKeyId: number, baseKey: Uint8Array<ArrayBuffer> }>
  /** Issue 11: sender keys by `${address} ${distributionId}`. */
  senderKeys: Map<string, SenderKeyRecord>
  /** The callers' own writes (rows of the messenger, contact updates), run in the commit's transaction, in order. */
  writes: Array<() => void>
  /** In-memory effects that must wait for the commit (caches of what was written). */
  afters: Array<() => void>
}

const emptyUnit = (): Unit => ({
  sessions: new Map(), identities: new Map(), preKeys: new Map(), signedPreKeys: new Map(), kyberPreKeys: new Map(), kyberUsed: [], senderKeys: new Map(), writes: [], afters: []
})

/**
 * A session row's record and padding (zeros, in signal_sessions.pad) fill a multiple of this many bytes (issue 10,
 * store migration 17). A record changes length at most ratchet steps (tens of bytes), and SQLite rewrites a row of
 * another length as a new cell: new overflow pages taken from the free list, the old ones zeroed (secure_delete) and
 * freed, the free list and the header page written: 2N + 2 pages for a record on N overflow pages. A row of the same
 * length is overwritten in place, writing only the pages whose bytes changed. 512: a record that grows by some 64
 * bytes a message (as measured) crosses a boundary once in eight, and one of up to 1,472 bytes (a 1,536-byte row)
 * still fits on its table page at DEVICE_PAGE_SIZE.
 */
export const SESSION_ROW_QUANTUM = 512
/** The least padding: a pad of 58 bytes or more has a two-byte length in the row header (as the record has from
 * 58 to 8,185 bytes), so the header does not change length with the record either. */
const SESSION_MIN_PAD = 64

/** Zero bytes stored after a session record of `length` bytes. */
export function sessionPad (length: number): number {
  return Math.ceil((length + SESSION_MIN_PAD) / SESSION_ROW_QUANTUM) * SESSION_ROW_QUANTUM - length
}

function bytes (b: Uint8Array): Uint8Array<ArrayBuffer> {
  return b as Uint8Array<ArrayBuffer>
}

/**
 * libsignal's five stores plus the unit of work the Device wraps each operation in, as the e2ee
 * layer uses them. SignalStores (below) keeps them in SQLCipher.
 */
export interface SignalStore extends SessionStore, IdentityKeyStore, PreKeyStore, SignedPreKeyStore, KyberPreKeyStore, SenderKeyStore {
  /** Starts collecting writes. Units nest: an inner unit is a savepoint of the outer one. */
  begin: () => void
  /** Writes the unit and `extra` (the caller's rows) atomically; an inner unit joins the outer one instead. */
  commit: (extra?: () => void) => void
  /** Drops the innermost unit's writes (an outer unit keeps its own). */
  rollback: () => void
  /** A caller's write and its in-memory effect: joined to the open unit (written and applied at its commit,
   * dropped with it), or done at once when none is open. */
  defer: (write?: () => void, after?: () => void) => void
  /** Runs `fn` in a unit of work: committed with `extra` when fn resolves, dropped when it throws. */
  atomically: <T>(fn: () => Promise<T>, extra?: (result: T) => void) => Promise<T>
  session: (address: string) => SessionRecord | null
  identity: (address: string) => PublicKey | null
  /** Pins a contact's identity key. */
  pinIdentity: (address: string, key: PublicKey) => void
  saveKyber: (id: number, record: KyberPreKeyRecord, lastResort: boolean) => void
}

export class SignalStores implements SignalStore {
  /** Open units of work, innermost last. */
  private readonly units: Unit[] = []
  private readonly sessionCache = new Map<string, SessionRecord | null>()
  private readonly identityCache = new Map<string, PublicKey | null>()
  private readonly identityKeyPair: IdentityKeyPair
  /** Prepared once: the per-message path runs the session upsert on every commit. */
  private readonly upsertSession: Statement

  constructor (private readonly db: Database, identityKeyPair: Uint8Array, private readonly registrationId: number) {
    this.identityKeyPair = IdentityKeyPair.deserialize(bytes(identityKeyPair))
    this.upsertSession = db.prepare(`INSERT INTO signal_sessions (address, record, pad) VALUES (?, ?, zeroblob(?))
      ON CONFLICT (address) DO UPDATE SET record = excluded.record, pad = excluded.pad`)
  }

  private get unit (): Unit | undefined {
    return this.units[this.units.length - 1]
  }

  /** The newest pending value of a key, looking from the innermost unit out. */
  private pending<K, V> (pick: (u: Unit) => Map<K, V>, key: K): V | undefined {
    for (let i = this.units.length - 1; i >= 0; i--) {
      const m = pick(this.units[i] as Unit)
      if (m.has(key)) return m.get(key)
    }
    return undefined
  }

  // ---- unit of work ----

  /** Starts collecting writes; inside an open unit, a nested one (a savepoint: its failure drops only its own writes). */
  begin (): void {
    this.units.push(emptyUnit())
  }

  /**
   * The outermost unit: writes it and `extra` (the caller's rows) in one transaction, then updates the
   * caches and runs the deferred effects. A nested unit: its writes join the outer unit's, `extra` after them.
   */
  commit (extra?: () => void): void {
    const u = this.unit
    if (u === undefined) throw new Error('SignalStores: no unit of work open')
    const outer = this.units[this.units.length - 2]
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
      this.units.pop()
      return
    }
    this.db.transaction(() => {
      this.write(u)
      for (const w of u.writes) w()
      extra?.()
    })()
    this.units.pop()
    for (const [k, v] of u.sessions) this.sessionCache.set(k, v)
    for (const [k, v] of u.identities) this.identityCache.set(k, v)
    for (const a of u.afters) a()
  }

  rollback (): void {
    this.units.pop()
  }

  defer (write?: () => void, after?: () => void): void {
    const u = this.unit
    if (u === undefined) {
      write?.()
      after?.()
      return
    }
    if (write !== undefined) u.writes.push(write)
    if (after !== undefined) u.afters.push(after)
  }

  /** Runs `fn` in a unit of work: committed with `extra` when fn resolves, dropped when it throws. */
  async atomically<T> (fn: () => Promise<T>, extra?: (result: T) => void): Promise<T> {
    return await runAtomically(this, fn, extra)
  }

  private write (u: Unit): void {
    const db = this.db
    for (const [address, record] of u.sessions) {
      const serialized = record.serialize()
      this.upsertSession.run([address, serialized, sessionPad(serialized.length)])
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
    for (const [key, record] of u.senderKeys) {
      const [address, distributionId] = key.split(' ') as [string, string]
      db.prepare('INSERT INTO signal_sender_keys (address, distribution_id, record) VALUES (?, ?, ?) ON CONFLICT (address, distribution_id) DO UPDATE SET record = excluded.record')
        .run([address, distributionId, record.serialize()])
    }
  }

  /** Outside a unit of work (account creation, invites) writes go straight to the database. */
  private direct (fill: (u: Unit) => void): void {
    const open = this.unit
    if (open !== undefined) {
      fill(open)
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
    const pending = this.pending((u) => u.sessions, address)
    if (pending !== undefined) return pending
    const cached = this.sessionCache.get(address)
    if (cached !== undefined) return cached
    const row = this.db.prepare('SELECT record FROM signal_sessions WHERE address = ?').get([address])
    const record = row === undefined ? null : SessionRecord.deserialize(bytes(row.record as Uint8Array))
    this.sessionCache.set(address, record)
    return record
  }

  /** A deleted contact's session and pinned key (src/e2ee/delete-contact.ts): dropped from the caches too. */
  forgetAddress (address: string): void {
    this.sessionCache.delete(address)
    this.identityCache.delete(address)
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
    const pending = this.pending((u) => u.identities, address)
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
    const pending = this.pending((u) => u.preKeys, id)
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
    const pending = this.pending((u) => u.signedPreKeys, id)
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
    const pending = this.pending((u) => u.kyberPreKeys, id)
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
    const seenPending = this.units.some((u) => u.kyberUsed.some((x) => x.kyberId === id && x.signedPreKeyId === signedPreKeyId && Buffer.from(x.baseKey).equals(base)))
    const seen = seenPending || this.db.prepare('SELECT 1 AS x FROM signal_kyber_used WHERE kyber_id = ? AND signed_prekey_id = ? AND base_key = ?').get([id, signedPreKeyId, base]) !== undefined
    if (seen) throw new Error('Kyber prekey reused with the same base key')
    this.direct((u) => u.kyberUsed.push({ kyberId: id, signedPreKeyId, baseKey: base }))
  }

  // ---- SenderKeyStore (issue 11: groups) ----
  // Written in the unit of work like sessions: a group message that fails to open or to be stored leaves the
  // sender's chain where it was. Not cached: read once per group message opened or sealed, by primary key.

  async saveSenderKey (sender: ProtocolAddress, distributionId: Uuid, record: SenderKeyRecord): Promise<void> {
    const key = `${sender.name()}.${sender.deviceId()} ${distributionId}`
    this.direct((u) => u.senderKeys.set(key, record))
  }

  async getSenderKey (sender: ProtocolAddress, distributionId: Uuid): Promise<SenderKeyRecord | null> {
    const key = `${sender.name()}.${sender.deviceId()} ${distributionId}`
    const pending = this.pending((u) => u.senderKeys, key)
    if (pending !== undefined) return pending
    const row = this.db.prepare('SELECT record FROM signal_sender_keys WHERE address = ? AND distribution_id = ?')
      .get([`${sender.name()}.${sender.deviceId()}`, distributionId]) as { record: Uint8Array } | undefined
    return row === undefined ? null : SenderKeyRecord.deserialize(bytes(row.record))
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
