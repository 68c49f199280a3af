// Typed errors of the local API layer. A message is one sentence a person can act on; it never
// holds the token, keys, message text or contact names.
import { CodedError } from '../platform/coded-error.ts'

export type ApiErrorCode =
  | 'UNAUTHORIZED' // no token, or a wrong one
  | 'FORBIDDEN_ORIGIN' // the request came from a page of another origin
  | 'BAD_HOST' // the Host header names something other than this node (DNS rebinding)
  | 'BAD_REQUEST' // the body or a parameter does not match the schema
  | 'BODY_TOO_LARGE'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'NO_ACCOUNT' // the data directory has no account yet
  | 'LOCKED' // the account is protected by a passphrase and not unlocked
  | 'CONFLICT' // e.g. an account already exists
  | 'FAILED' // the messenger refused the operation; the message says why
  | 'INTERNAL'
  | 'UNAVAILABLE' // the node runs but a part of the API could not load (see the node's log)
  | 'NOT_RUNNING' // client side: no node answers for this data directory
  | 'TOKEN_FILE_INVALID'
  | 'NOT_LOOPBACK' // asked to listen on a network address without the explicit opt-in
  | 'SOCKET_UNSAFE' // client side: the API socket is not a private socket of this user

export class ApiError extends CodedError<ApiErrorCode> {
  static readonly name = 'ApiError'
  /** HTTP status sent for this error (client side: the status received). */
  readonly status: number

  constructor (code: ApiErrorCode, status: number, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.status = status
  }
}
