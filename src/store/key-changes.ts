// A contact's identity key that changed (issue 14 item 8): each new key seen for a contact, what the
// user decided about it, and the envelopes held under a pending key until the user decides.
import { createHash } from 'node:crypto'
import type { Database } from './db.ts'

export type KeyChangeState = 'pending' | 'accepted' | 'blocked'

export interface KeyChangeRow {
  readonly contactId: string
  /** The new identity key (serialized libsignal public key): not trusted while pending. */
  readonly identityKey: Uint8Array
  /** When the first envelope under this key arrived. */
  readonly at: number
  readonly state: KeyChangeState
  readonly decidedAt?: number
}

type Blob = Uint8Array<ArrayBuffer>

function toRow (r: Record<string, unknown>): KeyChangeRow {
  return {
    contactId: r.contact_id as string,
    identityKey: r.identity_key as Uint8Array,
    at: r.at as number,
    state: r.state as KeyChangeState,
    ...(r.decided_at === null ? {} : { decidedAt: r.decided_at as number })
  }
}

const sha256 = (b: Uint8Array): Blob => new Uint8Array(createHash('sha256').update(b).digest())

export class KeyChangeRepository {
  constructor (private readonly db: Database) {}

  /** Every key change of a contact: the pending one first, then newest first. */
  forContact (contactId: string): KeyChangeRow[] {
    return this.db.prepare("SELECT * FROM key_changes WHERE contact_id = ? ORDER BY state = 'pending' DESC, at DESC").all([contactId]).map(toRow)
  }

  /** Each contact's current key change: the pending one, else the newest decided one. */
  latest (): Map<string, KeyChangeRow> {
    const out = new Map<string, KeyChangeRow>()
    for (const r of this.db.prepare("SELECT * FROM key_changes ORDER BY state = 'pending' DESC, at DESC").all().map(toRow)) {
      if (!out.has(r.contactId)) out.set(r.contactId, r)
    }
    return out
  }

  find (contactId: string, identityKey: Uint8Array): KeyChangeRow | undefined {
    const r = this.db.prepare('SELECT * FROM key_changes WHERE contact_id = ? AND identity_key = ?').get([contactId, identityKey as Blob])
    return r === undefined ? undefined : toRow(r)
  }

  /**
   * Records `identityKey` as the contact's pending key change. Another pending key of the contact is
   * replaced (with its held envelopes): only the newest key waits for a decision. Keeps at most
   * `keep` rows per contact (the oldest decided ones go first).
   */
  setPending (contactId: string, identityKey: Uint8Array, at: number, keep: number): void {
    this.db.prepare("DELETE FROM held_envelopes WHERE contact_id = ? AND identity_key IN (SELECT identity_key FROM key_changes WHERE contact_id = ? AND state = 'pending')")
      .run([contactId, contactId])
    this.db.prepare("DELETE FROM key_changes WHERE contact_id = ? AND state = 'pending'").run([contactId])
    this.db.prepare("INSERT INTO key_changes (contact_id, identity_key, at, state) VALUES (?, ?, ?, 'pending')").run([contactId, identityKey as Blob, at])
    this.db.prepare(`DELETE FROM key_changes WHERE contact_id = ? AND identity_key IN (
      SELECT identity_key FROM key_changes WHERE contact_id = ? ORDER BY state = 'pending' DESC, at DESC LIMIT -1 OFFSET ?)`).run([contactId, contactId, keep])
  }

  decide (contactId: string, identityKey: Uint8Array, state: 'accepted' | 'blocked', at: number): void {
    this.db.prepare('UPDATE key_changes SET state = ?, decided_at = ? WHERE contact_id = ? AND identity_key = ?').run([state, at, contactId, identityKey as Blob])
  }

  /** Holds an envelope under a key; false when it is already held (the same bytes came again). */
  hold (contactId: string, identityKey: Uint8Array, envelope: Uint8Array, at: number): boolean {
    return this.db.prepare('INSERT OR IGNORE INTO held_envelopes (contact_id, identity_key, hash, envelope, at) VALUES (?, ?, ?, ?, ?)')
      .run([contactId, identityKey as Blob, sha256(envelope), envelope as Blob, at]).changes === 1
  }

  isHeld (envelope: Uint8Array): boolean {
    return this.db.prepare('SELECT 1 AS x FROM held_envelopes WHERE hash = ?').get([sha256(envelope)]) !== undefined
  }

  heldCount (contactId: string, identityKey: Uint8Array): number {
    return Number(this.db.prepare('SELECT count(*) AS n FROM held_envelopes WHERE contact_id = ? AND identity_key = ?').get([contactId, identityKey as Blob])?.n ?? 0)
  }

  /** Held envelopes under a key, in the order they arrived. */
  held (contactId: string, identityKey: Uint8Array): Uint8Array[] {
    return this.db.prepare('SELECT envelope FROM held_envelopes WHERE contact_id = ? AND identity_key = ? ORDER BY seq')
      .all([contactId, identityKey as Blob]).map((r) => r.envelope as Uint8Array)
  }

  dropHeld (contactId: string, identityKey: Uint8Array): void {
    this.db.prepare('DELETE FROM held_envelopes WHERE contact_id = ? AND identity_key = ?').run([contactId, identityKey as Blob])
  }

  /**
   * The one write that replaces a contact's pinned identity key, made only when the user accepts a key
   * change: the account id and libsignal address derive from the key, and the new key is not verified.
   */
  repinContact (contactId: string, o: { identityKey: Uint8Array, accountId: string, address: string }): void {
    this.db.prepare('UPDATE contacts SET identity_key = ?, account_id = ?, address = ?, verified = 0 WHERE id = ?')
      .run([o.identityKey as Blob, o.accountId, o.address, contactId])
  }
}
