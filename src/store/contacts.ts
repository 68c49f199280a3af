// Contacts and pending invites. A contact pins the other side's identity key and holds both
// mailboxes of the pair: theirs (where I deposit) and mine (where they deposit, with its signing key).
import type { Database } from './db.ts'
import type { KeyChangeState } from './key-changes.ts'

/** The newest change of a contact's identity key (src/e2ee/key-change.ts); not a column of contacts. */
export interface KeyChangeInfo {
  /** When the first envelope under the new key arrived. */
  readonly at: number
  /** pending: waits for the user; accepted: the new key is pinned now; blocked: its envelopes are dropped. */
  readonly state: KeyChangeState
  /** Envelopes held under the new key (opened if the user accepts). */
  readonly held: number
  readonly decidedAt?: number
}

/** What the messenger sees of a contact (the contract's ContactRecord). */
export interface ContactRecord {
  readonly id: string
  readonly name: string
  readonly accountId: string
  /** Serialized libsignal identity public key (33 bytes), pinned from the invite exchange. */
  readonly identityKey: Uint8Array
  readonly verified: boolean
  readonly createdAt: number
  readonly theirMailboxId: Uint8Array
  readonly theirRelays: string[]
  readonly theirPeerId?: string
  readonly theirAddresses: string[]
  readonly theirPresenceSecret?: Uint8Array
  readonly myMailboxId: Uint8Array
  readonly myPresenceSecret: Uint8Array
  /** Present once the contact's identity key has changed: the newest such change. */
  readonly keyChange?: KeyChangeInfo
}

/** The invite's mailbox after the handshake (inviter side): drained, then dropped (src/e2ee/retire.ts). */
export interface RetiredMailbox {
  readonly mailboxId: Uint8Array
  readonly mailboxKey: Uint8Array
  readonly privateKey: Uint8Array
  readonly publicKey: Uint8Array
  /** When the contact was first seen writing to the fresh mailbox (it had my card); undefined until then. */
  readonly switchedAt?: number
  /** Still fetched from the relays (false once drained after the grace). */
  readonly fetching: boolean
}

/** The full row, secrets included: stays inside src/e2ee and src/store. */
export interface ContactRow extends ContactRecord {
  readonly renamed: boolean
  readonly theirDisplayName: string
  /** libsignal address name (UUID derived from the identity key). */
  readonly address: string
  readonly theirMailboxKey: Uint8Array
  readonly theirCertificate?: Uint8Array
  readonly myMailboxKey: Uint8Array
  /** Ed25519 private key, PKCS#8 DER. */
  readonly myMailboxPrivateKey: Uint8Array
  /** Ed25519 public key, raw 32 bytes; SHA-256 of it is myMailboxId. */
  readonly myMailboxPublicKey: Uint8Array
  /** Signs my presence records for this contact: Ed25519 PKCS#8 private key, raw public key (sent in my card). */
  readonly myPresenceSigningKey: Uint8Array
  readonly myPresencePublicKey: Uint8Array
  /** Verifies their presence records; from their card (an invite carries none). */
  readonly theirPresenceKey?: Uint8Array
  readonly retired?: RetiredMailbox
}

export interface PendingInvite {
  readonly mailboxId: Uint8Array
  readonly mailboxKey: Uint8Array
  readonly mailboxPrivateKey: Uint8Array
  readonly mailboxPublicKey: Uint8Array
  /** Unused since invite v2 (never sent; the contact gets fresh presence keys at the handshake). */
  readonly presenceSecret: Uint8Array
  readonly preKeyId: number
  readonly kyberPreKeyId: number
  readonly createdAt: number
  readonly expiresAt: number
}

type Row = Record<string, unknown>
type Blob = Uint8Array<ArrayBuffer>

function toContact (r: Row): ContactRow {
  return {
    id: r.id as string,
    name: r.name as string,
    renamed: r.renamed === 1,
    theirDisplayName: r.their_display_name as string,
    accountId: r.account_id as string,
    identityKey: r.identity_key as Uint8Array,
    address: r.address as string,
    verified: r.verified === 1,
    createdAt: r.created_at as number,
    theirMailboxId: r.their_mailbox_id as Uint8Array,
    theirMailboxKey: r.their_mailbox_key as Uint8Array,
    theirRelays: JSON.parse(r.their_relays as string) as string[],
    ...(r.their_peer_id === null ? {} : { theirPeerId: r.their_peer_id as string }),
    theirAddresses: JSON.parse(r.their_addresses as string) as string[],
    ...(r.their_presence_secret === null ? {} : { theirPresenceSecret: r.their_presence_secret as Uint8Array }),
    ...(r.their_certificate === null ? {} : { theirCertificate: r.their_certificate as Uint8Array }),
    myMailboxId: r.my_mailbox_id as Uint8Array,
    myMailboxKey: r.my_mailbox_key as Uint8Array,
    myMailboxPrivateKey: r.my_mailbox_private_key as Uint8Array,
    myMailboxPublicKey: r.my_mailbox_public_key as Uint8Array,
    myPresenceSecret: r.my_presence_secret as Uint8Array,
    // Rows from before migration 5 have no presence keys yet: the Device fills them in at open.
    myPresenceSigningKey: (r.my_presence_signing_key ?? new Uint8Array(0)) as Uint8Array,
    myPresencePublicKey: (r.my_presence_public_key ?? new Uint8Array(0)) as Uint8Array,
    ...(r.their_presence_key === null ? {} : { theirPresenceKey: r.their_presence_key as Uint8Array }),
    ...(r.retired_mailbox_id === null
      ? {}
      : {
          retired: {
            mailboxId: r.retired_mailbox_id as Uint8Array,
            mailboxKey: r.retired_mailbox_key as Uint8Array,
            privateKey: r.retired_mailbox_private_key as Uint8Array,
            publicKey: r.retired_mailbox_public_key as Uint8Array,
            ...(r.retired_at === null ? {} : { switchedAt: r.retired_at as number }),
            fetching: r.retired_fetch === 1
          }
        })
  }
}

/** Strips the secrets: what leaves the e2ee layer. */
export function publicContact (c: ContactRow): ContactRecord {
  return {
    id: c.id,
    name: c.name,
    accountId: c.accountId,
    identityKey: c.identityKey,
    verified: c.verified,
    createdAt: c.createdAt,
    theirMailboxId: c.theirMailboxId,
    theirRelays: [...c.theirRelays],
    ...(c.theirPeerId === undefined ? {} : { theirPeerId: c.theirPeerId }),
    theirAddresses: [...c.theirAddresses],
    ...(c.theirPresenceSecret === undefined ? {} : { theirPresenceSecret: c.theirPresenceSecret }),
    myMailboxId: c.myMailboxId,
    myPresenceSecret: c.myPresenceSecret,
    ...(c.keyChange === undefined ? {} : { keyChange: c.keyChange })
  }
}

/** A contact's card as received from the contact (their side of the pair). */
export interface TheirCard {
  readonly displayName: string
  readonly mailboxId: Uint8Array
  readonly mailboxKey: Uint8Array
  readonly relays: readonly string[]
  readonly peerId?: string
  readonly addresses: readonly string[]
  readonly presenceSecret: Uint8Array
  readonly presenceKey: Uint8Array
  readonly certificate: Uint8Array
}

/**
 * Contacts and pending invites, as the e2ee layer uses them. ContactRepository keeps them in
 * SQLCipher; test/twins/memory-contacts.ts is the in-memory twin, held to the same assertions by
 * test/store/contacts-contract.test.ts.
 */
export interface ContactStore {
  /** Adds a contact; its id, account id, libsignal address and my mailbox id are unique (throws otherwise). */
  insert: (c: ContactRow) => void
  get: (id: string) => ContactRow | undefined
  byAccountId: (accountId: string) => ContactRow | undefined
  /** Every contact, oldest first (then by id). */
  all: () => ContactRow[]
  /** Applies a contact card; keeps a name the user chose (renamed) instead of their display name. */
  updateTheirs: (id: string, c: TheirCard) => void
  /** Gives a contact from before migration 5 its presence signing key. */
  setMyPresenceKeys: (id: string, signingKey: Uint8Array, publicKey: Uint8Array) => void
  /** The contact has been seen writing to its fresh mailbox (first time only). */
  setSwitched: (id: string, at: number) => void
  /** The retired mailbox is no longer fetched; its key still opens late copies. */
  stopFetchingRetired: (id: string) => void
  /** Forgets the retired mailbox and its keys. */
  dropRetired: (id: string) => void
  /** Returns false when there is no such contact. */
  rename: (id: string, name: string) => boolean
  setVerified: (id: string, verified: boolean) => boolean
  insertPending: (p: PendingInvite) => void
  /** Pending invites, oldest first. */
  pending: () => PendingInvite[]
  deletePending: (mailboxId: Uint8Array) => void
  /** Prekey ids already promised to an invite (each one-time prekey goes into one invite only). */
  pendingPreKeyIds: () => Set<number>
}

export class ContactRepository implements ContactStore {
  constructor (private readonly db: Database) {}

  insert (c: ContactRow): void {
    this.db.prepare(`INSERT INTO contacts (id, name, renamed, their_display_name, account_id, identity_key, address, verified,
      created_at, their_mailbox_id, their_mailbox_key, their_relays, their_peer_id, their_addresses, their_presence_secret,
      their_certificate, my_mailbox_id, my_mailbox_key, my_mailbox_private_key, my_mailbox_public_key, my_presence_secret,
      my_presence_signing_key, my_presence_public_key, their_presence_key, retired_mailbox_id, retired_mailbox_key,
      retired_mailbox_private_key, retired_mailbox_public_key, retired_at, retired_fetch)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run([
      c.id, c.name, c.renamed ? 1 : 0, c.theirDisplayName, c.accountId, c.identityKey as Blob, c.address, c.verified ? 1 : 0,
      c.createdAt, c.theirMailboxId as Blob, c.theirMailboxKey as Blob, JSON.stringify(c.theirRelays), c.theirPeerId ?? null,
      JSON.stringify(c.theirAddresses), (c.theirPresenceSecret ?? null) as Blob | null, (c.theirCertificate ?? null) as Blob | null,
      c.myMailboxId as Blob, c.myMailboxKey as Blob, c.myMailboxPrivateKey as Blob, c.myMailboxPublicKey as Blob, c.myPresenceSecret as Blob,
      c.myPresenceSigningKey as Blob, c.myPresencePublicKey as Blob, (c.theirPresenceKey ?? null) as Blob | null,
      (c.retired?.mailboxId ?? null) as Blob | null, (c.retired?.mailboxKey ?? null) as Blob | null,
      (c.retired?.privateKey ?? null) as Blob | null, (c.retired?.publicKey ?? null) as Blob | null,
      c.retired?.switchedAt ?? null, c.retired?.fetching === true ? 1 : 0
    ])
  }

  get (id: string): ContactRow | undefined {
    const r = this.db.prepare('SELECT * FROM contacts WHERE id = ?').get([id])
    return r === undefined ? undefined : toContact(r)
  }

  byAccountId (accountId: string): ContactRow | undefined {
    const r = this.db.prepare('SELECT * FROM contacts WHERE account_id = ?').get([accountId])
    return r === undefined ? undefined : toContact(r)
  }

  all (): ContactRow[] {
    return this.db.prepare('SELECT * FROM contacts ORDER BY created_at, id').all().map(toContact)
  }

  /** Applies a contact card received from the contact (their side of the pair). */
  updateTheirs (id: string, c: TheirCard): void {
    this.db.prepare(`UPDATE contacts SET their_display_name = ?, name = CASE WHEN renamed = 1 THEN name ELSE ? END,
      their_mailbox_id = ?, their_mailbox_key = ?, their_relays = ?, their_peer_id = ?, their_addresses = ?,
      their_presence_secret = ?, their_presence_key = ?, their_certificate = ? WHERE id = ?`).run([
      c.displayName, c.displayName, c.mailboxId as Blob, c.mailboxKey as Blob, JSON.stringify(c.relays), c.peerId ?? null,
      JSON.stringify(c.addresses), c.presenceSecret as Blob, c.presenceKey as Blob, c.certificate as Blob, id
    ])
  }

  /** Gives a contact from before migration 5 its presence signing key. */
  setMyPresenceKeys (id: string, signingKey: Uint8Array, publicKey: Uint8Array): void {
    this.db.prepare('UPDATE contacts SET my_presence_signing_key = ?, my_presence_public_key = ? WHERE id = ?')
      .run([signingKey as Blob, publicKey as Blob, id])
  }

  /** The contact has been seen writing to its fresh mailbox. */
  setSwitched (id: string, at: number): void {
    this.db.prepare('UPDATE contacts SET retired_at = ? WHERE id = ? AND retired_at IS NULL').run([at, id])
  }

  /** The retired mailbox is no longer fetched (drained after the grace); its key still opens late copies. */
  stopFetchingRetired (id: string): void {
    this.db.prepare('UPDATE contacts SET retired_fetch = 0 WHERE id = ?').run([id])
  }

  /** Forgets the retired mailbox and its keys. */
  dropRetired (id: string): void {
    this.db.prepare(`UPDATE contacts SET retired_mailbox_id = NULL, retired_mailbox_key = NULL, retired_mailbox_private_key = NULL,
      retired_mailbox_public_key = NULL, retired_at = NULL, retired_fetch = 0 WHERE id = ?`).run([id])
  }

  rename (id: string, name: string): boolean {
    return this.db.prepare('UPDATE contacts SET name = ?, renamed = 1 WHERE id = ?').run([name, id]).changes === 1
  }

  setVerified (id: string, verified: boolean): boolean {
    return this.db.prepare('UPDATE contacts SET verified = ? WHERE id = ?').run([verified ? 1 : 0, id]).changes === 1
  }

  // ---- pending invites ----

  insertPending (p: PendingInvite): void {
    this.db.prepare(`INSERT INTO pending_invites (mailbox_id, mailbox_key, mailbox_private_key, mailbox_public_key, presence_secret,
      prekey_id, kyber_prekey_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).run([
      p.mailboxId as Blob, p.mailboxKey as Blob, p.mailboxPrivateKey as Blob, p.mailboxPublicKey as Blob, p.presenceSecret as Blob,
      p.preKeyId, p.kyberPreKeyId, p.createdAt, p.expiresAt
    ])
  }

  pending (): PendingInvite[] {
    return this.db.prepare('SELECT * FROM pending_invites ORDER BY created_at').all().map((r) => ({
      mailboxId: r.mailbox_id as Uint8Array,
      mailboxKey: r.mailbox_key as Uint8Array,
      mailboxPrivateKey: r.mailbox_private_key as Uint8Array,
      mailboxPublicKey: r.mailbox_public_key as Uint8Array,
      presenceSecret: r.presence_secret as Uint8Array,
      preKeyId: r.prekey_id as number,
      kyberPreKeyId: r.kyber_prekey_id as number,
      createdAt: r.created_at as number,
      expiresAt: r.expires_at as number
    }))
  }

  deletePending (mailboxId: Uint8Array): void {
    this.db.prepare('DELETE FROM pending_invites WHERE mailbox_id = ?').run([mailboxId as Blob])
  }

  /** Prekey ids already promised to an invite (each one-time prekey goes into one invite only). */
  pendingPreKeyIds (): Set<number> {
    return new Set(this.db.prepare('SELECT prekey_id AS id FROM pending_invites').all().map((r) => r.id as number))
  }
}
