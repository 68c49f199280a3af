// Typed errors of the identity layer (account ids, invites). Messages are sentences a person can act on.

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

export class IdentityError extends Error {
  static readonly name = 'IdentityError'
  readonly code: IdentityErrorCode

  constructor (code: IdentityErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'IdentityError'
    this.code = code
  }

  static is (err: unknown, code?: IdentityErrorCode): err is IdentityError {
    return err instanceof IdentityError && (code === undefined || err.code === code)
  }
}
