// The one place a contact row is built: from the other side's invite (when I accept) or card (when
// my invite is answered, and on every later card), and my side's mailbox.
import { randomBytes } from 'node:crypto'
import { accountIdFromIdentityKey, signalUuidFromIdentityKey } from '../identity/account-id.ts'
import type { ContactRow } from '../store/contacts.ts'

/** The other side as its invite or contact card describes it (both carry these fields). */
export interface TheirSide {
  readonly displayName: string
  readonly mailboxId: Uint8Array
  readonly mailboxKey: Uint8Array
  readonly relays: readonly string[]
  readonly peerId?: string
  readonly addresses: readonly string[]
  readonly presenceSecret: Uint8Array
  /** Only cards carry it; an invite is signed by the identity key instead. */
  readonly senderCertificate?: Uint8Array
}

/** My mailbox for this contact (a PendingInvite has exactly these fields). */
export interface MySide {
  readonly mailboxId: Uint8Array
  readonly mailboxKey: Uint8Array
  readonly mailboxPrivateKey: Uint8Array
  readonly mailboxPublicKey: Uint8Array
  readonly presenceSecret: Uint8Array
}

type TheirFields = Pick<ContactRow, 'theirDisplayName' | 'theirMailboxId' | 'theirMailboxKey' | 'theirRelays' | 'theirPeerId' |
'theirAddresses' | 'theirPresenceSecret' | 'theirCertificate'>

function theirFields (t: TheirSide): TheirFields {
  return {
    theirDisplayName: t.displayName,
    theirMailboxId: t.mailboxId,
    theirMailboxKey: t.mailboxKey,
    theirRelays: [...t.relays],
    ...(t.peerId === undefined ? {} : { theirPeerId: t.peerId }),
    theirAddresses: [...t.addresses],
    theirPresenceSecret: t.presenceSecret,
    ...(t.senderCertificate === undefined ? {} : { theirCertificate: t.senderCertificate })
  }
}

/** A new contact; `localName` is the name I chose for them, else theirs is used. */
export function newContactRow (o: { identityKey: Uint8Array, localName?: string | undefined, createdAt: number, theirs: TheirSide, mine: MySide }): ContactRow {
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
    myPresenceSecret: o.mine.presenceSecret
  }
}

/** The row after a new card from the contact: their side replaced, my name for them kept if I chose one. */
export function withCard (row: ContactRow, card: TheirSide): ContactRow {
  // The new card says everything about their side: drop what it leaves out.
  const updated: { -readonly [K in keyof ContactRow]: ContactRow[K] } = { ...row }
  delete updated.theirPeerId
  delete updated.theirCertificate
  return { ...updated, name: row.renamed ? row.name : card.displayName, ...theirFields(card) }
}
