// Typed errors of the messenger core: what the API turns into a 4xx with the sentence as message.
import { CodedError } from '../platform/coded-error.ts'

export type MessengerErrorCode =
  | 'UNKNOWN_CONTACT'
  | 'INVALID_TEXT'
  | 'INVALID_SETTING'
  | 'STOPPED'
  // Issue 13 (src/messenger/chat/):
  | 'UNKNOWN_MESSAGE' // no message with that id in the conversation
  | 'NOT_YOURS' // edit or delete for everyone of a message the contact sent
  | 'EDIT_WINDOW' // an edit after EDIT_WINDOW_MS
  | 'MESSAGE_DELETED' // an edit of, or reply to, a message deleted for everyone
  | 'INVALID_QUERY' // an empty or over-long search
  | 'UNSUPPORTED' // a feature this node's store does not keep
  | 'SHORT_INVITE_KEY' // a short invite link that does not open (wrong key, cut short)
  | 'SHORT_INVITE_GONE' // a short invite link whose parked invite expired or was revoked
  | 'NO_RELAY' // no relay could park or give back a short invite
  | 'FILE_TOO_LARGE' // issue 12: over the configured file limit, refused before anything is sent
  | 'FILE_UNREADABLE' // the file to send could not be read, or the path to save to could not be written
  | 'UNKNOWN_FILE' // no file under that message id
  | 'AMBIGUOUS_FILE' // more than one file under that message id (another sender reused it): name its owner
  | 'FILE_NOT_READY' // the file is not complete (and verified) yet
  | 'BLOCKED' // a text or file to a contact I blocked
  // Issue 11: groups.
  | 'UNKNOWN_GROUP'
  | 'NOT_ADMIN'
  | 'NOT_MEMBER'
  | 'AMBIGUOUS_MEMBER' // a member named by a name more than one member has

export class MessengerError extends CodedError<MessengerErrorCode> {
  static readonly name = 'MessengerError'
}
