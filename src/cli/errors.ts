// Errors of the command line: USAGE (exit 2) for a wrong command line, FAILED (exit 1) for the rest.
// The message is the one sentence printed to stderr.
import { CodedError } from '../platform/coded-error.ts'

export type CliErrorCode = 'USAGE' | 'FAILED' | 'NOT_FOUND' | 'AMBIGUOUS'

export class CliError extends CodedError<CliErrorCode> {
  static readonly name = 'CliError'
}
