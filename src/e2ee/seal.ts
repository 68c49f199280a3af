// Sealing and opening envelopes: a payload encrypted in the contact's libsignal session (sealed
// sender until the session is confirmed) inside the mailbox envelope, and the way back, including the
// first message of an answered invite, which creates the contact.
import { randomBytes } from 'node:crypto'
import {
  CiphertextMessageType, ContentHint, ErrorCode, LibSignalErrorBase, PreKeySignalMessage, ProtocolAddress, SenderCertificate,
  SignalMessage, UnidentifiedSenderMessageContent, sealedSenderDecryptToUsmc, sealedSenderEncrypt, signalDecrypt,
  signalDecryptPreKey, signalEncrypt
} from '@signalapp/libsignal-client'
import { accountIdFromIdentityKey, signalUuidFromIdentityKey } from '../identity/account-id.ts'
import { publicContact, type ContactRecord, type ContactRow } from '../store/contacts.ts'
import { toHex } from '../wire/bytes.ts'
import { INNER_GROUP, INNER_SEALED, INNER_SIGNAL, openEnvelope as openBox, readEnvelopeHeader, sealEnvelope } from '../wire/envelope.ts'
import { WireError } from '../wire/errors.ts'
import { PAYLOAD_ID_BYTES, decodePayload, encodePayload, type ContactCard, type Payload } from '../wire/payload.ts'
import { freshMySide, newContactRow, withCard } from './contact-row.ts'
import { DEVICE_ID, blob, type DeviceContext, type MailboxEntry, type NetworkCardFields } from './context.ts'
import { E2eeError } from './errors.ts'
import { foreignSender } from './key-change.ts'
import { noteSwitch } from './retire.ts'
// Issue 11: groups (group bodies in pairwise sessions, sender-key envelopes, members met through a group).
import { metThrough, openGroupBody, openGroupEnvelope, type GroupOpened } from './groups/groups.ts'

/** After an invite expires, its first message is still accepted for this long: the accepter may
 * have accepted just in time while the inviter was offline and the message waited on a relay. */
export const PENDING_INVITE_GRACE_MS = 14 * 24 * 3600 * 1000

/** libsignal hands message types back as plain numbers. */
const PREKEY: number = CiphertextMessageType.PreKey
const WHISPER: number = CiphertextMessageType.Whisper

/** The caller's writes for an opened envelope, run inside the transaction that commits the session. */
export type StoreOpened = (opened: { contactId: string, payload: Payload, group?: GroupOpened }) => void

export interface Opened { contact: ContactRecord, payload: Payload, newContact: boolean, group?: GroupOpened }

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

/** A card payload announcing my side of the pair to a contact. */
export function cardPayload (ctx: DeviceContext, contact: ContactRow, o: NetworkCardFields): Payload {
  return {
    kind: 'card',
    id: new Uint8Array(randomBytes(PAYLOAD_ID_BYTES)),
    seq: 0,
    card: {
      displayName: ctx.name,
      mailboxId: contact.myMailboxId,
      mailboxKey: contact.myMailboxKey,
      presenceSecret: contact.myPresenceSecret,
      presenceKey: contact.myPresencePublicKey,
      ...(o.peerId === undefined ? {} : { peerId: o.peerId }),
      relays: [...o.relays],
      addresses: [...o.addresses],
      senderCertificate: ctx.senderCert.serialize()
    }
  }
}

/** Encrypts in the contact's session; sealed sender while the session is unconfirmed. */
export async function encryptFor (ctx: DeviceContext, contact: ContactRow, address: ProtocolAddress, plaintext: Uint8Array): Promise<Uint8Array> {
  const ct = await signalEncrypt(blob(plaintext), address, ctx.localAddress, ctx.stores, ctx.stores, new Date(ctx.now()))
  let body: Uint8Array
  let innerType: typeof INNER_SEALED | typeof INNER_SIGNAL
  // A member met through a group may still write to my group mailbox, which several members share: it names its
  // sender only inside the seal (issue 11), so messages to such members are always sealed.
  if (ct.type() === PREKEY || metThrough(ctx, contact.id) !== undefined) {
    // Not yet confirmed: the PreKey message carries my identity key in clear, and the invite's
    // mailbox key may be known to anyone who saw the invite. Seal the sender inside.
    const usmc = UnidentifiedSenderMessageContent.new(ct, ctx.senderCert, ContentHint.Default, null)
    body = await sealedSenderEncrypt(usmc, address, ctx.stores)
    innerType = INNER_SEALED
  } else {
    body = ct.serialize()
    innerType = INNER_SIGNAL
  }
  return sealEnvelope({ mailboxId: contact.theirMailboxId, mailboxKey: contact.theirMailboxKey, innerType, body })
}

/** The caller's writes for a sealed envelope (its outbox row), run inside the transaction that commits the ratchet step. */
export type StoreSealed = (envelope: Uint8Array) => void

/**
 * Encrypts a payload in the contact's session and seals it for the contact's mailbox. `store` is
 * committed with the ratchet step: the envelope is never kept (or sent) without its session state.
 */
export async function seal (ctx: DeviceContext, contactId: string, payload: Payload, store?: StoreSealed): Promise<Uint8Array> {
  const contact = ctx.contactRow(contactId)
  const bytes = encodePayload(payload)
  return await ctx.stores.atomically(async () => await encryptFor(ctx, contact, ctx.address(contact), bytes), store)
}

/** Reads the header outside the queue, so a malformed envelope fails before waiting its turn. */
export function envelopeMailbox (envelope: Uint8Array): string {
  try {
    return toHex(readEnvelopeHeader(envelope).mailboxId)
  } catch (err) {
    throw new E2eeError('MALFORMED', WireError.is(err) ? err.message : 'The envelope could not be read.', { cause: err })
  }
}

/** Opens an envelope for the mailbox `mailboxHex` (from envelopeMailbox); see Device.openEnvelope. */
export async function openEnvelope (ctx: DeviceContext, mailboxHex: string, envelope: Uint8Array, store?: StoreOpened): Promise<Opened> {
  const entry = ctx.mailboxes.get(mailboxHex)
  if (entry === undefined) throw new E2eeError('UNKNOWN_MAILBOX', 'The envelope is for a mailbox this device does not own.')
  let inner
  try {
    inner = openBox(envelope, entry.key)
  } catch (err) {
    if (WireError.is(err, 'AUTH')) throw new E2eeError('TAMPERED', 'The envelope was altered in transit (or is not for this mailbox); it was dropped.', { cause: err })
    throw new E2eeError('MALFORMED', WireError.is(err) ? err.message : 'The envelope could not be read.', { cause: err })
  }
  if (inner.innerType === INNER_GROUP) {
    if (entry.kind === 'pending') throw new E2eeError('BAD_SENDER', 'A group message arrived in an invite mailbox; it was dropped.')
    const body = inner.body
    let result: Awaited<ReturnType<typeof openGroupEnvelope>> | undefined
    await ctx.stores.atomically(async () => {
      result = await openGroupEnvelope(ctx, entry.kind === 'contact' ? entry.contactId : undefined, body)
    }, () => {
      const r = result as NonNullable<typeof result>
      store?.({ contactId: r.contact.id, payload: r.payload, group: r.opened })
    })
    const r = result as NonNullable<typeof result>
    return { contact: r.contact, payload: r.payload, newContact: false, group: r.opened }
  }
  if (inner.innerType === INNER_SIGNAL) {
    if (entry.kind !== 'contact') throw new E2eeError('BAD_SENDER', 'A message for an unanswered invite must be sealed; it was dropped.')
    const contact = ctx.contactRow(entry.contactId)
    let message: SignalMessage
    try {
      message = SignalMessage.deserialize(blob(inner.body))
    } catch (err) {
      throw new E2eeError('MALFORMED', 'The message inside the envelope does not parse.', { cause: err })
    }
    const address = ctx.address(contact)
    const opened = await decryptAndApply(ctx, contact, async () => await signalDecrypt(message, address, ctx.localAddress, ctx.stores, ctx.stores), store)
    noteSwitch(ctx, contact.id, mailboxHex)
    return opened
  }
  const opened = await openSealed(ctx, entry, inner.body, envelope, store)
  if (entry.kind === 'contact') noteSwitch(ctx, entry.contactId, mailboxHex)
  return opened
}

async function openSealed (ctx: DeviceContext, entry: MailboxEntry, body: Uint8Array, envelope: Uint8Array, store?: StoreOpened): Promise<Opened> {
  let usmc: UnidentifiedSenderMessageContent
  try {
    usmc = await sealedSenderDecryptToUsmc(blob(body), ctx.stores)
  } catch (err) {
    throw new E2eeError('BAD_SENDER', 'The sealed message could not be unsealed.', { cause: err })
  }
  const cert = usmc.senderCertificate()
  const senderKey = cert.key()
  const senderKeyBytes = senderKey.serialize()
  const addressName = signalUuidFromIdentityKey(senderKeyBytes)
  // Self-issued certificate: trust root = the sender's own identity key. What makes it count is
  // the next check against the key pinned from the invite exchange.
  if (!cert.validate(senderKey, ctx.now()) || cert.senderUuid() !== addressName || cert.senderDeviceId() !== DEVICE_ID) {
    throw new E2eeError('BAD_SENDER', "The sealed message's sender certificate is not valid.")
  }
  const type = usmc.msgType()
  const contents = usmc.contents()
  const decrypt = async (address: ProtocolAddress): Promise<Uint8Array> => {
    try {
      if (type === PREKEY) {
        const m = PreKeySignalMessage.deserialize(contents)
        return await signalDecryptPreKey(m, address, ctx.localAddress, ctx.stores, ctx.stores, ctx.stores, ctx.stores, ctx.stores)
      }
      if (type === WHISPER) {
        return await signalDecrypt(SignalMessage.deserialize(contents), address, ctx.localAddress, ctx.stores, ctx.stores)
      }
    } catch (err) {
      throw signalError(err)
    }
    throw new E2eeError('MALFORMED', 'The sealed message holds a message type this version does not use.')
  }

  if (entry.kind === 'contact') {
    const contact = ctx.contactRow(entry.contactId)
    if (!Buffer.from(contact.identityKey).equals(senderKeyBytes)) {
      // The retired invite mailbox's key is known to whoever saw the invite: a stranger's message there is
      // dropped quietly, not shown as this contact's key changing (that warning would be theirs to trigger).
      if (entry.retired === true) throw new E2eeError('BAD_SENDER', 'A message under another identity key arrived in a retired invite mailbox; it was dropped.')
      // The contact's own mailbox: a session start under a new key is held for the user's decision.
      return await foreignSender(ctx, contact, { senderKey, senderKeyBytes, addressName, isPreKey: type === PREKEY, contents, envelope })
    }
    return await decryptAndApply(ctx, contact, async () => await decrypt(ctx.address(contact)), store)
  }

  if (entry.kind === 'group') {
    // My mailbox for a group: a member I met through it, named by its certificate. A member not known yet (the
    // change that adds it has not reached me) is kept for a later try.
    const account = accountIdFromIdentityKey(senderKeyBytes)
    const contact = [...ctx.contactCache.values()].find((c) => c.accountId === account)
    if (contact === undefined) throw new E2eeError('CARD_REQUIRED', 'A message from a group member this device has not learnt of yet; it opens once the change adding it arrives.')
    return await decryptAndApply(ctx, contact, async () => await decrypt(ctx.address(contact)), store)
  }

  // First message for one of my invites: the accepter's contact card, creating the contact here.
  const invite = entry.invite
  const now = ctx.now()
  if (now > invite.expiresAt + PENDING_INVITE_GRACE_MS) throw new E2eeError('INVITE_EXPIRED', 'A first message arrived for an invite that expired; make a new invite.')
  if (type !== PREKEY) throw new E2eeError('BAD_SENDER', 'The first message for an invite must start a session.')
  if (ctx.contactRepo.byAccountId(accountIdFromIdentityKey(senderKeyBytes)) !== undefined) throw new E2eeError('BAD_SENDER', 'An invite was answered by an account that is already a contact; the message was dropped.')
  const address = ProtocolAddress.new(addressName, DEVICE_ID)
  let row: ContactRow | undefined
  const payload = await ctx.stores.atomically(async () => {
    ctx.stores.pinIdentity(addressName, senderKey)
    const p = decodePayloadOrThrow(await decrypt(address))
    if (p.kind !== 'card') throw new E2eeError('CARD_REQUIRED', 'A message for an invite arrived before the contact card; it will be accepted when sent again.')
    const card = checkCard(ctx, p.card, senderKeyBytes)
    // Invite secrets are retired (issue 9): the contact gets a fresh mailbox and presence keys, announced in my
    // first card inside the session; the invite's mailbox is drained and then dropped (src/e2ee/retire.ts).
    const created = newContactRow({
      identityKey: senderKeyBytes,
      createdAt: now,
      theirs: card,
      mine: freshMySide(),
      retired: { mailboxId: invite.mailboxId, mailboxKey: invite.mailboxKey, privateKey: invite.mailboxPrivateKey, publicKey: invite.mailboxPublicKey, fetching: true }
    })
    row = created
    // The cache learns the contact once it is committed (at the end of the batch this envelope is in).
    ctx.stores.defer(undefined, () => {
      ctx.cacheContact(created)
      ctx.logger.info('invite.answered')
    })
    return p
  }, (p) => {
    const created = row as ContactRow
    ctx.contactRepo.insert(created)
    ctx.contactRepo.deletePending(invite.mailboxId)
    store?.({ contactId: created.id, payload: p })
  })
  return { contact: publicContact(row as ContactRow), payload, newContact: true }
}

async function decryptAndApply (ctx: DeviceContext, contact: ContactRow, decrypt: () => Promise<Uint8Array>, store?: StoreOpened): Promise<Opened> {
  let updated: ContactRow | undefined
  let group: GroupOpened | undefined
  const payload = await ctx.stores.atomically(async () => {
    let plaintext: Uint8Array
    try {
      plaintext = await decrypt()
    } catch (err) {
      throw signalError(err)
    }
    const p = decodePayloadOrThrow(plaintext)
    if (p.kind === 'card') {
      const next = withCard(contact, checkCard(ctx, p.card, contact.identityKey))
      updated = next
      ctx.stores.defer(undefined, () => { ctx.cacheContact(next) })
    }
    if (p.kind === 'group') group = await openGroupBody(ctx, contact, p.body)
    return p
  }, (p) => {
    if (p.kind === 'card') {
      // Stored as cached: the peer id in libp2p's form (withCard), not as the card wrote it.
      const peerId = updated?.theirPeerId
      ctx.contactRepo.updateTheirs(contact.id, { ...p.card, ...(peerId === undefined ? {} : { peerId }), certificate: p.card.senderCertificate })
    }
    store?.({ contactId: contact.id, payload: p, ...(group === undefined ? {} : { group }) })
  })
  return { contact: publicContact(updated ?? contact), payload, newContact: false, ...(group === undefined ? {} : { group }) }
}

function decodePayloadOrThrow (plaintext: Uint8Array): Payload {
  try {
    return decodePayload(plaintext)
  } catch (err) {
    throw new E2eeError('BAD_PAYLOAD', `The message decrypted but its content is not valid: ${WireError.is(err) ? err.message : 'unreadable'}`, { cause: err })
  }
}

/** A card must carry a certificate for the key that sent it, and a mailbox key of the right size. */
function checkCard (ctx: DeviceContext, card: ContactCard, senderKey: Uint8Array): ContactCard {
  let ok = false
  try {
    const cert = SenderCertificate.deserialize(blob(card.senderCertificate))
    ok = Buffer.from(cert.key().serialize()).equals(senderKey) && cert.validate(cert.key(), ctx.now())
  } catch {
    ok = false
  }
  if (!ok) throw new E2eeError('BAD_SENDER', "The contact card's certificate does not belong to its sender.")
  return card
}
