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
import { inviteOver, purgeExpiredInvites } from './invite-expiry.ts'
import { maintainSignedPreKeys } from './signed-prekey.ts'
import { cardPayload, envelopeMailbox, openEnvelope, seal, type Opened, type StoreOpened, type StoreSealed } from './seal.ts'
import { E2eeError } from './errors.ts'
import { openPresence, sealPresence, type Presence } from './presence.ts'
import { dropExpiredRetired, retiredDrained, retiredState } from './retire.ts'
import { WireError } from '../wire/errors.ts'
// Last, away from the imports other work adds above: identity key changes (issue 14 item 8).
import { acceptKeyChange, acceptedHeld, blockKeyChange, pendingSafetyNumber, releaseHeld } from './key-change.ts'
// Issue 13: deleting contacts, listing and revoking pending invites.
import { deleteContact } from './delete-contact.ts'
import { pendingInvites, reusableInvite, revokeInvite, type PendingInviteView } from './pending-invites.ts'
export type { PendingInviteView } from './pending-invites.ts'
// Issue 11: groups.
import { DeviceGroups } from './groups/device-groups.ts'

export type { ContactRecord } from '../store/contacts.ts'
export type { Payload, ContactCard } from '../wire/payload.ts'
export type { NetworkCardFields } from './context.ts'
export type { StoreOpened, StoreSealed } from './seal.ts'
export { DEVICE_ID, SENDER_CERT_LIFETIME_MS, SENDER_CERT_RENEW_MS } from './context.ts'
export { DEFAULT_SYNCHRONOUS, PREKEY_BATCH } from './account.ts'
export { DEFAULT_INVITE_LIFETIME_MS, MAX_INVITE_LIFETIME_MS, MIN_INVITE_LIFETIME_MS } from './invites.ts'
export { PENDING_INVITE_GRACE_MS } from './seal.ts'
export { RETIRED_FETCH_GRACE_MS, RETIRED_KEEP_MS } from './retire.ts'
export { IdentityChangedError, MAX_HELD_ENVELOPES, MAX_KEY_CHANGES_KEPT } from './key-change.ts'
export type { Presence } from './presence.ts'

export { SIGNED_PREKEY_GRACE_MS, SIGNED_PREKEY_ROTATION_MS } from './signed-prekey.ts'

/** Key upkeep (maintainKeys) runs at least this often on a device whose mailboxes are listed: rotation is
 * weekly and deadlines are days long, so an hour late costs nothing. */
export const MAINTENANCE_INTERVAL_MS = 3600_000

export interface InboundMailbox {
  readonly contactId: string
  /** True for the mailbox of an invite nobody has answered yet (contactId is then `invite:<hex>`). */
  readonly pending: boolean
  readonly mailboxId: Uint8Array
  readonly publicKey: Uint8Array
  readonly sign: (challenge: Uint8Array) => Uint8Array
  /** The invite's mailbox after the handshake: once a drain finds it empty on every relay, call retiredDrained(). */
  readonly stopWhenEmpty?: boolean
}

/** Opens and seals inside Device.batch: one commit for all. */
export interface DeviceBatch {
  open: (envelope: Uint8Array, o?: { store?: StoreOpened }) => Promise<Opened>
  seal: (contactId: string, payload: Payload, o?: { store?: StoreSealed }) => Promise<Uint8Array>
}

export class Device {
  readonly db: Database
  readonly accountId: string
  private readonly ctx: DeviceContext
  /** Views of contact rows handed out by contact(), by row (see there). */
  readonly #contactViews = new WeakMap<object, ContactRecord>()
  /** Issue 11: groups (src/e2ee/groups/). */
  readonly groups: DeviceGroups

  private constructor (ctx: DeviceContext) {
    this.ctx = ctx
    this.db = ctx.db
    this.accountId = ctx.accountId
    this.groups = new DeviceGroups(ctx)
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
    const ctx = openAccount(dataDir, o)
    const device = new Device(ctx)
    // Nothing else runs yet: invites that ended while the device was off go now, keys due rotate.
    try {
      device.maintainNow()
    } catch (err) {
      ctx.close()
      throw err
    }
    return device
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
    return await this.ctx.serial(async () => {
      // An invite publishes the signed prekey: never hand out one past its rotation.
      this.maintainNow()
      return createInvite(this.ctx, o)
    })
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

  /**
   * Encrypts a payload in the contact's session and seals it for the contact's mailbox. `o.store`
   * (the caller's rows: the outbox entry, the sequence number) commits with the ratchet step.
   */
  async seal (contactId: string, payload: Payload, o: { store?: StoreSealed } = {}): Promise<Uint8Array> {
    return await this.ctx.serial(async () => await seal(this.ctx, contactId, payload, o.store))
  }

  /**
   * One commit for many operations: every open and seal made through `b` joins one unit of work,
   * committed with `extra` when `fn` resolves (the caller's writes for the whole batch). An operation
   * that throws before the commit drops only its own session writes, and the others go on; the `store`
   * callbacks all run inside the one commit, so one that throws fails the whole commit. If the commit
   * fails, nothing of the batch was written or cached.
   */
  async batch<T> (fn: (b: DeviceBatch) => Promise<T>, extra?: (result: T) => void): Promise<T> {
    const ctx = this.ctx
    const b: DeviceBatch = {
      open: async (envelope, o = {}) => await openEnvelope(ctx, envelopeMailbox(envelope), envelope, o.store),
      seal: async (contactId, payload, o = {}) => await seal(ctx, contactId, payload, o.store)
    }
    return await ctx.serial(async () => await ctx.stores.atomically(async () => await fn(b), extra))
  }

  /**
   * True for the first message of an answered invite, which creates a contact: later envelopes may
   * need that contact in the cache, so it goes into a batch of its own (a cheap header look-up).
   */
  startsContact (envelope: Uint8Array): boolean {
    try {
      return this.ctx.mailboxes.get(envelopeMailbox(envelope))?.kind === 'pending'
    } catch {
      return false
    }
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
    if (c === undefined) return undefined
    // The messenger asks several times per message; a row is replaced, never changed, when the contact changes.
    let view = this.#contactViews.get(c)
    if (view === undefined) {
      view = publicContact(c)
      this.#contactViews.set(c, view)
    }
    return view
  }

  setVerified (contactId: string, v: boolean): void {
    const c = this.ctx.contactRow(contactId)
    this.ctx.contactRepo.setVerified(contactId, v)
    this.ctx.cacheContact({ ...c, verified: v })
  }

  // ---- identity key changes (src/e2ee/key-change.ts) ----

  /** The safety number with a contact's new, pending identity key (NO_KEY_CHANGE when none waits). */
  pendingSafetyNumber (contactId: string): { digits: string, scannable: string, at: number, held: number } {
    this.ctx.alive()
    return pendingSafetyNumber(this.ctx, contactId)
  }

  /** The user accepts a contact's new identity key, named by the safety number they compared (`expected`, else
   * KEY_CHANGE_MOVED): pinned, not verified; then open acceptedHeld(). */
  async acceptKeyChange (contactId: string, expected: string): Promise<void> {
    await this.ctx.serial(async () => { await acceptKeyChange(this.ctx, contactId, expected) })
  }

  /** The user blocks a contact's new identity key, named as for accept: held envelopes dropped, later ones too, silently. */
  async blockKeyChange (contactId: string, expected: string): Promise<void> {
    await this.ctx.serial(async () => { blockKeyChange(this.ctx, contactId, expected) })
  }

  /** Envelopes held under a key the user accepted, oldest first (empty otherwise). */
  acceptedHeld (contactId: string): Uint8Array[] {
    this.ctx.alive()
    return acceptedHeld(this.ctx, contactId)
  }

  /** The accepted key's held envelopes were opened: forget them. */
  releaseHeld (contactId: string): void {
    this.ctx.alive()
    releaseHeld(this.ctx, contactId)
  }

  renameContact (id: string, name: string): void {
    const c = this.ctx.contactRow(id)
    const n = checkName(name, 'name')
    this.ctx.contactRepo.rename(id, n)
    this.ctx.cacheContact({ ...c, name: n, renamed: true })
  }

  /** Deletes unanswered invites past their deadline (expiry + PENDING_INVITE_GRACE_MS): their one-time
   * prekeys, pending rows and mailbox keys. Returns how many. Also done at open and when mailboxes are listed. */
  async purgeExpiredInvites (): Promise<number> {
    return await this.ctx.serial(async () => purgeExpiredInvites(this.ctx))
  }

  /** Key upkeep: expired invites purged, the signed prekey rotated when due (SIGNED_PREKEY_ROTATION_MS),
   * replaced ones deleted after SIGNED_PREKEY_GRACE_MS. Runs at open, before each invite, and at most
   * every MAINTENANCE_INTERVAL_MS while the mailboxes are listed (the messenger does so periodically). */
  async maintainKeys (): Promise<{ invitesPurged: number, signedPreKeyRotated: boolean, signedPreKeysDeleted: number }> {
    return await this.ctx.serial(async () => this.maintainNow())
  }

  private lastMaintained = -Infinity

  /** Only inside ctx.serial or before anything else runs. */
  private maintainNow (): { invitesPurged: number, signedPreKeyRotated: boolean, signedPreKeysDeleted: number } {
    this.lastMaintained = this.ctx.now()
    const invitesPurged = purgeExpiredInvites(this.ctx)
    const spk = maintainSignedPreKeys(this.ctx)
    return { invitesPurged, signedPreKeyRotated: spk.rotated, signedPreKeysDeleted: spk.deleted }
  }

  /** My mailboxes, to fetch from relays: one per contact, one per unanswered invite, and answered invites' mailboxes while drained. */
  inboundMailboxes (): InboundMailbox[] {
    this.ctx.alive()
    dropExpiredRetired(this.ctx)
    const now = this.ctx.now()
    // An invite past its deadline is no longer listed (the messenger closes its sessions); its keys are
    // deleted in the queue, after any envelope being opened now.
    let expired = false
    const out: InboundMailbox[] = []
    for (const c of this.ctx.contactCache.values()) {
      out.push({ contactId: c.id, pending: false, mailboxId: c.myMailboxId, publicKey: c.myMailboxPublicKey, sign: this.ctx.signer(c.myMailboxId, c.myMailboxPrivateKey) })
      const r = c.retired
      const state = r === undefined ? 'gone' : retiredState(r, now)
      if (r !== undefined && (state === 'fetch' || state === 'fetch-until-empty')) {
        out.push({ contactId: c.id, pending: false, mailboxId: r.mailboxId, publicKey: r.publicKey, sign: this.ctx.signer(r.mailboxId, r.privateKey), stopWhenEmpty: state === 'fetch-until-empty' })
      }
    }
    for (const e of this.ctx.mailboxes.values()) {
      if (e.kind !== 'pending') continue
      const p = e.invite
      if (inviteOver(p, now)) { expired = true; continue }
      out.push({ contactId: `invite:${toHex(p.mailboxId).slice(0, 16)}`, pending: true, mailboxId: p.mailboxId, publicKey: p.mailboxPublicKey, sign: this.ctx.signer(p.mailboxId, p.mailboxPrivateKey) })
    }
    out.push(...this.groups.inboundMailboxes())
    if (expired || now - this.lastMaintained >= MAINTENANCE_INTERVAL_MS) {
      this.lastMaintained = now
      void this.maintainKeys().catch((err: unknown) => { this.ctx.logger.warn('keys.maintenance-failed', { error: (err as Error).name }) })
    }
    return out
  }

  /** The retired mailbox of a contact was found empty on every relay after its grace: it is no longer fetched. */
  retiredDrained (contactId: string): void {
    this.ctx.alive()
    retiredDrained(this.ctx, contactId)
  }

  // ---- presence ----

  /** My presence record for a contact and day: encrypted with my presence secret for them, signed with my presence key for them. */
  sealPresence (contactId: string, day: number, p: Presence): Uint8Array {
    const c = this.ctx.contactRow(contactId)
    return sealPresence(c.myPresenceSecret, day, p, c.myPresenceSigningKey)
  }

  /**
   * Opens a contact's presence record. Refused (E2eeError BAD_PRESENCE) unless it opens with their secret, is
   * signed by the presence key from their card, is not dated past now + clock skew, and names the peer id their
   * card gave: a record may add addresses for the contact's known peer id, never make it another peer.
   */
  openPresence (contactId: string, day: number, sealed: Uint8Array): Presence {
    const c = this.ctx.contactRow(contactId)
    if (c.theirPresenceSecret === undefined || c.theirPresenceKey === undefined) {
      throw new E2eeError('BAD_PRESENCE', 'This contact has not sent its presence keys yet (they come with its contact card).')
    }
    let p: Presence
    try {
      p = openPresence(c.theirPresenceSecret, day, sealed, { verifyKey: c.theirPresenceKey, now: this.ctx.now() })
    } catch (err) {
      throw new E2eeError('BAD_PRESENCE', WireError.is(err) ? err.message : 'The presence record could not be read.', { cause: err })
    }
    if (c.theirPeerId === undefined || p.peerId !== c.theirPeerId) {
      throw new E2eeError('BAD_PRESENCE', 'The presence record names a peer id other than the one this contact\'s card gave; it was ignored.')
    }
    return p
  }

  close (): void {
    this.ctx.close()
  }

  // ---- issue 13: contacts and invites the user manages (src/e2ee/delete-contact.ts, pending-invites.ts) ----

  /** Deletes a contact: its rows, session and pinned key; its mailboxes are no longer listed. */
  async deleteContact (id: string): Promise<void> {
    await this.ctx.serial(async () => { deleteContact(this.ctx, id) })
  }

  /** Unanswered invites still open, oldest first. */
  pendingInvites (): PendingInviteView[] {
    return pendingInvites(this.ctx)
  }

  /** The newest pending invite to hand out again, if one has long enough to live. */
  reusableInvite (): { link: string, expiresAt: number } | undefined {
    return reusableInvite(this.ctx)
  }

  /** Revokes a pending invite: its one-time keys and mailbox keys deleted, its mailbox no longer listed. */
  async revokeInvite (id: string): Promise<void> {
    await this.ctx.serial(async () => { revokeInvite(this.ctx, id) })
  }
}
