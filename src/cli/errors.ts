// Errors of the command line: USAGE (exit 2) for a wrong command line, FAILED (exit 1) for the rest.
// The message is the one sentence printed to stderr.

export type CliErrorCode = 'USAGE' | 'FAILED' | 'NOT_FOUND' | 'AMBIGUOUS'

export class CliError extends Error {
  static readonly name = 'CliError'
  readonly code: CliErrorCode

  constructor (code: CliErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'CliError'
    this.code = code
  }

  static is (err: unknown, code?: CliErrorCode): err is CliError {
    return err instanceof CliError && (code === undefined || err.code === code)
  }
}
