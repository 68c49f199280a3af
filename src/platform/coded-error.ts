// The base of each layer's error type (StoreError, E2eeError, WireError, NetError, ...): a code the
// program branches on and a sentence a person can act on, never a key, name or id.

export class CodedError<C extends string> extends Error {
  readonly code: C

  constructor (code: C, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = code
  }

  /** `E2eeError.is(err, 'TAMPERED')`: an error of that class, with that code when one is given. */
  static is<T extends CodedError<string>> (this: abstract new (...args: never[]) => T, err: unknown, code?: T['code']): err is T {
    return err instanceof this && (code === undefined || err.code === code)
  }
}
