// Typed errors of the messenger core: what the API turns into a 4xx with the sentence as message.
import { CodedError } from '../platform/coded-error.ts'

export type MessengerErrorCode =
  | 'UNKNOWN_CONTACT'
  | 'INVALID_TEXT'
  | 'INVALID_SETTING'
  | 'STOPPED'
  // Issue 11: groups.
  | 'UNKNOWN_GROUP'
  | 'NOT_ADMIN'
  | 'NOT_MEMBER'

export class MessengerError extends CodedError<MessengerErrorCode> {
  static readonly name = 'MessengerError'
}
