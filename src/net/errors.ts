// Typed errors of the network layer (device node, relay service). The wire layer's WireErrors become
// NetErrors where bytes leave a stream (netFromWire, atStream).
// Messages are sentences a person can act on; they never hold peer ids of others, keys or mailbox ids.
import { CodedError } from '../platform/coded-error.ts'
import { WireError } from '../wire/errors.ts'
import type { RefusalReason } from '../wire/mailbox.ts'
import type { BlobRefusal } from '../wire/blob.ts'

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
  | 'NOT_FOUND' // no presence record under that key; no blob under that id and capability (issue 12)

export class NetError extends CodedError<NetErrorCode> {
  static readonly name = 'NetError'
  /** For REFUSED (and AUTH_FAILED from a relay): the relay's reason. */
  readonly reason?: RefusalReason | BlobRefusal

  constructor (code: NetErrorCode, message: string, options?: { cause?: unknown, reason?: RefusalReason | BlobRefusal }) {
    super(code, message, options)
    if (options?.reason !== undefined) this.reason = options.reason
  }
}

/** Bytes from a stream that the wire layer refused, as the network layer's error (the translation at the stream). */
export function netFromWire (err: unknown): unknown {
  if (!WireError.is(err)) return err
  const code: NetErrorCode = err.code === 'VERSION' ? 'UNSUPPORTED_VERSION' : err.code === 'TOO_LARGE' ? 'TOO_LARGE' : 'BAD_FRAME'
  return new NetError(code, err.message, { cause: err })
}

/** Runs a wire encoder or decoder at a stream, translating its WireError. */
export function atStream<T> (fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    throw netFromWire(err)
  }
}
