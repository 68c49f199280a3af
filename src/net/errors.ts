// Typed errors of the network layer (device node, relay service, their wire frames).
// Messages are sentences a person can act on; they never hold peer ids of others, keys or mailbox ids.
import { CodedError } from '../platform/coded-error.ts'

export type NetErrorCode =
  | 'UNSUPPORTED_VERSION' // a frame's version byte is not one this build speaks
  | 'BAD_FRAME' // a frame is truncated, has trailing bytes, an unknown type or an out-of-range field
  | 'TOO_LARGE' // a frame or envelope is over its named limit
  | 'UNREACHABLE' // no path (open connection, direct dial, relayed circuit) reached the peer before its deadline
  | 'REJECTED' // the receiving device's handler refused the envelope
  | 'REFUSED' // a relay refused a request; `reason` says which limit or rule
  | 'AUTH_FAILED' // the mailbox signature did not verify or the key does not hash to the mailbox id
  | 'TIMEOUT' // the peer did not answer in time
  | 'ABORTED' // the caller's signal aborted the operation
  | 'CLOSED' // used after stop()/close(), or the stream closed mid-exchange
  | 'NOT_FOUND' // no presence record under that key

/** Why a relay refused a mailbox request (carried on the wire as one byte, see src/wire/mailbox.ts). */
export type RefusalReason =
  | 'TOO_LARGE'
  | 'QUOTA_COUNT'
  | 'QUOTA_BYTES'
  | 'RATE_LIMITED'
  | 'AUTH_FAILED'
  | 'NOT_AUTHENTICATED'
  | 'BAD_FRAME'
  | 'UNSUPPORTED_VERSION'
  | 'INTERNAL'

export class NetError extends CodedError<NetErrorCode> {
  static readonly name = 'NetError'
  /** For REFUSED (and AUTH_FAILED from a relay): the relay's reason. */
  readonly reason?: RefusalReason

  constructor (code: NetErrorCode, message: string, options?: { cause?: unknown, reason?: RefusalReason }) {
    super(code, message, options)
    if (options?.reason !== undefined) this.reason = options.reason
  }
}
