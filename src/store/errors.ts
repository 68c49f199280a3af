// Typed errors of the storage layer. Messages are sentences a person can act on; they never hold keys.

export type StoreErrorCode =
  | 'WRONG_KEY' // the key file or passphrase does not open this database
  | 'PASSPHRASE_REQUIRED' // the data directory is passphrase-protected and none was given
  | 'KEY_FILE_INVALID' // the key file exists but is not a key
  | 'MIGRATION_FAILED' // a schema migration failed; the transaction was rolled back
  | 'SCHEMA_TOO_NEW' // the database was written by a newer version of 0message1
  | 'CLOSED' // the store was used after close()

export class StoreError extends Error {
  static readonly name = 'StoreError'
  readonly code: StoreErrorCode

  constructor (code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StoreError'
    this.code = code
  }

  static is (err: unknown, code?: StoreErrorCode): err is StoreError {
    return err instanceof StoreError && (code === undefined || err.code === code)
  }
}
