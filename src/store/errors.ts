// Typed errors of the storage layer. Messages are sentences a person can act on; they never hold keys.
import { CodedError } from '../platform/coded-error.ts'

export type StoreErrorCode =
  | 'WRONG_KEY' // the key file or passphrase does not open this database
  | 'PASSPHRASE_REQUIRED' // the data directory is passphrase-protected and none was given
  | 'KEY_FILE_INVALID' // the key file exists but is not a key
  | 'KEY_FILE_EXPOSED' // the key file is readable by group or others
  | 'MIGRATION_FAILED' // a schema migration failed; the transaction was rolled back
  | 'SCHEMA_TOO_NEW' // the database was written by a newer version of 0message1
  | 'OPEN_FAILED' // the database could not be opened or read for another reason than its key (locked, I/O, permissions)
  | 'CLOSED' // the store was used after close()

export class StoreError extends CodedError<StoreErrorCode> {
  static readonly name = 'StoreError'
}
