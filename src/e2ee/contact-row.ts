// The one place a contact row is built: from the other side's invite (when I accept) or card (when
// my invite is answered, and on every later card), and my side's mailbox.
import { randomBytes } from 'node:crypto'
import { accountIdFromIdentityKey, signalUuidFromIdentityKey } from '../identity/account-id.ts'
import { canonicalPeerId } from '../identity/peer-id.ts'
import type { ContactRow, RetiredMailbox } from '../store/contacts.ts'
import { PRESENCE_SECRET_BYTES } from '../wire/payload.ts'
import { newMailbox } from './context.ts'
import { newPresenceKeys } from './presence.ts'

/** The other side as its invite or contact card describes it (both carry these fields). */
export interface TheirSide {
  readonly displayName: string
  readonly mailboxId: Uint8Array
  readonly mailboxKey: Uint8Array
  readonly relays: readonly string[]
  readonly peerId?: string
  readonly addresses: readonly string[]
  /** Only cards carry the presence secret and key (invites since v2 do not: issue 9). */
  readonly presenceSecret?: Uint8Array
  readonly presenceKey?: Uint8Array
  /** Only cards carry it; an invite is signed by the identity key instead. */
  readonly senderCertificate?: Uint8Array
}

/** My mailbox and presence keys for this contact. */
export interface MySide {
  readonly mailboxId: Uint8Array
  readonly mailboxKey: Uint8Array
  readonly mailboxPrivateKey: Uint8Array
  readonly mailboxPublicKey: Uint8Array
  readonly presenceSecret: Uint8Array
  readonly presenceSigningKey: Uint8Array
  readonly presencePublicKey: Uint8Array
}

/** A fresh mailbox (id, key, signing key) and fresh presence secret and signing key for one contact. */
export function freshMySide (): MySide {
  const mailbox = newMailbox()
  const presence = newPresenceKeys()
  return {
    mailboxId: mailbox.mailboxId,
    mailboxKey: mailbox.mailboxKey,
    mailboxPrivateKey: mailbox.privateKey,
    mailboxPublicKey: mailbox.publicKey,
    presenceSecret: new Uint8Array(randomBytes(PRESENCE_SECRET_BYTES)),
    presenceSigningKey: presence.privateKey,
    presencePublicKey: presence.publicKey
  }
}

type TheirFields = Pick<ContactRow, 'theirDisplayName' | 'theirMailboxId' | 'theirMailboxKey' | 'theirRelays' | 'theirPeerId' |
'theirAddresses' | 'theirPresenceSecret' | 'theirPresenceKey' | 'theirCertificate'>

function theirFields (t: TheirSide): TheirFields {
  return {
    theirDisplayName: t.displayName,
    theirMailboxId: t.mailboxId,
    theirMailboxKey: t.mailboxKey,
    theirRelays: [...t.relays],
    // In libp2p's form, so that the dial, WebRTC and presence checks compare it with a peer's id as strings.
    ...(t.peerId === undefined ? {} : { theirPeerId: canonicalPeerId(t.peerId) }),
    theirAddresses: [...t.addresses],
    ...(t.presenceSecret === undefined ? {} : { theirPresenceSecret: t.presenceSecret }),
    ...(t.presenceKey === undefined ? {} : { theirPresenceKey: t.presenceKey }),
    ...(t.senderCertificate === undefined ? {} : { theirCertificate: t.senderCertificate })
  }
}

/** A new contact; `localName` is the name I chose for them, else theirs is used. */
export function newContactRow (o: { identityKey: Uint8Array, localName?: string | undefined, createdAt: number, theirs: TheirSide, mine: MySide, retired?: RetiredMailbox }): ContactRow {
  return {
    id: randomBytes(16).toString('hex'),
    name: o.localName ?? o.theirs.displayName,
    renamed: o.localName !== undefined,
    accountId: accountIdFromIdentityKey(o.identityKey),
    identityKey: o.identityKey,
    address: signalUuidFromIdentityKey(o.identityKey),
    verified: false,
    createdAt: o.createdAt,
    ...theirFields(o.theirs),
    myMailboxId: o.mine.mailboxId,
    myMailboxKey: o.mine.mailboxKey,
    myMailboxPrivateKey: o.mine.mailboxPrivateKey,
    myMailboxPublicKey: o.mine.mailboxPublicKey,
    myPresenceSecret: o.mine.presenceSecret,
    myPresenceSigningKey: o.mine.presenceSigningKey,
    myPresencePublicKey: o.mine.presencePublicKey,
    ...(o.retired === undefined ? {} : { retired: o.retired })
  }
}

/** The row after a new card from the contact: their side replaced, my name for them kept if I chose one. */
export function withCard (row: ContactRow, card: TheirSide): ContactRow {
  // The new card says everything about their side: drop what it leaves out.
  const updated: { -readonly [K in keyof ContactRow]: ContactRow[K] } = { ...row }
  delete updated.theirPeerId
  delete updated.theirCertificate
  delete updated.theirPresenceSecret
  delete updated.theirPresenceKey
  return { ...updated, name: row.renamed ? row.name : card.displayName, ...theirFields(card) }
}
