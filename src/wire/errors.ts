// Typed errors of the wire layer: every decoder of untrusted bytes throws only WireError.
// Messages say what is wrong with the bytes; they never quote the bytes themselves.
import { CodedError } from '../platform/coded-error.ts'

export type WireErrorCode =
  | 'TRUNCATED' // the bytes end before a field does
  | 'TRAILING' // bytes left over after the last field
  | 'VERSION' // unknown version byte (checked before anything else)
  | 'TOO_LARGE' // a length or count over its limit, or the whole message over its limit
  | 'INVALID' // a field out of range or not well-formed (bad UTF-8, bad key, bad padding...)
  | 'UNKNOWN_KIND' // a kind / type byte this version does not know
  | 'AUTH' // an authenticated box or signature does not verify (altered bytes or wrong key)

export class WireError extends CodedError<WireErrorCode> {
  static readonly name = 'WireError'
}
