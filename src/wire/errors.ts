// Typed errors of the wire layer: every decoder of untrusted bytes throws only WireError.
// Messages say what is wrong with the bytes; they never quote the bytes themselves.

export type WireErrorCode =
  | 'TRUNCATED' // the bytes end before a field does
  | 'TRAILING' // bytes left over after the last field
  | 'VERSION' // unknown version byte (checked before anything else)
  | 'TOO_LARGE' // a length or count over its limit, or the whole message over its limit
  | 'INVALID' // a field out of range or not well-formed (bad UTF-8, bad key, bad padding...)
  | 'UNKNOWN_KIND' // a kind / type byte this version does not know
  | 'AUTH' // an authenticated box or signature does not verify (altered bytes or wrong key)

export class WireError extends Error {
  static readonly name = 'WireError'
  readonly code: WireErrorCode

  constructor (code: WireErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'WireError'
    this.code = code
  }

  static is (err: unknown, code?: WireErrorCode): err is WireError {
    return err instanceof WireError && (code === undefined || err.code === code)
  }
}
