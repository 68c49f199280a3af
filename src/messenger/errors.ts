// Typed errors of the messenger core: what the API turns into a 4xx with the sentence as message.

export type MessengerErrorCode =
  | 'UNKNOWN_CONTACT'
  | 'INVALID_TEXT'
  | 'INVALID_SETTING'
  | 'STOPPED'

export class MessengerError extends Error {
  static readonly name = 'MessengerError'
  readonly code: MessengerErrorCode

  constructor (code: MessengerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'MessengerError'
    this.code = code
  }

  static is (err: unknown, code?: MessengerErrorCode): err is MessengerError {
    return err instanceof MessengerError && (code === undefined || err.code === code)
  }
}
