// The account row: identity key pair, registration id, prekey counters, self-issued sender certificate.
import type { Database } from './db.ts'

export interface AccountRow {
  readonly identityKeyPair: Uint8Array
  readonly registrationId: number
  readonly displayName: string
  readonly createdAt: number
  readonly signedPreKeyId: number
  readonly kyberLastResortId: number
  readonly nextPreKeyId: number
  readonly nextKyberPreKeyId: number
  readonly senderCertificate: Uint8Array
}

type Row = Record<string, unknown>

export class AccountRepository {
  constructor (private readonly db: Database) {}

  get (): AccountRow | undefined {
    const r = this.db.prepare('SELECT * FROM account WHERE id = 1').get() as Row | undefined
    if (r === undefined) return undefined
    return {
      identityKeyPair: r.identity_key_pair as Uint8Array,
      registrationId: r.registration_id as number,
      displayName: r.display_name as string,
      createdAt: r.created_at as number,
      signedPreKeyId: r.signed_prekey_id as number,
      kyberLastResortId: r.kyber_last_resort_id as number,
      nextPreKeyId: r.next_prekey_id as number,
      nextKyberPreKeyId: r.next_kyber_prekey_id as number,
      senderCertificate: r.sender_certificate as Uint8Array
    }
  }

  /** Inserts the one account row; the CHECK (id = 1) primary key makes a second insert fail. */
  insert (a: AccountRow): void {
    this.db.prepare(`INSERT INTO account (id, identity_key_pair, registration_id, display_name, created_at, signed_prekey_id,
      kyber_last_resort_id, next_prekey_id, next_kyber_prekey_id, sender_certificate) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run([a.identityKeyPair as Uint8Array<ArrayBuffer>, a.registrationId, a.displayName, a.createdAt, a.signedPreKeyId,
        a.kyberLastResortId, a.nextPreKeyId, a.nextKyberPreKeyId, a.senderCertificate as Uint8Array<ArrayBuffer>])
  }

  setDisplayName (name: string): void {
    this.db.prepare('UPDATE account SET display_name = ? WHERE id = 1').run([name])
  }

  setSenderCertificate (cert: Uint8Array): void {
    this.db.prepare('UPDATE account SET sender_certificate = ? WHERE id = 1').run([cert as Uint8Array<ArrayBuffer>])
  }

  /** The signed prekey new invites carry (after a rotation). */
  setSignedPreKeyId (id: number): void {
    this.db.prepare('UPDATE account SET signed_prekey_id = ? WHERE id = 1').run([id])
  }

  /** Reserves `n` consecutive one-time prekey ids (EC or Kyber) and returns the first. */
  reserveIds (kind: 'prekey' | 'kyber', n: number): number {
    const col = kind === 'prekey' ? 'next_prekey_id' : 'next_kyber_prekey_id'
    const first = this.db.prepare(`SELECT ${col} AS v FROM account WHERE id = 1`).get()?.v as number
    this.db.prepare(`UPDATE account SET ${col} = ? WHERE id = 1`).run([first + n])
    return first
  }
}
