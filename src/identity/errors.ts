// Typed errors of the identity layer (account ids, invites). Messages are sentences a person can act on.
import { CodedError } from '../platform/coded-error.ts'

export type IdentityErrorCode =
  | 'ACCOUNT_ID_INVALID' // not an account id: wrong length or characters
  | 'ACCOUNT_ID_CHECKSUM' // looks like an account id but the checksum fails (a typo)
  | 'INVITE_MALFORMED' // not an invite, or bytes that do not parse
  | 'INVITE_TRUNCATED' // cut short (often a partial copy)
  | 'INVITE_VERSION' // made by a different version of the invite format
  | 'INVITE_TOO_LARGE' // over the size limit
  | 'INVITE_SIGNATURE' // the signature or a prekey signature does not verify: altered
  | 'INVITE_EXPIRED' // past its expiry
  | 'INVITE_OWN' // the invite is this account's own
  | 'INVITE_ALREADY_CONTACT' // the inviter is already a contact

export class IdentityError extends CodedError<IdentityErrorCode> {
  static readonly name = 'IdentityError'
}
