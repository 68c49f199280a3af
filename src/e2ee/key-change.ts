// A contact's identity key that changed (issue 14 item 8), as Signal's "safety number changed": an
// envelope under a new key, in the contact's own mailbox, that really starts a session with this
// device is not opened but held, and the change is stored on the contact. The user compares the new
// safety number, then accepts (the new key is pinned, unverified, and the held envelopes open) or
// blocks (they are dropped, and so is everything later under that key, silently). Nothing is ever
// accepted without the user.
import {
  PreKeySignalMessage, ProtocolAddress, PublicKey, signalDecryptPreKey
} from '@signalapp/libsignal-client'
import { accountIdFromIdentityKey, signalUuidFromIdentityKey } from '../identity/account-id.ts'
import { SAFETY_NUMBER_DIGITS, safetyNumber } from '../identity/safety-number.ts'
import type { ContactRow } from '../store/contacts.ts'
import type { KeyChangeRow } from '../store/key-changes.ts'
import { decodePayload } from '../wire/payload.ts'
import { DEVICE_ID, type DeviceContext } from './context.ts'
import { E2eeError } from './errors.ts'

/** Envelopes held per contact under a pending key: a reinstalled contact's first card and what it
 * writes before the user decides. Each is at most MAX_ENVELOPE_BYTES, so a contact holds ≤ 2 MiB. */
export const MAX_HELD_ENVELOPES = 32
/** Key changes kept per contact (blocked keys among them): past this many distinct new keys, the
 * oldest decision is forgotten. A contact reinstalls a handful of times in its life, not sixteen. */
export const MAX_KEY_CHANGES_KEPT = 16

/** A new identity key waits for the user's decision (E2eeError UNTRUSTED_IDENTITY, so still permanent:
 * the envelope is held here, its relay copy may go). `fresh`: this envelope started the change. */
export class IdentityChangedError extends E2eeError {
  readonly contactId: string
  readonly fresh: boolean

  constructor (contactId: string, o: { fresh: boolean, held: boolean }) {
    super('UNTRUSTED_IDENTITY', o.held
      ? "The sender's identity key changed; the message is held until you compare the new safety number and accept or block it."
      : "The sender's identity key changed; the message was not kept (too many are held already, or it is a copy).")
    this.contactId = contactId
    this.fresh = o.fresh
  }
}

/** What openSealed learnt of an envelope under a key other than the contact's pinned one. */
export interface ForeignSender {
  readonly senderKey: PublicKey
  readonly senderKeyBytes: Uint8Array
  readonly addressName: string
  readonly isPreKey: boolean
  readonly contents: Uint8Array
  readonly envelope: Uint8Array
}

/** Thrown by the trial decryption to roll its unit of work back once it has succeeded. */
class TrialDone extends Error {}

/**
 * An envelope in a contact's current mailbox under another identity key. Always throws: BLOCKED_IDENTITY
 * (dropped silently), BAD_SENDER (not a real session start for this device: dropped), or
 * IdentityChangedError (held; the change is stored on the contact).
 */
export async function foreignSender (ctx: DeviceContext, contact: ContactRow, f: ForeignSender): Promise<never> {
  const repo = ctx.keyChangeRepo
  const known = repo.find(contact.id, f.senderKeyBytes)
  if (known?.state === 'blocked') throw new E2eeError('BLOCKED_IDENTITY', 'A message under an identity key you blocked for this contact was dropped.')
  if (known?.state === 'pending' && repo.isHeld(f.envelope)) throw new IdentityChangedError(contact.id, { fresh: false, held: false })
  if (!f.isPreKey) throw new E2eeError('BAD_SENDER', 'A message under a new identity key must start a session; it was dropped.')
  if (ctx.contactRepo.byAccountId(accountIdFromIdentityKey(f.senderKeyBytes)) !== undefined) {
    throw new E2eeError('BAD_SENDER', "A message under another contact's identity key arrived in this contact's mailbox; it was dropped.")
  }
  await trialDecrypt(ctx, f)
  const now = ctx.now()
  const fresh = known?.state !== 'pending'
  let held = false
  ctx.db.transaction(() => {
    if (fresh) repo.setPending(contact.id, f.senderKeyBytes, now, MAX_KEY_CHANGES_KEPT)
    if (repo.heldCount(contact.id, f.senderKeyBytes) < MAX_HELD_ENVELOPES) held = repo.hold(contact.id, f.senderKeyBytes, f.envelope, now)
  })()
  ctx.keyChanges.set(contact.id, { at: fresh ? now : known.at, state: 'pending', held: repo.heldCount(contact.id, f.senderKeyBytes) })
  ctx.cacheContact(ctx.contactRow(contact.id))
  ctx.logger.warn('identity-key-changed', { fresh, held })
  throw new IdentityChangedError(contact.id, { fresh, held })
}

/**
 * Decrypts the session start in a unit of work that is always rolled back: proof that the sender holds
 * the new key and ran PQXDH with this device's prekeys (so the message was made for this device), and
 * that it carries a valid payload. Nothing is kept: no session, no pinned key, no prekey used.
 */
async function trialDecrypt (ctx: DeviceContext, f: ForeignSender): Promise<void> {
  try {
    await ctx.stores.atomically(async () => {
      const m = PreKeySignalMessage.deserialize(f.contents as Uint8Array<ArrayBuffer>)
      // Pinned for this trial only: libsignal refuses a session start whose own identity key is another.
      ctx.stores.pinIdentity(f.addressName, f.senderKey)
      const address = ProtocolAddress.new(f.addressName, DEVICE_ID)
      decodePayload(await signalDecryptPreKey(m, address, ctx.localAddress, ctx.stores, ctx.stores, ctx.stores, ctx.stores, ctx.stores))
      throw new TrialDone('trial decryption done')
    })
  } catch (err) {
    if (err instanceof TrialDone) return
    throw new E2eeError('BAD_SENDER', 'A message under a new identity key is not a session start for this device; it was dropped.', { cause: err })
  }
}

function pending (ctx: DeviceContext, contactId: string): KeyChangeRow {
  ctx.contactRow(contactId)
  const k = ctx.keyChangeRepo.forContact(contactId).find((r) => r.state === 'pending')
  if (k === undefined) throw new E2eeError('NO_KEY_CHANGE', "This contact's identity key has not changed, or the change was already decided.")
  return k
}

/**
 * The pending key change the user decides about, only if it is still the one whose safety number they
 * compared (`expected`, its digits; spaces ignored). A newer key replaces a pending one (setPending), so
 * between reading the number and clicking, the pending key may have become someone else's: deciding by
 * contact id alone would pin (or block) a key the user never saw. KEY_CHANGE_MOVED then, and nothing changes.
 */
function pendingAsSeen (ctx: DeviceContext, contactId: string, expected: string): KeyChangeRow {
  const digits = expected.replace(/\s+/g, '')
  if (!new RegExp(`^[0-9]{${SAFETY_NUMBER_DIGITS}}$`).test(digits)) throw new RangeError(`The expected safety number must be ${SAFETY_NUMBER_DIGITS} digits.`)
  const k = pending(ctx, contactId)
  if (safetyNumber(ctx.identityKeyBytes, k.identityKey).digits !== digits) {
    throw new E2eeError('KEY_CHANGE_MOVED', "The contact's pending identity key is not the one whose safety number you compared (a newer one arrived); compare the new number, then decide again.")
  }
  return k
}

/** The safety number with the contact's new, pending key: what to compare before accepting. */
export function pendingSafetyNumber (ctx: DeviceContext, contactId: string): { digits: string, scannable: string, at: number, held: number } {
  const k = pending(ctx, contactId)
  return { ...safetyNumber(ctx.identityKeyBytes, k.identityKey), at: k.at, held: ctx.keyChangeRepo.heldCount(contactId, k.identityKey) }
}

/** The user accepts the new key whose safety number is `expected`: it is pinned in place of the old one, the contact is not verified any more. */
export async function acceptKeyChange (ctx: DeviceContext, contactId: string, expected: string): Promise<void> {
  const c = ctx.contactRow(contactId)
  const k = pendingAsSeen(ctx, contactId, expected)
  const accountId = accountIdFromIdentityKey(k.identityKey)
  if (ctx.contactRepo.byAccountId(accountId) !== undefined) {
    throw new E2eeError('BAD_SENDER', 'The new identity key is another contact\'s; it cannot be accepted for this one.')
  }
  const address = signalUuidFromIdentityKey(k.identityKey)
  const now = ctx.now()
  await ctx.stores.atomically(async () => { ctx.stores.pinIdentity(address, PublicKey.deserialize(k.identityKey as Uint8Array<ArrayBuffer>)) }, () => {
    ctx.keyChangeRepo.repinContact(contactId, { identityKey: k.identityKey, accountId, address })
    ctx.keyChangeRepo.decide(contactId, k.identityKey, 'accepted', now)
  })
  ctx.keyChanges.set(contactId, { at: k.at, state: 'accepted', held: ctx.keyChangeRepo.heldCount(contactId, k.identityKey), decidedAt: now })
  ctx.cacheContact({ ...c, identityKey: k.identityKey, accountId, address, verified: false })
  ctx.logger.info('identity-key-accepted')
}

/** The user blocks the new key whose safety number is `expected`: its held envelopes are dropped, and every later one under it, silently. */
export function blockKeyChange (ctx: DeviceContext, contactId: string, expected: string): void {
  const k = pendingAsSeen(ctx, contactId, expected)
  const now = ctx.now()
  ctx.db.transaction(() => {
    ctx.keyChangeRepo.dropHeld(contactId, k.identityKey)
    ctx.keyChangeRepo.decide(contactId, k.identityKey, 'blocked', now)
  })()
  ctx.keyChanges.set(contactId, { at: k.at, state: 'blocked', held: 0, decidedAt: now })
  ctx.cacheContact(ctx.contactRow(contactId))
  ctx.logger.info('identity-key-blocked')
}

/** Envelopes held under a key the user accepted, in arrival order: the messenger opens them, then releases them. */
export function acceptedHeld (ctx: DeviceContext, contactId: string): Uint8Array[] {
  const c = ctx.contactRow(contactId)
  if (c.keyChange?.state !== 'accepted') return []
  return ctx.keyChangeRepo.held(contactId, c.identityKey)
}

/** The held envelopes of an accepted key were opened (or can never open): forget them. */
export function releaseHeld (ctx: DeviceContext, contactId: string): void {
  const c = ctx.contactRow(contactId)
  const k = ctx.keyChanges.get(contactId)
  if (k?.state !== 'accepted') return
  ctx.keyChangeRepo.dropHeld(contactId, c.identityKey)
  ctx.keyChanges.set(contactId, { ...k, held: 0 })
  ctx.cacheContact(c)
}
