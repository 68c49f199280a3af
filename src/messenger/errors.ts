// Typed errors of the messenger core: what the API turns into a 4xx with the sentence as message.
import { CodedError } from '../platform/coded-error.ts'

export type MessengerErrorCode =
  | 'UNKNOWN_CONTACT'
  | 'INVALID_TEXT'
  | 'INVALID_SETTING'
  | 'STOPPED'
  | 'FILE_TOO_LARGE' // issue 12: over the configured file limit, refused before anything is sent
  | 'FILE_UNREADABLE' // the file to send could not be read, or the path to save to could not be written
  | 'UNKNOWN_FILE' // no file under that message id
  | 'FILE_NOT_READY' // the file is not complete (and verified) yet

export class MessengerError extends CodedError<MessengerErrorCode> {
  static readonly name = 'MessengerError'
}
