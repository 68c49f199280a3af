// The account of one device: its keys and encrypted store, invites, contacts, and the sealing and
// opening of envelopes. Everything the messenger needs from end-to-end encryption goes through here;
// the work is done by account.ts, invites.ts and seal.ts on one shared DeviceContext (context.ts).
import { safetyNumber } from '../identity/safety-number.ts'
import { publicContact, type ContactRecord } from '../store/contacts.ts'
import type { Database } from '../store/db.ts'
import { toHex } from '../wire/bytes.ts'
import type { Payload } from '../wire/payload.ts'
import { accountExists, createAccount, openAccount, type OpenOptions } from './account.ts'
import { checkName, checkNetwork, type DeviceContext, type NetworkCardFields } from './context.ts'
import { acceptInvite, createInvite } from './invites.ts'
import { cardPayload, envelopeMailbox, openEnvelope, seal, type Opened, type StoreOpened } from './seal.ts'

export type { ContactRecord } from '../store/contacts.ts'
export type { Payload, ContactCard } from '../wire/payload.ts'
export type { NetworkCardFields } from './context.ts'
export type { StoreOpened } from './seal.ts'
export { DEVICE_ID, SENDER_CERT_LIFETIME_MS, SENDER_CERT_RENEW_MS } from './context.ts'
export { DEFAULT_SYNCHRONOUS, PREKEY_BATCH } from './account.ts'
export { DEFAULT_INVITE_LIFETIME_MS, MAX_INVITE_LIFETIME_MS } from './invites.ts'
export { PENDING_INVITE_GRACE_MS } from './seal.ts'

export interface InboundMailbox {
  readonly contactId: string
  /** True for the mailbox of an invite nobody has answered yet (contactId is then `invite:<hex>`). */
  readonly pending: boolean
  readonly mailboxId: Uint8Array
  readonly publicKey: Uint8Array
  readonly sign: (challenge: Uint8Array) => Uint8Array
}

export class Device {
  readonly db: Database
  readonly accountId: string
  private readonly ctx: DeviceContext

  private constructor (ctx: DeviceContext) {
    this.ctx = ctx
    this.db = ctx.db
    this.accountId = ctx.accountId
  }

  /** True when the data directory holds a store (and so an account, or a damaged attempt at one). */
  static exists (dataDir: string): boolean {
    return accountExists(dataDir)
  }

  /** Makes the one account of a data directory. A second create refuses (ACCOUNT_EXISTS) and touches nothing. */
  static async create (dataDir: string, o: OpenOptions & { name: string }): Promise<Device> {
    return new Device(createAccount(dataDir, o))
  }

  /** Opens the account of a data directory. Wrong passphrase or key file: StoreError WRONG_KEY. */
  static async open (dataDir: string, o: OpenOptions = {}): Promise<Device> {
    return new Device(openAccount(dataDir, o))
  }

  // ---- account ----

  displayName (): string {
    return this.ctx.name
  }

  setDisplayName (name: string): void {
    this.ctx.alive()
    const n = checkName(name, 'name')
    this.ctx.accounts.setDisplayName(n)
    this.ctx.name = n
  }

  /** Serialized identity public key (33 bytes). */
  identityKey (): Uint8Array {
    return this.ctx.identityKeyBytes
  }

  // ---- invites ----

  /** Makes a distinct invite: a new mailbox for the contact-to-be, a one-time prekey and a one-time Kyber prekey of its own. */
  async createInvite (o: NetworkCardFields & { expiresInMs?: number }): Promise<{ link: string, expiresAt: number }> {
    return await this.ctx.serial(async () => createInvite(this.ctx, o))
  }

  /**
   * Accepts an invite: verifies it, pins the inviter's identity key, runs PQXDH, creates the contact
   * and returns the first envelope (my contact card, sealed) for the inviter's mailbox. A bad invite
   * throws IdentityError and stores nothing.
   */
  async acceptInvite (link: string, o: { name?: string, card: NetworkCardFields }): Promise<{ contact: ContactRecord, envelope: Uint8Array }> {
    return await this.ctx.serial(async () => await acceptInvite(this.ctx, link, o))
  }

  // ---- messages ----

  /** Encrypts a payload in the contact's session and seals it for the contact's mailbox. */
  async seal (contactId: string, payload: Payload): Promise<Uint8Array> {
    return await this.ctx.serial(async () => await seal(this.ctx, contactId, payload))
  }

  /**
   * Opens an envelope addressed to one of my mailboxes. Throws E2eeError (TAMPERED, UNKNOWN_MAILBOX,
   * DUPLICATE, UNTRUSTED_IDENTITY, ...); on any error the session and store are left unchanged.
   * `o.store`, when given, runs inside the transaction that commits the session change: the
   * caller's rows (the message, its duplicate filter) and the advanced ratchet are written together
   * or not at all, so a crash can never consume a message key without the message.
   */
  async openEnvelope (envelope: Uint8Array, o: { store?: StoreOpened } = {}): Promise<Opened> {
    this.ctx.alive()
    const mailbox = envelopeMailbox(envelope)
    return await this.ctx.serial(async () => await openEnvelope(this.ctx, mailbox, envelope, o.store))
  }

  /** A card payload announcing my side of the pair to a contact (send it when my network location changes). */
  myCard (contactId: string, o: NetworkCardFields): Payload {
    this.ctx.alive()
    checkNetwork(o)
    return cardPayload(this.ctx, this.ctx.contactRow(contactId), o)
  }

  // ---- contacts ----

  safetyNumber (contactId: string): { digits: string, scannable: string } {
    this.ctx.alive()
    return safetyNumber(this.ctx.identityKeyBytes, this.ctx.contactRow(contactId).identityKey)
  }

  contacts (): ContactRecord[] {
    this.ctx.alive()
    return [...this.ctx.contactCache.values()].sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id)).map(publicContact)
  }

  contact (id: string): ContactRecord | undefined {
    this.ctx.alive()
    const c = this.ctx.contactCache.get(id)
    return c === undefined ? undefined : publicContact(c)
  }

  setVerified (contactId: string, v: boolean): void {
    const c = this.ctx.contactRow(contactId)
    this.ctx.contactRepo.setVerified(contactId, v)
    this.ctx.cacheContact({ ...c, verified: v })
  }

  renameContact (id: string, name: string): void {
    const c = this.ctx.contactRow(id)
    const n = checkName(name, 'name')
    this.ctx.contactRepo.rename(id, n)
    this.ctx.cacheContact({ ...c, name: n, renamed: true })
  }

  /** My mailboxes, to fetch from relays: one per contact, plus one per unanswered invite. */
  inboundMailboxes (): InboundMailbox[] {
    this.ctx.alive()
    const out: InboundMailbox[] = []
    for (const c of this.ctx.contactCache.values()) {
      out.push({ contactId: c.id, pending: false, mailboxId: c.myMailboxId, publicKey: c.myMailboxPublicKey, sign: this.ctx.signer(c.myMailboxId, c.myMailboxPrivateKey) })
    }
    for (const e of this.ctx.mailboxes.values()) {
      if (e.kind !== 'pending') continue
      const p = e.invite
      out.push({ contactId: `invite:${toHex(p.mailboxId).slice(0, 16)}`, pending: true, mailboxId: p.mailboxId, publicKey: p.mailboxPublicKey, sign: this.ctx.signer(p.mailboxId, p.mailboxPrivateKey) })
    }
    return out
  }

  close (): void {
    this.ctx.close()
  }
}
