// The state every part of a Device shares (account, invites, seal/open): its store, keys, caches and
// the one-at-a-time queue. The parts are functions of this context, so none imports another's internals.
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign as edSign, type KeyObject } from 'node:crypto'
import { IdentityKeyPair, ProtocolAddress, SenderCertificate, ServerCertificate } from '@signalapp/libsignal-client'
import { silentLogger, type Logger } from '../platform/logger.ts'
import { accountIdFromIdentityKey, signalUuidFromIdentityKey } from '../identity/account-id.ts'
import { canonicalPeerId } from '../identity/peer-id.ts'
import { AccountRepository, type AccountRow } from '../store/account.ts'
import { ContactRepository, type ContactRow, type KeyChangeInfo, type PendingInvite } from '../store/contacts.ts'
import { KeyChangeRepository } from '../store/key-changes.ts'
import type { Database } from '../store/db.ts'
import { SignalStores } from '../store/signal-stores.ts'
import { toHex, utf8Length } from '../wire/bytes.ts'
import { MAILBOX_KEY_BYTES } from '../wire/envelope.ts'
import { MAX_ADDRESSES, MAX_ADDRESS_BYTES, MAX_NAME_BYTES, MAX_PEER_ID_BYTES, MAX_RELAYS } from '../wire/payload.ts'
import { E2eeError } from './errors.ts'
import { newPresenceKeys } from './presence.ts'

/** libsignal device id: one device per account, always 1. */
export const DEVICE_ID = 1
/** Self-issued sender certificates last 10 years and are renewed at open() when under a year is left:
 * the identity key is the trust root, so expiry protects nothing a stolen identity key would not. */
export const SENDER_CERT_LIFETIME_MS = 10 * 365 * 24 * 3600 * 1000
export const SENDER_CERT_RENEW_MS = 365 * 24 * 3600 * 1000

export type Blob = Uint8Array<ArrayBuffer>
export const blob = (b: Uint8Array): Blob => b as Blob

/** Where my contacts can reach me: goes into invites and contact cards. */
export interface NetworkCardFields {
  readonly relays: string[]
  readonly addresses: string[]
  readonly peerId?: string
}

/** A mailbox this device reads: a contact's, or an unanswered invite's. */
export type MailboxEntry =
  | { readonly kind: 'contact', readonly contactId: string, readonly key: Uint8Array, readonly retired?: true }
  | { readonly kind: 'pending', readonly invite: PendingInvite, readonly key: Uint8Array }
  /** Issue 11: my mailbox for a group, shared by the members I met through it until they learn a per-pair one. */
  | { readonly kind: 'group', readonly groupId: string, readonly key: Uint8Array }

export interface MailboxKeys {
  readonly mailboxId: Uint8Array
  readonly mailboxKey: Uint8Array
  readonly privateKey: Uint8Array
  readonly publicKey: Uint8Array
}

/** A fresh mailbox: Ed25519 signing key pair (node:crypto), id = SHA-256(raw public key), random AEAD key. */
export function newMailbox (): MailboxKeys {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const raw = publicKey.export({ type: 'spki', format: 'der' }).subarray(-32)
  return {
    mailboxId: new Uint8Array(createHash('sha256').update(raw).digest()),
    mailboxKey: new Uint8Array(randomBytes(MAILBOX_KEY_BYTES)),
    privateKey: new Uint8Array(privateKey.export({ type: 'pkcs8', format: 'der' })),
    publicKey: new Uint8Array(raw)
  }
}

export function checkName (name: string, what: string): string {
  if (typeof name !== 'string') throw new TypeError(`${what} must be a string`)
  const trimmed = name.trim()
  if (trimmed.length === 0) throw new RangeError(`${what} must not be empty`)
  if (utf8Length(trimmed) > MAX_NAME_BYTES) throw new RangeError(`${what} must be at most ${MAX_NAME_BYTES} bytes of UTF-8`)
  return trimmed
}

export function checkNetwork (o: NetworkCardFields): void {
  if (!Array.isArray(o.relays) || o.relays.length > MAX_RELAYS) throw new RangeError(`relays: at most ${MAX_RELAYS}`)
  if (!Array.isArray(o.addresses) || o.addresses.length > MAX_ADDRESSES) throw new RangeError(`addresses: at most ${MAX_ADDRESSES}`)
  for (const a of [...o.relays, ...o.addresses]) {
    if (typeof a !== 'string' || utf8Length(a) > MAX_ADDRESS_BYTES) throw new RangeError(`each address must be a string of at most ${MAX_ADDRESS_BYTES} bytes`)
  }
  if (o.peerId !== undefined && (typeof o.peerId !== 'string' || utf8Length(o.peerId) > MAX_PEER_ID_BYTES)) throw new RangeError(`peerId: at most ${MAX_PEER_ID_BYTES} bytes`)
}

export function issueSenderCertificate (identity: IdentityKeyPair, uuid: string, now: number): SenderCertificate {
  // The account is its own certificate authority: the identity key signs a "server" certificate for
  // itself, which signs the sender certificate. Receivers pin the identity key (research/stack.md).
  const server = ServerCertificate.new(1, identity.publicKey, identity.privateKey)
  return SenderCertificate.new(uuid, null, DEVICE_ID, identity.publicKey, now + SENDER_CERT_LIFETIME_MS, server, identity.privateKey)
}

/** A contact stored before migration 5 gets its presence signing key now (sent with my next card). */
function withPresenceKeys (repo: ContactRepository, c: ContactRow): ContactRow {
  if (c.myPresenceSigningKey.length > 0) return c
  const keys = newPresenceKeys()
  repo.setMyPresenceKeys(c.id, keys.privateKey, keys.publicKey)
  return { ...c, myPresenceSigningKey: keys.privateKey, myPresencePublicKey: keys.publicKey }
}

export class DeviceContext {
  readonly db: Database
  readonly logger: Logger
  readonly now: () => number
  readonly accounts: AccountRepository
  readonly contactRepo: ContactRepository
  readonly keyChangeRepo: KeyChangeRepository
  /** The newest identity key change of each contact that had one (src/e2ee/key-change.ts). */
  readonly keyChanges = new Map<string, KeyChangeInfo>()
  readonly stores: SignalStores
  readonly identity: IdentityKeyPair
  readonly identityKeyBytes: Uint8Array
  readonly accountId: string
  readonly localAddress: ProtocolAddress
  senderCert: SenderCertificate
  name: string
  readonly contactCache = new Map<string, ContactRow>()
  /** By hex mailbox id: what opens an envelope addressed there. */
  readonly mailboxes = new Map<string, MailboxEntry>()
  private readonly addressCache = new Map<string, ProtocolAddress>()
  private readonly signingKeys = new Map<string, KeyObject>()
  private queue: Promise<unknown> = Promise.resolve()
  private closed = false

  constructor (db: Database, account: AccountRow, o: { logger?: Logger | undefined, now?: (() => number) | undefined }) {
    this.db = db
    this.logger = (o.logger ?? silentLogger).child('device')
    this.now = o.now ?? Date.now
    this.accounts = new AccountRepository(db)
    this.contactRepo = new ContactRepository(db)
    this.keyChangeRepo = new KeyChangeRepository(db)
    this.stores = new SignalStores(db, account.identityKeyPair, account.registrationId)
    this.identity = IdentityKeyPair.deserialize(blob(account.identityKeyPair))
    this.identityKeyBytes = this.identity.publicKey.serialize()
    this.accountId = accountIdFromIdentityKey(this.identityKeyBytes)
    this.localAddress = ProtocolAddress.new(signalUuidFromIdentityKey(this.identityKeyBytes), DEVICE_ID)
    this.name = account.displayName
    this.senderCert = SenderCertificate.deserialize(blob(account.senderCertificate))
    if (this.senderCert.expiration() - this.now() < SENDER_CERT_RENEW_MS) {
      this.senderCert = issueSenderCertificate(this.identity, this.localAddress.name(), this.now())
      this.accounts.setSenderCertificate(this.senderCert.serialize())
    }
    for (const [id, k] of this.keyChangeRepo.latest()) {
      this.keyChanges.set(id, { at: k.at, state: k.state, held: this.keyChangeRepo.heldCount(id, k.identityKey), ...(k.decidedAt === undefined ? {} : { decidedAt: k.decidedAt }) })
    }
    for (const c of this.contactRepo.all()) {
      const row = withPresenceKeys(this.contactRepo, c)
      // A card stored before peer ids were kept in libp2p's form (src/identity/peer-id.ts) is read in it.
      this.cacheContact(row.theirPeerId === undefined ? row : { ...row, theirPeerId: canonicalPeerId(row.theirPeerId) })
    }
    for (const p of this.contactRepo.pending()) this.addPending(p)
  }

  cacheContact (row: ContactRow): void {
    const keyChange = this.keyChanges.get(row.id)
    const c = keyChange === undefined ? row : { ...row, keyChange }
    const previous = this.contactCache.get(c.id)
    if (previous !== undefined) this.mailboxes.delete(toHex(previous.myMailboxId))
    if (previous?.retired !== undefined) this.mailboxes.delete(toHex(previous.retired.mailboxId))
    this.contactCache.set(c.id, c)
    this.mailboxes.set(toHex(c.myMailboxId), { kind: 'contact', contactId: c.id, key: c.myMailboxKey })
    // The invite's mailbox after the handshake still opens what was sealed for it (src/e2ee/retire.ts).
    if (c.retired !== undefined) this.mailboxes.set(toHex(c.retired.mailboxId), { kind: 'contact', contactId: c.id, key: c.retired.mailboxKey, retired: true })
  }

  addPending (p: PendingInvite): void {
    this.mailboxes.set(toHex(p.mailboxId), { kind: 'pending', invite: p, key: p.mailboxKey })
  }

  /** A mailbox of mine is gone (an expired invite's): nothing opens there any more, its signer is dropped. */
  forgetMailbox (hex: string): void {
    this.mailboxes.delete(hex)
    this.signingKeys.delete(hex)
  }

  contactRow (id: string): ContactRow {
    this.alive()
    const c = this.contactCache.get(id)
    if (c === undefined) throw new E2eeError('UNKNOWN_CONTACT', 'There is no contact with that id.')
    return c
  }

  address (c: ContactRow): ProtocolAddress {
    let a = this.addressCache.get(c.address)
    if (a === undefined) {
      a = ProtocolAddress.new(c.address, DEVICE_ID)
      this.addressCache.set(c.address, a)
    }
    return a
  }

  signer (mailboxId: Uint8Array, pkcs8: Uint8Array): (challenge: Uint8Array) => Uint8Array {
    const k = toHex(mailboxId)
    let key = this.signingKeys.get(k)
    if (key === undefined) {
      key = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' })
      this.signingKeys.set(k, key)
    }
    const keyObject = key
    return (challenge) => new Uint8Array(edSign(null, challenge, keyObject))
  }

  alive (): void {
    if (this.closed) throw new E2eeError('CLOSED', 'This device was closed; open it again.')
  }

  /** One operation at a time: libsignal's store calls interleave at every await otherwise. */
  async serial<T> (fn: () => Promise<T>): Promise<T> {
    this.alive()
    const run = this.queue.then(async () => { this.alive(); return await fn() })
    this.queue = run.catch(() => undefined)
    return await run
  }

  close (): void {
    if (this.closed) return
    this.closed = true
    this.db.close()
  }
}
