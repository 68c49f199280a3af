// One table from (error class, code) to HTTP status: the compiler checks every code named here,
// and an error that is not in it (a database error carrying a `code`, say) is a 500, never a 4xx.
import type { Logger } from '../platform/logger.ts'
import type { CodedError } from '../platform/coded-error.ts'
import { E2eeError, type E2eeErrorCode } from '../e2ee/errors.ts'
import { IdentityError, type IdentityErrorCode } from '../identity/errors.ts'
import { MessengerError, type MessengerErrorCode } from '../messenger/errors.ts'
import { NetError, type NetErrorCode } from '../net/errors.ts'
import { StoreError, type StoreErrorCode } from '../store/errors.ts'
import { ApiError } from './errors.ts'

/** A reply without HTTP: what a route handler returns and the server writes. */
export interface Reply {
  readonly status: number
  readonly body?: unknown
  readonly headers?: Readonly<Record<string, string>>
}

/** The request was understood and refused; the sentence says why. */
const REFUSED = 422

interface Rule {
  readonly type: abstract new (...args: never[]) => CodedError<string>
  readonly codes: Readonly<Record<string, number>>
}
function rule<C extends string> (type: abstract new (...args: never[]) => CodedError<C>, codes: Readonly<Record<C, number>>): Rule {
  return { type, codes }
}

// Every code of every class a request can meet, so a new code must be given a status here.
const RULES: readonly Rule[] = [
  rule<MessengerErrorCode>(MessengerError, {
    UNKNOWN_CONTACT: 404,
    INVALID_TEXT: REFUSED,
    INVALID_SETTING: REFUSED,
    STOPPED: REFUSED,
    UNKNOWN_MESSAGE: 404,
    NOT_YOURS: 403,
    EDIT_WINDOW: 409,
    MESSAGE_DELETED: 409,
    INVALID_QUERY: REFUSED,
    UNSUPPORTED: 501,
    SHORT_INVITE_KEY: REFUSED,
    SHORT_INVITE_GONE: 410,
    NO_RELAY: 503,
    FILE_TOO_LARGE: 413,
    FILE_UNREADABLE: REFUSED,
    UNKNOWN_FILE: 404,
    AMBIGUOUS_FILE: 409,
    FILE_NOT_READY: 409,
    BLOCKED: 409,
    UNKNOWN_GROUP: 404,
    NOT_ADMIN: 403,
    NOT_MEMBER: 403,
    AMBIGUOUS_MEMBER: 409
  }),
  rule<E2eeErrorCode>(E2eeError, {
    ACCOUNT_EXISTS: 409,
    NO_ACCOUNT: 409,
    UNKNOWN_CONTACT: 404,
    UNKNOWN_INVITE: 404,
    CLOSED: REFUSED,
    GROUP_KEY_MISSING: REFUSED,
    NOT_MEMBER: REFUSED,
    MALFORMED: REFUSED,
    UNKNOWN_MAILBOX: REFUSED,
    TAMPERED: REFUSED,
    BAD_CHUNK: REFUSED,
    DUPLICATE: REFUSED,
    UNTRUSTED_IDENTITY: REFUSED,
    BLOCKED_IDENTITY: REFUSED,
    NO_KEY_CHANGE: 404,
    KEY_CHANGE_MOVED: 409,
    BAD_SENDER: REFUSED,
    UNDECRYPTABLE: REFUSED,
    BAD_PAYLOAD: REFUSED,
    BAD_PRESENCE: REFUSED,
    CARD_REQUIRED: REFUSED,
    INVITE_EXPIRED: REFUSED
  }),
  rule<IdentityErrorCode>(IdentityError, {
    INVITE_ALREADY_CONTACT: 409,
    ACCOUNT_ID_INVALID: REFUSED,
    ACCOUNT_ID_CHECKSUM: REFUSED,
    INVITE_MALFORMED: REFUSED,
    INVITE_TRUNCATED: REFUSED,
    INVITE_VERSION: REFUSED,
    INVITE_TOO_LARGE: REFUSED,
    INVITE_SIGNATURE: REFUSED,
    INVITE_EXPIRED: REFUSED,
    INVITE_OWN: REFUSED
  }),
  rule<StoreErrorCode>(StoreError, {
    WRONG_KEY: 403,
    PASSPHRASE_REQUIRED: 403,
    KEY_FILE_INVALID: REFUSED,
    KEY_FILE_EXPOSED: REFUSED,
    MIGRATION_FAILED: REFUSED,
    SCHEMA_TOO_NEW: REFUSED,
    OPEN_FAILED: 503,
    CLOSED: REFUSED
  }),
  rule<NetErrorCode>(NetError, {
    NOT_FOUND: 404,
    UNSUPPORTED_VERSION: REFUSED,
    BAD_FRAME: REFUSED,
    TOO_LARGE: REFUSED,
    UNREACHABLE: REFUSED,
    REJECTED: REFUSED,
    REFUSED,
    AUTH_FAILED: REFUSED,
    TIMEOUT: REFUSED,
    ABORTED: REFUSED,
    CLOSED: REFUSED
  })
]

/** The HTTP status for a typed error of a lower layer, or undefined when it is not one. */
export function statusOf (err: unknown): number | undefined {
  for (const r of RULES) {
    if (err instanceof r.type) return r.codes[err.code]
  }
  return undefined
}

/** Maps an error from a route to a reply. */
export function errorReply (err: unknown, logger: Logger): Reply {
  if (ApiError.is(err)) return { status: err.status, body: { error: { code: err.code, message: err.message } } }
  if (err instanceof TypeError || err instanceof RangeError) {
    // Caller mistakes from lower layers name the argument, never a secret.
    return { status: 400, body: { error: { code: 'BAD_REQUEST', message: err.message } } }
  }
  const status = statusOf(err)
  if (status !== undefined && err instanceof Error) {
    return { status, body: { error: { code: (err as CodedError<string>).code, message: err.message } } }
  }
  logger.error('request-failed', { error: err instanceof Error ? err.name : typeof err })
  return { status: 500, body: { error: { code: 'INTERNAL', message: 'Something went wrong inside the node; see its log.' } } }
}
