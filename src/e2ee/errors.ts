// Typed errors of the end-to-end layer (the Device). Messages are sentences a person or the messenger
// can act on; they never hold keys, names, account ids, mailbox ids or plaintext.
import { CodedError } from '../platform/coded-error.ts'

export type E2eeErrorCode =
  | 'ACCOUNT_EXISTS' // create() on a data directory that already holds an account
  | 'NO_ACCOUNT' // open() on a directory without an account
  | 'CLOSED' // the device was used after close()
  | 'UNKNOWN_CONTACT' // no contact with that id
  | 'MALFORMED' // the envelope or libsignal message does not parse (wrong size, version...)
  | 'UNKNOWN_MAILBOX' // the envelope is for a mailbox this device does not own
  | 'TAMPERED' // the envelope fails authentication under the mailbox key
  | 'DUPLICATE' // a message already received (replay or duplicate delivery): drop it
  | 'UNTRUSTED_IDENTITY' // the sender's identity key is not the one pinned for the contact (held: src/e2ee/key-change.ts)
  | 'BLOCKED_IDENTITY' // under an identity key the user blocked for this contact: dropped without a warning
  | 'NO_KEY_CHANGE' // accept/block/compare asked for a contact whose key change is not pending
  | 'KEY_CHANGE_MOVED' // accept/block named a safety number that is not the pending one's any more (a newer key replaced it)
  | 'BAD_SENDER' // the sealed-sender certificate does not check out
  | 'UNDECRYPTABLE' // libsignal could not decrypt in the session (other than a duplicate)
  | 'BAD_PAYLOAD' // decrypted, but the payload inside is not valid (see cause)
  | 'CARD_REQUIRED' // a message for a pending invite arrived before the contact card; retry later
  | 'INVITE_EXPIRED' // the first message for an invite arrived after the invite expired
  | 'UNKNOWN_INVITE' // revoke named no pending invite (answered, revoked or expired)
  | 'BAD_CHUNK' // a file chunk that does not verify under the file's key, or comes out of place (issue 12)
  | 'GROUP_KEY_MISSING' // issue 11: a group message whose sender key has not arrived yet; retry later
  | 'NOT_MEMBER' // issue 11: a group message or key from someone who is not a member of that group: dropped
  | 'BAD_PRESENCE' // a presence record that does not open, is not signed by the contact, is dated in the future or names another peer id

export class E2eeError extends CodedError<E2eeErrorCode> {
  static readonly name = 'E2eeError'
}

/**
 * Whether opening an envelope failed for good, so its copy on a relay may be deleted: true only for
 * an E2eeError that no retry can change (altered, foreign, duplicate, undecryptable bytes). False for
 * anything that may succeed later: a closed device, a text that overtook its contact card, and every
 * error of another kind (a database error also carries a `code`; keeping the copy loses nothing).
 */
export function isPermanent (err: unknown): boolean {
  return E2eeError.is(err) && PERMANENT[err.code]
}

// Every code decided here, so a new one must be decided too (the compiler checks the record).
const PERMANENT: Readonly<Record<E2eeErrorCode, boolean>> = {
  MALFORMED: true,
  UNKNOWN_MAILBOX: true,
  TAMPERED: true,
  DUPLICATE: true,
  UNTRUSTED_IDENTITY: true, // held in the store (src/e2ee/key-change.ts) or not worth keeping
  BLOCKED_IDENTITY: true,
  BAD_SENDER: true,
  UNDECRYPTABLE: true,
  BAD_PAYLOAD: true,
  INVITE_EXPIRED: true,
  BAD_CHUNK: true, // never an envelope's error; a chunk that fails is fetched again elsewhere by the caller
  BAD_PRESENCE: true, // never an envelope's error; a record that fails once fails every time
  NOT_MEMBER: true, // membership only changes by signed changes; this copy will not open later either
  GROUP_KEY_MISSING: false, // opens once the sender's key (sent with its first message to us) has arrived
  CARD_REQUIRED: false, // opens once the card that introduces the sender has arrived
  CLOSED: false, // the device was closed under the delivery; it opens after a restart
  UNKNOWN_CONTACT: false,
  UNKNOWN_INVITE: false,
  NO_KEY_CHANGE: false,
  KEY_CHANGE_MOVED: false,
  ACCOUNT_EXISTS: false,
  NO_ACCOUNT: false
}
