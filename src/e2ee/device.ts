// The account of one device: its keys and encrypted store, invites, contacts, and the sealing and
// opening of envelopes. Everything the messenger needs from end-to-end encryption goes through here.
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, randomInt, sign as edSign, type KeyObject } from 'node:crypto'
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import {
  CiphertextMessageType, ContentHint, ErrorCode, IdentityKeyPair, KEMKeyPair, KEMPublicKey, KyberPreKeyRecord, LibSignalErrorBase,
  PreKeyBundle, PreKeyRecord, PreKeySignalMessage, PrivateKey, ProtocolAddress, PublicKey, SenderCertificate, ServerCertificate,
  SignalMessage, SignedPreKeyRecord, UnidentifiedSenderMessageContent, processPreKeyBundle, sealedSenderDecryptToUsmc,
  sealedSenderEncrypt, signalDecrypt, signalDecryptPreKey, signalEncrypt
} from '@signalapp/libsignal-client'
import { silentLogger, type Logger } from '../platform/logger.ts'
import { accountIdFromIdentityKey, signalUuidFromIdentityKey } from '../identity/account-id.ts'
import { IdentityError } from '../identity/errors.ts'
import { safetyNumber } from '../identity/safety-number.ts'
import { AccountRepository, type AccountRow } from '../store/account.ts'
import { ContactRepository, publicContact, type ContactRecord, type ContactRow, type PendingInvite } from '../store/contacts.ts'
import { DATABASE_FILE, KEY_FILE, SALT_FILE, openDatabase, resolveDatabaseKey, type Database } from '../store/db.ts'
import { MIGRATIONS } from '../store/schema.ts'
import { SignalStores } from '../store/signal-stores.ts'
import { toHex, utf8Length } from '../wire/bytes.ts'
import { INNER_SEALED, INNER_SIGNAL, MAILBOX_KEY_BYTES, openEnvelope as openBox, readEnvelopeHeader, sealEnvelope } from '../wire/envelope.ts'
import { WireError } from '../wire/errors.ts'
import { decodeInvite, inviteToLink, linkToInvite, signInvite, verifyInvite, type InviteRecord } from '../wire/invite.ts'
import {
  MAX_ADDRESSES, MAX_ADDRESS_BYTES, MAX_NAME_BYTES, MAX_PEER_ID_BYTES, MAX_RELAYS, PAYLOAD_ID_BYTES, PRESENCE_SECRET_BYTES,
  decodePayload, encodePayload, type ContactCard, type Payload
} from '../wire/payload.ts'
import { E2eeError } from './errors.ts'

export type { ContactRecord } from '../store/contacts.ts'
export type { Payload, ContactCard } from '../wire/payload.ts'

/** libsignal device id: one device per account, always 1. */
export const DEVICE_ID = 1
/** One-time prekeys made at init; each invite takes one, and a new batch is made when they run out. */
export const PREKEY_BATCH = 10
/** Default invite lifetime: a week is long enough to pass a link on, short enough to limit exposure. */
export const DEFAULT_INVITE_LIFETIME_MS = 7 * 24 * 3600 * 1000
/** Longest invite lifetime accepted by createInvite. */
export const MAX_INVITE_LIFETIME_MS = 90 * 24 * 3600 * 1000
/** After an invite expires, its first message is still accepted for this long: the accepter may
 * have accepted just in time while the inviter was offline and the message waited on a relay. */
export const PENDING_INVITE_GRACE_MS = 14 * 24 * 3600 * 1000
/** Self-issued sender certificates last 10 years and are renewed at open() when under a year is left:
 * the identity key is the trust root, so expiry protects nothing a stolen identity key would not. */
export const SENDER_CERT_LIFETIME_MS = 10 * 365 * 24 * 3600 * 1000
export const SENDER_CERT_RENEW_MS = 365 * 24 * 3600 * 1000
/** WAL + NORMAL: atomic and crash-safe for the process, a power cut may drop the last commits;
 * FULL costs an fsync (~10 ms here) per message. See docs/threat-model.md "Device compromise and storage". */
export const DEFAULT_SYNCHRONOUS = 'NORMAL'
/** libsignal registration ids are 14-bit, 1..16380. */
const MAX_REGISTRATION_ID = 16380

type Blob = Uint8Array<ArrayBuffer>
const blob = (b: Uint8Array): Blob => b as Blob

export interface NetworkCardFields {
  readonly relays: string[]
  readonly addresses: string[]
  readonly peerId?: string
}

export interface InboundMailbox {
  readonly contactId: string
  /** True for the mailbox of an invite nobody has answered yet (contactId is then `invite:<hex>`). */
  readonly pending: boolean
  readonly mailboxId: Uint8Array
  readonly publicKey: Uint8Array
  readonly sign: (challenge: Uint8Array) => Uint8Array
}

interface MailboxKeys {
  readonly mailboxId: Uint8Array
  readonly mailboxKey: Uint8Array
  readonly privateKey: Uint8Array
  readonly publicKey: Uint8Array
}

type MailboxEntry =
  | { readonly kind: 'contact', readonly contactId: string, readonly key: Uint8Array }
  | { readonly kind: 'pending', readonly invite: PendingInvite, readonly key: Uint8Array }

/** A fresh mailbox: Ed25519 signing key pair (node:crypto), id = SHA-256(raw public key), random AEAD key. */
function newMailbox (): MailboxKeys {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const raw = publicKey.export({ type: 'spki', format: 'der' }).subarray(-32)
  return {
    mailboxId: new Uint8Array(createHash('sha256').update(raw).digest()),
    mailboxKey: new Uint8Array(randomBytes(MAILBOX_KEY_BYTES)),
    privateKey: new Uint8Array(privateKey.export({ type: 'pkcs8', format: 'der' })),
    publicKey: new Uint8Array(raw)
  }
}

function checkName (name: string, what: string): string {
  if (typeof name !== 'string') throw new TypeError(`${what} must be a string`)
  const trimmed = name.trim()
  if (trimmed.length === 0) throw new RangeError(`${what} must not be empty`)
  if (utf8Length(trimmed) > MAX_NAME_BYTES) throw new RangeError(`${what} must be at most ${MAX_NAME_BYTES} bytes of UTF-8`)
  return trimmed
}

function checkNetwork (o: NetworkCardFields): void {
  if (!Array.isArray(o.relays) || o.relays.length > MAX_RELAYS) throw new RangeError(`relays: at most ${MAX_RELAYS}`)
  if (!Array.isArray(o.addresses) || o.addresses.length > MAX_ADDRESSES) throw new RangeError(`addresses: at most ${MAX_ADDRESSES}`)
  for (const a of [...o.relays, ...o.addresses]) {
    if (typeof a !== 'string' || utf8Length(a) > MAX_ADDRESS_BYTES) throw new RangeError(`each address must be a string of at most ${MAX_ADDRESS_BYTES} bytes`)
  }
  if (o.peerId !== undefined && (typeof o.peerId !== 'string' || utf8Length(o.peerId) > MAX_PEER_ID_BYTES)) throw new RangeError(`peerId: at most ${MAX_PEER_ID_BYTES} bytes`)
}

function issueSenderCertificate (identity: IdentityKeyPair, uuid: string, now: number): SenderCertificate {
  // The account is its own certificate authority: the identity key signs a "server" certificate for
  // itself, which signs the sender certificate. Receivers pin the identity key (research/stack.md).
  const server = ServerCertificate.new(1, identity.publicKey, identity.privateKey)
  return SenderCertificate.new(uuid, null, DEVICE_ID, identity.publicKey, now + SENDER_CERT_LIFETIME_MS, server, identity.privateKey)
}

function signalError (err: unknown): E2eeError {
  if (LibSignalErrorBase.is(err, ErrorCode.DuplicatedMessage)) {
    return new E2eeError('DUPLICATE', 'This message was already received; the copy was dropped.', { cause: err })
  }
  if (LibSignalErrorBase.is(err, ErrorCode.UntrustedIdentity)) {
    return new E2eeError('UNTRUSTED_IDENTITY', "The sender's identity key is not the one pinned for this contact.", { cause: err })
  }
  if (err instanceof E2eeError) return err
  return new E2eeError('UNDECRYPTABLE', "The message could not be decrypted in this contact's session.", { cause: err })
}

function wireToInvite (err: unknown): IdentityError {
  if (err instanceof IdentityError) return err
  if (!WireError.is(err)) return new IdentityError('INVITE_MALFORMED', 'This invite could not be read.', { cause: err })
  const code = err.code === 'TRUNCATED'
    ? 'INVITE_TRUNCATED'
    : err.code === 'VERSION' ? 'INVITE_VERSION' : err.code === 'TOO_LARGE' ? 'INVITE_TOO_LARGE' : 'INVITE_MALFORMED'
  const hint = code === 'INVITE_TRUNCATED' ? ' Copy the whole invite again.' : ''
  return new IdentityError(code, err.message + hint, { cause: err })
}

/** The caller's writes for an opened envelope, run inside the transaction that commits the session. */
export type StoreOpened = (opened: { contactId: string, payload: Payload }) => void

export class Device {
  readonly db: Database
  readonly accountId: string
  private readonly logger: Logger
  private readonly now: () => number
  private readonly accounts: AccountRepository
  private readonly contactRepo: ContactRepository
  private readonly stores: SignalStores
  private readonly identity: IdentityKeyPair
  private readonly identityKeyBytes: Uint8Array
  private readonly localAddress: ProtocolAddress
  private senderCert: SenderCertificate
  private name: string
  private readonly contactCache = new Map<string, ContactRow>()
  private readonly addressCache = new Map<string, ProtocolAddress>()
  private readonly mailboxes = new Map<string, MailboxEntry>()
  private readonly signingKeys = new Map<string, KeyObject>()
  private queue: Promise<unknown> = Promise.resolve()
  private closed = false

  private constructor (db: Database, account: AccountRow, o: { logger?: Logger | undefined, now?: (() => number) | undefined }) {
    this.db = db
    this.logger = (o.logger ?? silentLogger).child('device')
    this.now = o.now ?? Date.now
    this.accounts = new AccountRepository(db)
    this.contactRepo = new ContactRepository(db)
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
    for (const c of this.contactRepo.all()) this.cacheContact(c)
    for (const p of this.contactRepo.pending()) this.mailboxes.set(toHex(p.mailboxId), { kind: 'pending', invite: p, key: p.mailboxKey })
  }

  /** True when the data directory holds a store (and so an account, or a damaged attempt at one). */
  static exists (dataDir: string): boolean {
    return existsSync(join(dataDir, DATABASE_FILE))
  }

  /** Makes the one account of a data directory. A second create refuses (ACCOUNT_EXISTS) and touches nothing. */
  static async create (dataDir: string, o: { name: string, passphrase?: string, logger?: Logger, now?: () => number, synchronous?: 'FULL' | 'NORMAL' }): Promise<Device> {
    if (Device.exists(dataDir)) {
      throw new E2eeError('ACCOUNT_EXISTS', 'This data directory already holds an account; a device has exactly one. Use another directory to make a new account.')
    }
    const name = checkName(o.name, 'name')
    const now = (o.now ?? Date.now)()
    const hadKey = existsSync(join(dataDir, KEY_FILE)) || existsSync(join(dataDir, SALT_FILE))
    const key = resolveDatabaseKey(dataDir, { passphrase: o.passphrase, create: true })
    let db: Database | undefined
    try {
      db = openDatabase({ path: join(dataDir, DATABASE_FILE), key, migrations: MIGRATIONS, synchronous: o.synchronous ?? DEFAULT_SYNCHRONOUS })
      const identity = IdentityKeyPair.generate()
      const uuid = signalUuidFromIdentityKey(identity.publicKey.serialize())
      const registrationId = randomInt(1, MAX_REGISTRATION_ID + 1)
      const signedPreKey = PrivateKey.generate()
      const signedRecord = SignedPreKeyRecord.new(1, now, signedPreKey.getPublicKey(), signedPreKey,
        identity.privateKey.sign(signedPreKey.getPublicKey().serialize()))
      const kyber = KEMKeyPair.generate()
      const kyberRecord = KyberPreKeyRecord.new(1, now, kyber, identity.privateKey.sign(kyber.getPublicKey().serialize()))
      const account: AccountRow = {
        identityKeyPair: identity.serialize(),
        registrationId,
        displayName: name,
        createdAt: now,
        signedPreKeyId: 1,
        kyberLastResortId: 1,
        nextPreKeyId: 1 + PREKEY_BATCH,
        nextKyberPreKeyId: 2,
        senderCertificate: issueSenderCertificate(identity, uuid, now).serialize()
      }
      const d = db
      d.transaction(() => {
        new AccountRepository(d).insert(account)
        const stores = new SignalStores(d, account.identityKeyPair, registrationId)
        stores.begin()
        void stores.saveSignedPreKey(1, signedRecord)
        stores.saveKyber(1, kyberRecord, true)
        for (let id = 1; id <= PREKEY_BATCH; id++) {
          const k = PrivateKey.generate()
          void stores.savePreKey(id, PreKeyRecord.new(id, k.getPublicKey(), k))
        }
        stores.commit()
      })()
      const device = new Device(db, account, o)
      device.logger.info('account.created')
      return device
    } catch (err) {
      db?.close()
      // Undo a half-made first account so that a retry starts clean (never reached for an existing one).
      for (const f of [DATABASE_FILE, `${DATABASE_FILE}-wal`, `${DATABASE_FILE}-shm`, ...(hadKey ? [] : [KEY_FILE, SALT_FILE])]) {
        rmSync(join(dataDir, f), { force: true })
      }
      throw err
    }
  }

  /** Opens the account of a data directory. Wrong passphrase or key file: StoreError WRONG_KEY. */
  static async open (dataDir: string, o: { passphrase?: string, logger?: Logger, now?: () => number, synchronous?: 'FULL' | 'NORMAL' } = {}): Promise<Device> {
    if (!Device.exists(dataDir)) throw new E2eeError('NO_ACCOUNT', 'This data directory holds no account yet; create one first.')
    const key = resolveDatabaseKey(dataDir, { passphrase: o.passphrase, create: false })
    const db = openDatabase({ path: join(dataDir, DATABASE_FILE), key, migrations: MIGRATIONS, synchronous: o.synchronous ?? DEFAULT_SYNCHRONOUS })
    try {
      const account = new AccountRepository(db).get()
      if (account === undefined) throw new E2eeError('NO_ACCOUNT', 'This data directory holds no account (an earlier creation did not finish); remove it and create the account again.')
      return new Device(db, account, o)
    } catch (err) {
      db.close()
      throw err
    }
  }

  // ---- account ----

  displayName (): string {
    return this.name
  }

  setDisplayName (name: string): void {
    this.alive()
    const n = checkName(name, 'name')
    this.accounts.setDisplayName(n)
    this.name = n
  }

  /** Serialized identity public key (33 bytes). */
  identityKey (): Uint8Array {
    return this.identityKeyBytes
  }

  // ---- invites ----

  /** Makes a distinct invite: a new mailbox for the contact-to-be, a one-time prekey and a one-time Kyber prekey of its own. */
  async createInvite (o: { relays: string[], addresses: string[], peerId?: string, expiresInMs?: number }): Promise<{ link: string, expiresAt: number }> {
    return this.serial(async () => {
      checkNetwork(o)
      const lifetime = o.expiresInMs ?? DEFAULT_INVITE_LIFETIME_MS
      if (!Number.isInteger(lifetime) || lifetime <= 0 || lifetime > MAX_INVITE_LIFETIME_MS) throw new RangeError(`expiresInMs must be 1..${MAX_INVITE_LIFETIME_MS}`)
      const now = this.now()
      const account = this.accounts.get() as AccountRow
      const mailbox = newMailbox()
      const presenceSecret = new Uint8Array(randomBytes(PRESENCE_SECRET_BYTES))
      let link = ''
      let expiresAt = 0
      this.db.transaction(() => {
        const preKey = this.takePreKey()
        const kyberId = this.accounts.reserveIds('kyber', 1)
        const kyber = KEMKeyPair.generate()
        const kyberRecord = KyberPreKeyRecord.new(kyberId, now, kyber, this.identity.privateKey.sign(kyber.getPublicKey().serialize()))
        this.stores.saveKyber(kyberId, kyberRecord, false)
        const signed = this.signedPreKey(account.signedPreKeyId)
        expiresAt = now + lifetime
        const record: InviteRecord = {
          identityKey: this.identityKeyBytes,
          registrationId: account.registrationId,
          signedPreKeyId: signed.id(),
          signedPreKey: signed.publicKey().serialize(),
          signedPreKeySignature: signed.signature(),
          preKeyId: preKey.id(),
          preKey: preKey.publicKey().serialize(),
          kyberPreKeyId: kyberId,
          kyberPreKey: kyberRecord.publicKey().serialize(),
          kyberPreKeySignature: kyberRecord.signature(),
          mailboxId: mailbox.mailboxId,
          mailboxKey: mailbox.mailboxKey,
          presenceSecret,
          createdAt: now,
          expiresAt,
          displayName: this.name,
          ...(o.peerId === undefined ? {} : { peerId: o.peerId }),
          relays: o.relays,
          addresses: o.addresses
        }
        link = inviteToLink(signInvite(record, this.identity.privateKey))
        const pending: PendingInvite = {
          mailboxId: mailbox.mailboxId,
          mailboxKey: mailbox.mailboxKey,
          mailboxPrivateKey: mailbox.privateKey,
          mailboxPublicKey: mailbox.publicKey,
          presenceSecret,
          preKeyId: preKey.id(),
          kyberPreKeyId: kyberId,
          createdAt: now,
          expiresAt
        }
        this.contactRepo.insertPending(pending)
        this.mailboxes.set(toHex(pending.mailboxId), { kind: 'pending', invite: pending, key: pending.mailboxKey })
      })()
      this.logger.info('invite.created')
      return { link, expiresAt }
    })
  }

  /**
   * Accepts an invite: verifies it, pins the inviter's identity key, runs PQXDH, creates the contact
   * and returns the first envelope (my contact card, sealed) for the inviter's mailbox. A bad invite
   * throws IdentityError and stores nothing.
   */
  async acceptInvite (link: string, o: { name?: string, card: NetworkCardFields }): Promise<{ contact: ContactRecord, envelope: Uint8Array }> {
    return this.serial(async () => {
      checkNetwork(o.card)
      const localName = o.name === undefined ? undefined : checkName(o.name, 'name')
      let invite
      try {
        invite = decodeInvite(linkToInvite(link))
      } catch (err) {
        throw wireToInvite(err)
      }
      if (!verifyInvite(invite)) throw new IdentityError('INVITE_SIGNATURE', 'This invite was altered: its signature does not match. Ask for a new invite.')
      const r = invite.record
      const now = this.now()
      if (now > r.expiresAt) throw new IdentityError('INVITE_EXPIRED', 'This invite has expired. Ask for a new one.')
      if (Buffer.from(r.identityKey).equals(this.identityKeyBytes)) throw new IdentityError('INVITE_OWN', 'This is your own invite; give it to the person you want to talk to.')
      const accountId = accountIdFromIdentityKey(r.identityKey)
      if (this.contactRepo.byAccountId(accountId) !== undefined) throw new IdentityError('INVITE_ALREADY_CONTACT', 'The person who made this invite is already one of your contacts.')
      if (this.mailboxes.has(toHex(r.mailboxId))) throw new IdentityError('INVITE_MALFORMED', 'This invite names a mailbox this device already uses.')

      const identityKey = PublicKey.deserialize(blob(r.identityKey))
      const addressName = signalUuidFromIdentityKey(r.identityKey)
      const address = ProtocolAddress.new(addressName, DEVICE_ID)
      const bundle = PreKeyBundle.new(r.registrationId, DEVICE_ID, r.preKeyId, PublicKey.deserialize(blob(r.preKey)),
        r.signedPreKeyId, PublicKey.deserialize(blob(r.signedPreKey)), blob(r.signedPreKeySignature), identityKey,
        r.kyberPreKeyId, KEMPublicKey.deserialize(blob(r.kyberPreKey)), blob(r.kyberPreKeySignature))
      const mine = newMailbox()
      const myPresenceSecret = new Uint8Array(randomBytes(PRESENCE_SECRET_BYTES))
      const row: ContactRow = {
        id: randomBytes(16).toString('hex'),
        name: localName ?? r.displayName,
        renamed: localName !== undefined,
        theirDisplayName: r.displayName,
        accountId,
        identityKey: r.identityKey,
        address: addressName,
        verified: false,
        createdAt: now,
        theirMailboxId: r.mailboxId,
        theirMailboxKey: r.mailboxKey,
        theirRelays: [...r.relays],
        ...(r.peerId === undefined ? {} : { theirPeerId: r.peerId }),
        theirAddresses: [...r.addresses],
        theirPresenceSecret: r.presenceSecret,
        myMailboxId: mine.mailboxId,
        myMailboxKey: mine.mailboxKey,
        myMailboxPrivateKey: mine.privateKey,
        myMailboxPublicKey: mine.publicKey,
        myPresenceSecret
      }
      const first = encodePayload(this.cardPayload(row, o.card))
      const envelope = await this.stores.atomically(async () => {
        // Pinned before the session exists: libsignal trusts only this key for the address (no TOFU).
        this.stores.pinIdentity(addressName, identityKey)
        try {
          await processPreKeyBundle(bundle, address, this.localAddress, this.stores, this.stores, new Date(now))
        } catch (err) {
          throw new IdentityError('INVITE_SIGNATURE', 'This invite has a prekey whose signature does not verify: it was altered. Ask for a new invite.', { cause: err })
        }
        return await this.encryptFor(row, address, first)
      }, () => { this.contactRepo.insert(row) })
      this.cacheContact(row)
      this.logger.info('invite.accepted')
      return { contact: publicContact(row), envelope }
    })
  }

  // ---- messages ----

  /** Encrypts a payload in the contact's session and seals it for the contact's mailbox. */
  async seal (contactId: string, payload: Payload): Promise<Uint8Array> {
    return this.serial(async () => {
      const contact = this.contactRow(contactId)
      const bytes = encodePayload(payload)
      return await this.stores.atomically(async () => await this.encryptFor(contact, this.address(contact), bytes))
    })
  }

  private async encryptFor (contact: ContactRow, address: ProtocolAddress, plaintext: Uint8Array): Promise<Uint8Array> {
    const ct = await signalEncrypt(blob(plaintext), address, this.localAddress, this.stores, this.stores, new Date(this.now()))
    let body: Uint8Array
    let innerType: typeof INNER_SEALED | typeof INNER_SIGNAL
    if (ct.type() === CiphertextMessageType.PreKey) {
      // Not yet confirmed: the PreKey message carries my identity key in clear, and the invite's
      // mailbox key may be known to anyone who saw the invite. Seal the sender inside.
      const usmc = UnidentifiedSenderMessageContent.new(ct, this.senderCert, ContentHint.Default, null)
      body = await sealedSenderEncrypt(usmc, address, this.stores)
      innerType = INNER_SEALED
    } else {
      body = ct.serialize()
      innerType = INNER_SIGNAL
    }
    return sealEnvelope({ mailboxId: contact.theirMailboxId, mailboxKey: contact.theirMailboxKey, innerType, body })
  }

  /**
   * Opens an envelope addressed to one of my mailboxes. Throws E2eeError (TAMPERED, UNKNOWN_MAILBOX,
   * DUPLICATE, UNTRUSTED_IDENTITY, ...); on any error the session and store are left unchanged.
   */
  /**
   * Opens an envelope. `o.store`, when given, runs inside the transaction that commits the session
   * change: the caller's rows (the message, its duplicate filter) and the advanced ratchet are
   * written together or not at all, so a crash can never consume a message key without the message.
   */
  async openEnvelope (envelope: Uint8Array, o: { store?: StoreOpened } = {}): Promise<{ contact: ContactRecord, payload: Payload, newContact: boolean }> {
    this.alive()
    let header
    try {
      header = readEnvelopeHeader(envelope)
    } catch (err) {
      throw new E2eeError('MALFORMED', WireError.is(err) ? err.message : 'The envelope could not be read.', { cause: err })
    }
    return this.serial(async () => {
      const entry = this.mailboxes.get(toHex(header.mailboxId))
      if (entry === undefined) throw new E2eeError('UNKNOWN_MAILBOX', 'The envelope is for a mailbox this device does not own.')
      let inner
      try {
        inner = openBox(envelope, entry.key)
      } catch (err) {
        if (WireError.is(err, 'AUTH')) throw new E2eeError('TAMPERED', 'The envelope was altered in transit (or is not for this mailbox); it was dropped.', { cause: err })
        throw new E2eeError('MALFORMED', WireError.is(err) ? err.message : 'The envelope could not be read.', { cause: err })
      }
      if (inner.innerType === INNER_SIGNAL) {
        if (entry.kind !== 'contact') throw new E2eeError('BAD_SENDER', 'A message for an unanswered invite must be sealed; it was dropped.')
        const contact = this.contactRow(entry.contactId)
        let message: SignalMessage
        try {
          message = SignalMessage.deserialize(blob(inner.body))
        } catch (err) {
          throw new E2eeError('MALFORMED', 'The message inside the envelope does not parse.', { cause: err })
        }
        const address = this.address(contact)
        return await this.decryptAndApply(contact, async () => await signalDecrypt(message, address, this.localAddress, this.stores, this.stores), o.store)
      }
      return await this.openSealed(entry, inner.body, o.store)
    })
  }

  private async openSealed (entry: MailboxEntry, body: Uint8Array, store?: StoreOpened): Promise<{ contact: ContactRecord, payload: Payload, newContact: boolean }> {
    let usmc: UnidentifiedSenderMessageContent
    try {
      usmc = await sealedSenderDecryptToUsmc(blob(body), this.stores)
    } catch (err) {
      throw new E2eeError('BAD_SENDER', 'The sealed message could not be unsealed.', { cause: err })
    }
    const cert = usmc.senderCertificate()
    const senderKey = cert.key()
    const senderKeyBytes = senderKey.serialize()
    const addressName = signalUuidFromIdentityKey(senderKeyBytes)
    // Self-issued certificate: trust root = the sender's own identity key. What makes it count is
    // the next check against the key pinned from the invite exchange.
    if (!cert.validate(senderKey, this.now()) || cert.senderUuid() !== addressName || cert.senderDeviceId() !== DEVICE_ID) {
      throw new E2eeError('BAD_SENDER', "The sealed message's sender certificate is not valid.")
    }
    const type = usmc.msgType()
    const contents = usmc.contents()
    const decrypt = async (address: ProtocolAddress): Promise<Uint8Array> => {
      try {
        if (type === CiphertextMessageType.PreKey) {
          const m = PreKeySignalMessage.deserialize(contents)
          return await signalDecryptPreKey(m, address, this.localAddress, this.stores, this.stores, this.stores, this.stores, this.stores)
        }
        if (type === CiphertextMessageType.Whisper) {
          return await signalDecrypt(SignalMessage.deserialize(contents), address, this.localAddress, this.stores, this.stores)
        }
      } catch (err) {
        throw signalError(err)
      }
      throw new E2eeError('MALFORMED', 'The sealed message holds a message type this version does not use.')
    }

    if (entry.kind === 'contact') {
      const contact = this.contactRow(entry.contactId)
      if (!Buffer.from(contact.identityKey).equals(senderKeyBytes)) {
        throw new E2eeError('UNTRUSTED_IDENTITY', "The sender's identity key is not the one pinned for this contact; the message was dropped.")
      }
      return await this.decryptAndApply(contact, async () => await decrypt(this.address(contact)), store)
    }

    // First message for one of my invites: the accepter's contact card, creating the contact here.
    const invite = entry.invite
    const now = this.now()
    if (now > invite.expiresAt + PENDING_INVITE_GRACE_MS) throw new E2eeError('INVITE_EXPIRED', 'A first message arrived for an invite that expired; make a new invite.')
    if (type !== CiphertextMessageType.PreKey) throw new E2eeError('BAD_SENDER', 'The first message for an invite must start a session.')
    const accountId = accountIdFromIdentityKey(senderKeyBytes)
    if (this.contactRepo.byAccountId(accountId) !== undefined) throw new E2eeError('BAD_SENDER', 'An invite was answered by an account that is already a contact; the message was dropped.')
    const address = ProtocolAddress.new(addressName, DEVICE_ID)
    let row: ContactRow | undefined
    const payload = await this.stores.atomically(async () => {
      this.stores.pinIdentity(addressName, senderKey)
      const plaintext = await decrypt(address)
      const p = this.decodePayloadOrThrow(plaintext)
      if (p.kind !== 'card') throw new E2eeError('CARD_REQUIRED', 'A message for an invite arrived before the contact card; it will be accepted when sent again.')
      const card = this.checkCard(p.card, senderKeyBytes)
      row = {
        id: randomBytes(16).toString('hex'),
        name: card.displayName,
        renamed: false,
        theirDisplayName: card.displayName,
        accountId,
        identityKey: senderKeyBytes,
        address: addressName,
        verified: false,
        createdAt: now,
        theirMailboxId: card.mailboxId,
        theirMailboxKey: card.mailboxKey,
        theirRelays: [...card.relays],
        ...(card.peerId === undefined ? {} : { theirPeerId: card.peerId }),
        theirAddresses: [...card.addresses],
        theirPresenceSecret: card.presenceSecret,
        theirCertificate: card.senderCertificate,
        myMailboxId: invite.mailboxId,
        myMailboxKey: invite.mailboxKey,
        myMailboxPrivateKey: invite.mailboxPrivateKey,
        myMailboxPublicKey: invite.mailboxPublicKey,
        myPresenceSecret: invite.presenceSecret
      }
      return p
    }, (p) => {
      this.contactRepo.insert(row as ContactRow)
      this.contactRepo.deletePending(invite.mailboxId)
      store?.({ contactId: (row as ContactRow).id, payload: p })
    })
    const created = row as ContactRow
    this.cacheContact(created)
    this.logger.info('invite.answered')
    return { contact: publicContact(created), payload, newContact: true }
  }

  private async decryptAndApply (contact: ContactRow, decrypt: () => Promise<Uint8Array>, store?: StoreOpened): Promise<{ contact: ContactRecord, payload: Payload, newContact: boolean }> {
    let updated: ContactRow | undefined
    const payload = await this.stores.atomically(async () => {
      let plaintext: Uint8Array
      try {
        plaintext = await decrypt()
      } catch (err) {
        throw signalError(err)
      }
      const p = this.decodePayloadOrThrow(plaintext)
      if (p.kind === 'card') {
        const card = this.checkCard(p.card, contact.identityKey)
        updated = {
          ...contact,
          name: contact.renamed ? contact.name : card.displayName,
          theirDisplayName: card.displayName,
          theirMailboxId: card.mailboxId,
          theirMailboxKey: card.mailboxKey,
          theirRelays: [...card.relays],
          theirAddresses: [...card.addresses],
          theirPresenceSecret: card.presenceSecret,
          theirCertificate: card.senderCertificate
        }
        if (card.peerId === undefined) delete (updated as { theirPeerId?: string }).theirPeerId
        else updated = { ...updated, theirPeerId: card.peerId }
      }
      return p
    }, (p) => {
      if (p.kind === 'card') {
        this.contactRepo.updateTheirs(contact.id, { ...p.card, certificate: p.card.senderCertificate })
      }
      store?.({ contactId: contact.id, payload: p })
    })
    if (updated !== undefined) this.cacheContact(updated)
    return { contact: publicContact(updated ?? contact), payload, newContact: false }
  }

  private decodePayloadOrThrow (plaintext: Uint8Array): Payload {
    try {
      return decodePayload(plaintext)
    } catch (err) {
      throw new E2eeError('BAD_PAYLOAD', `The message decrypted but its content is not valid: ${WireError.is(err) ? err.message : 'unreadable'}`, { cause: err })
    }
  }

  /** A card must carry a certificate for the key that sent it, and a mailbox key of the right size. */
  private checkCard (card: ContactCard, senderKey: Uint8Array): ContactCard {
    let ok = false
    try {
      const cert = SenderCertificate.deserialize(blob(card.senderCertificate))
      ok = Buffer.from(cert.key().serialize()).equals(senderKey) && cert.validate(cert.key(), this.now())
    } catch {
      ok = false
    }
    if (!ok) throw new E2eeError('BAD_SENDER', "The contact card's certificate does not belong to its sender.")
    return card
  }

  /** A card payload announcing my side of the pair to a contact (send it when my network location changes). */
  myCard (contactId: string, o: NetworkCardFields): Payload {
    this.alive()
    checkNetwork(o)
    return this.cardPayload(this.contactRow(contactId), o)
  }

  private cardPayload (contact: ContactRow, o: NetworkCardFields): Payload {
    return {
      kind: 'card',
      id: new Uint8Array(randomBytes(PAYLOAD_ID_BYTES)),
      seq: 0,
      card: {
        displayName: this.name,
        mailboxId: contact.myMailboxId,
        mailboxKey: contact.myMailboxKey,
        presenceSecret: contact.myPresenceSecret,
        ...(o.peerId === undefined ? {} : { peerId: o.peerId }),
        relays: [...o.relays],
        addresses: [...o.addresses],
        senderCertificate: this.senderCert.serialize()
      }
    }
  }

  // ---- contacts ----

  safetyNumber (contactId: string): { digits: string, scannable: string } {
    this.alive()
    return safetyNumber(this.identityKeyBytes, this.contactRow(contactId).identityKey)
  }

  contacts (): ContactRecord[] {
    this.alive()
    return [...this.contactCache.values()].sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id)).map(publicContact)
  }

  contact (id: string): ContactRecord | undefined {
    this.alive()
    const c = this.contactCache.get(id)
    return c === undefined ? undefined : publicContact(c)
  }

  setVerified (contactId: string, v: boolean): void {
    const c = this.contactRow(contactId)
    this.contactRepo.setVerified(contactId, v)
    this.cacheContact({ ...c, verified: v })
  }

  renameContact (id: string, name: string): void {
    const c = this.contactRow(id)
    const n = checkName(name, 'name')
    this.contactRepo.rename(id, n)
    this.cacheContact({ ...c, name: n, renamed: true })
  }

  /** My mailboxes, to fetch from relays: one per contact, plus one per unanswered invite. */
  inboundMailboxes (): InboundMailbox[] {
    this.alive()
    const out: InboundMailbox[] = []
    for (const c of this.contactCache.values()) {
      out.push({ contactId: c.id, pending: false, mailboxId: c.myMailboxId, publicKey: c.myMailboxPublicKey, sign: this.signer(c.myMailboxId, c.myMailboxPrivateKey) })
    }
    for (const e of this.mailboxes.values()) {
      if (e.kind !== 'pending') continue
      const p = e.invite
      out.push({ contactId: `invite:${toHex(p.mailboxId).slice(0, 16)}`, pending: true, mailboxId: p.mailboxId, publicKey: p.mailboxPublicKey, sign: this.signer(p.mailboxId, p.mailboxPrivateKey) })
    }
    return out
  }

  close (): void {
    if (this.closed) return
    this.closed = true
    this.db.close()
  }

  // ---- internals ----

  private signer (mailboxId: Uint8Array, pkcs8: Uint8Array): (challenge: Uint8Array) => Uint8Array {
    const k = toHex(mailboxId)
    let key = this.signingKeys.get(k)
    if (key === undefined) {
      key = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' })
      this.signingKeys.set(k, key)
    }
    const keyObject = key
    return (challenge) => new Uint8Array(edSign(null, challenge, keyObject))
  }

  private takePreKey (): PreKeyRecord {
    const promised = this.contactRepo.pendingPreKeyIds()
    const ids = this.db.prepare('SELECT id FROM signal_prekeys ORDER BY id').all().map((r) => r.id as number)
    const free = ids.find((id) => !promised.has(id))
    if (free !== undefined) {
      const row = this.db.prepare('SELECT record FROM signal_prekeys WHERE id = ?').get([free])
      return PreKeyRecord.deserialize(blob(row?.record as Uint8Array))
    }
    const first = this.accounts.reserveIds('prekey', PREKEY_BATCH)
    let record: PreKeyRecord | undefined
    for (let id = first; id < first + PREKEY_BATCH; id++) {
      const k = PrivateKey.generate()
      const r = PreKeyRecord.new(id, k.getPublicKey(), k)
      void this.stores.savePreKey(id, r)
      record ??= r
    }
    return record as PreKeyRecord
  }

  private signedPreKey (id: number): SignedPreKeyRecord {
    const row = this.db.prepare('SELECT record FROM signal_signed_prekeys WHERE id = ?').get([id])
    return SignedPreKeyRecord.deserialize(blob(row?.record as Uint8Array))
  }

  private cacheContact (c: ContactRow): void {
    const previous = this.contactCache.get(c.id)
    if (previous !== undefined) this.mailboxes.delete(toHex(previous.myMailboxId))
    this.contactCache.set(c.id, c)
    this.mailboxes.set(toHex(c.myMailboxId), { kind: 'contact', contactId: c.id, key: c.myMailboxKey })
  }

  private contactRow (id: string): ContactRow {
    this.alive()
    const c = this.contactCache.get(id)
    if (c === undefined) throw new E2eeError('UNKNOWN_CONTACT', 'There is no contact with that id.')
    return c
  }

  private address (c: ContactRow): ProtocolAddress {
    let a = this.addressCache.get(c.address)
    if (a === undefined) {
      a = ProtocolAddress.new(c.address, DEVICE_ID)
      this.addressCache.set(c.address, a)
    }
    return a
  }

  private alive (): void {
    if (this.closed) throw new E2eeError('CLOSED', 'This device was closed; open it again.')
  }

  /** One operation at a time: libsignal's store calls interleave at every await otherwise. */
  private async serial<T> (fn: () => Promise<T>): Promise<T> {
    this.alive()
    const run = this.queue.then(async () => { this.alive(); return await fn() })
    this.queue = run.catch(() => undefined)
    return await run
  }
}
