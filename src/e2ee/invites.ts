// Invites: making one (a fresh mailbox and one-time prekeys of its own) and accepting one (verify,
// pin the inviter's key, run PQXDH, create the contact and seal my card as the first message).
import { randomBytes } from 'node:crypto'
import { KEMKeyPair, KEMPublicKey, KyberPreKeyRecord, PreKeyBundle, PreKeyRecord, PublicKey, SignedPreKeyRecord, processPreKeyBundle } from '@signalapp/libsignal-client'
import { accountIdFromIdentityKey } from '../identity/account-id.ts'
import { IdentityError } from '../identity/errors.ts'
import type { AccountRow } from '../store/account.ts'
import { publicContact, type ContactRecord, type PendingInvite } from '../store/contacts.ts'
import { toHex } from '../wire/bytes.ts'
import { WireError } from '../wire/errors.ts'
import { decodeInvite, inviteToLink, linkToInvite, signInvite, verifyInvite, type InviteRecord } from '../wire/invite.ts'
import { PRESENCE_SECRET_BYTES, encodePayload } from '../wire/payload.ts'
import { savePreKeyBatch, PREKEY_BATCH } from './account.ts'
import { freshMySide, newContactRow } from './contact-row.ts'
import { DEVICE_ID, blob, checkName, checkNetwork, newMailbox, type DeviceContext, type NetworkCardFields } from './context.ts'
import { cardPayload, encryptFor } from './seal.ts'

/** Default invite lifetime: a week is long enough to pass a link on, short enough to limit exposure. */
export const DEFAULT_INVITE_LIFETIME_MS = 7 * 24 * 3600 * 1000
/** Shortest invite lifetime: under a minute, a link cannot even be copied to someone. */
export const MIN_INVITE_LIFETIME_MS = 60_000
/** Longest invite lifetime: an unanswered invite holds a one-time prekey and a mailbox I keep
 * watching; a month is long enough to pass a link on slowly, short enough to bound how long a
 * leaked link works. */
export const MAX_INVITE_LIFETIME_MS = 30 * 24 * 3600 * 1000

/** A person reads these: the wire layer's sentences name fields ("Kyber prekey", byte counts), which
 * says nothing to them, so each code gets its own sentence here (the wire error stays the cause). The
 * link's own checks (prefix, alphabet, length) and the version's are already written for people. */
function wireToInvite (err: unknown, stage: 'link' | 'content'): IdentityError {
  if (err instanceof IdentityError) return err
  if (!WireError.is(err)) return new IdentityError('INVITE_MALFORMED', 'This invite could not be read; copy it again in full.', { cause: err })
  if (err.code === 'VERSION') return new IdentityError('INVITE_VERSION', err.message, { cause: err })
  if (err.code === 'TRUNCATED') return new IdentityError('INVITE_TRUNCATED', 'This invite is incomplete: its end is missing. Copy the whole invite again.', { cause: err })
  if (stage === 'link') return new IdentityError(err.code === 'TOO_LARGE' ? 'INVITE_TOO_LARGE' : 'INVITE_MALFORMED', err.message, { cause: err })
  if (err.code === 'TOO_LARGE') return new IdentityError('INVITE_TOO_LARGE', 'This invite is damaged: a part of it is far too long. Copy it again in full, or ask for a new one.', { cause: err })
  return new IdentityError('INVITE_MALFORMED', 'This is not a 0message1 invite, or it was damaged when copied; copy it again in full.', { cause: err })
}

/** A one-time prekey no pending invite has promised yet; a new batch when none is left. */
function takePreKey (ctx: DeviceContext): PreKeyRecord {
  const promised = ctx.contactRepo.pendingPreKeyIds()
  const ids = ctx.db.prepare('SELECT id FROM signal_prekeys ORDER BY id').all().map((r) => r.id as number)
  const free = ids.find((id) => !promised.has(id))
  if (free !== undefined) {
    const row = ctx.db.prepare('SELECT record FROM signal_prekeys WHERE id = ?').get([free])
    return PreKeyRecord.deserialize(blob(row?.record as Uint8Array))
  }
  return savePreKeyBatch(ctx.stores, ctx.accounts.reserveIds('prekey', PREKEY_BATCH))
}

function signedPreKey (ctx: DeviceContext, id: number): SignedPreKeyRecord {
  const row = ctx.db.prepare('SELECT record FROM signal_signed_prekeys WHERE id = ?').get([id])
  return SignedPreKeyRecord.deserialize(blob(row?.record as Uint8Array))
}

/** Makes a distinct invite: a new mailbox for the contact-to-be, a one-time prekey and a one-time Kyber prekey of its own. */
export function createInvite (ctx: DeviceContext, o: NetworkCardFields & { expiresInMs?: number }): { link: string, expiresAt: number } {
  checkNetwork(o)
  const lifetime = o.expiresInMs ?? DEFAULT_INVITE_LIFETIME_MS
  if (!Number.isInteger(lifetime) || lifetime < MIN_INVITE_LIFETIME_MS || lifetime > MAX_INVITE_LIFETIME_MS) {
    throw new RangeError(`expiresInMs must be ${MIN_INVITE_LIFETIME_MS}..${MAX_INVITE_LIFETIME_MS}`)
  }
  const now = ctx.now()
  const account = ctx.accounts.get() as AccountRow
  const mailbox = newMailbox()
  // Kept in the pending row only (its column predates invite v2); the contact gets fresh presence keys when the
  // invite is answered (seal.ts), and nothing presence-related is in the invite.
  const presenceSecret = new Uint8Array(randomBytes(PRESENCE_SECRET_BYTES))
  const expiresAt = now + lifetime
  const link = ctx.db.transaction(() => {
    const preKey = takePreKey(ctx)
    const kyberId = ctx.accounts.reserveIds('kyber', 1)
    const kyber = KEMKeyPair.generate()
    const kyberRecord = KyberPreKeyRecord.new(kyberId, now, kyber, ctx.identity.privateKey.sign(kyber.getPublicKey().serialize()))
    ctx.stores.saveKyber(kyberId, kyberRecord, false)
    const signed = signedPreKey(ctx, account.signedPreKeyId)
    const record: InviteRecord = {
      identityKey: ctx.identityKeyBytes,
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
      createdAt: now,
      expiresAt,
      displayName: ctx.name,
      ...(o.peerId === undefined ? {} : { peerId: o.peerId }),
      relays: o.relays,
      addresses: o.addresses
    }
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
    ctx.contactRepo.insertPending(pending)
    ctx.addPending(pending)
    return inviteToLink(signInvite(record, ctx.identity.privateKey))
  })()
  ctx.logger.info('invite.created')
  return { link, expiresAt }
}

/**
 * Accepts an invite: verifies it, pins the inviter's identity key, runs PQXDH, creates the contact
 * and returns the first envelope (my contact card, sealed) for the inviter's mailbox. A bad invite
 * throws IdentityError and stores nothing.
 */
export async function acceptInvite (ctx: DeviceContext, link: string, o: { name?: string, card: NetworkCardFields }): Promise<{ contact: ContactRecord, envelope: Uint8Array }> {
  checkNetwork(o.card)
  const localName = o.name === undefined ? undefined : checkName(o.name, 'name')
  let bytes
  try {
    bytes = linkToInvite(link)
  } catch (err) {
    throw wireToInvite(err, 'link')
  }
  let invite
  try {
    invite = decodeInvite(bytes)
  } catch (err) {
    throw wireToInvite(err, 'content')
  }
  if (!verifyInvite(invite)) throw new IdentityError('INVITE_SIGNATURE', 'This invite was altered: its signature does not match. Ask for a new invite.')
  const r = invite.record
  const now = ctx.now()
  if (now > r.expiresAt) throw new IdentityError('INVITE_EXPIRED', 'This invite has expired. Ask for a new one.')
  if (Buffer.from(r.identityKey).equals(ctx.identityKeyBytes)) throw new IdentityError('INVITE_OWN', 'This is your own invite; give it to the person you want to talk to.')
  if (ctx.contactRepo.byAccountId(accountIdFromIdentityKey(r.identityKey)) !== undefined) throw new IdentityError('INVITE_ALREADY_CONTACT', 'The person who made this invite is already one of your contacts.')
  if (ctx.mailboxes.has(toHex(r.mailboxId))) throw new IdentityError('INVITE_MALFORMED', 'This invite names a mailbox this device already uses.')

  const identityKey = PublicKey.deserialize(blob(r.identityKey))
  const bundle = PreKeyBundle.new(r.registrationId, DEVICE_ID, r.preKeyId, PublicKey.deserialize(blob(r.preKey)),
    r.signedPreKeyId, PublicKey.deserialize(blob(r.signedPreKey)), blob(r.signedPreKeySignature), identityKey,
    r.kyberPreKeyId, KEMPublicKey.deserialize(blob(r.kyberPreKey)), blob(r.kyberPreKeySignature))
  const row = newContactRow({ identityKey: r.identityKey, localName, createdAt: now, theirs: r, mine: freshMySide() })
  const address = ctx.address(row)
  const first = encodePayload(cardPayload(ctx, row, o.card))
  const envelope = await ctx.stores.atomically(async () => {
    // Pinned before the session exists: libsignal trusts only this key for the address (no TOFU).
    ctx.stores.pinIdentity(row.address, identityKey)
    try {
      await processPreKeyBundle(bundle, address, ctx.localAddress, ctx.stores, ctx.stores, new Date(now))
    } catch (err) {
      throw new IdentityError('INVITE_SIGNATURE', 'This invite was altered: one of its keys is not signed by the person who made it. Ask for a new invite.', { cause: err })
    }
    return await encryptFor(ctx, row, address, first)
  }, () => { ctx.contactRepo.insert(row) })
  ctx.cacheContact(row)
  ctx.logger.info('invite.accepted')
  return { contact: publicContact(row), envelope }
}
