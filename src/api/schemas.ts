// Request schemas of the local API (zod). The OpenAPI document (openapi.ts) describes the same shapes.
// Every limit that a lower layer also enforces is imported from the file that defines it, so the API
// never accepts what the messenger, the card or the invite would then refuse.
import { z } from 'zod'
import { MAX_INVITE_LIFETIME_MS, MIN_INVITE_LIFETIME_MS } from '../e2ee/invites.ts'
import { SAFETY_NUMBER_DIGITS } from '../identity/safety-number.ts'
import { utf8Length } from '../wire/bytes.ts'
import { MAX_ADDRESS_BYTES, MAX_NAME_BYTES, MAX_RELAYS, MAX_TEXT_BYTES } from '../wire/payload.ts'
import { MAX_QR_INVITE_CHARS } from './invite-text.ts'
import { MAX_API_PAGE } from './page-cursor.ts'

/** A message id as the wire carries it (PAYLOAD_ID_BYTES), in hex. */
const MessageIdSchema = z.string().regex(/^[0-9a-f]{32}$/, 'is not a message id')

/** Argon2id does not care, but a megabyte passphrase is a mistake, not a secret. */
export const MAX_PASSPHRASE_CHARS = 1024
/** Page size of message lists (defined with the paging cursor). */
export { MAX_API_PAGE }

/** A zod check of UTF-8 length (the wire's limits are in bytes, zod's .max in UTF-16 units). */
const maxBytes = (max: number) => (s: string): boolean => utf8Length(s) <= max

const oneLine = (s: string): boolean => !Array.from(s).some((c) => { const n = c.charCodeAt(0); return n < 0x20 || n === 0x7f })

export const NameSchema = z.string().trim().min(1, 'must not be empty')
  .refine(maxBytes(MAX_NAME_BYTES), `must be at most ${MAX_NAME_BYTES} bytes of UTF-8`)
  .refine(oneLine, 'must be one line without control characters')
export const PassphraseSchema = z.string().min(1, 'must not be empty').max(MAX_PASSPHRASE_CHARS)
export const MultiaddrSchema = z.string().trim().min(2).max(MAX_ADDRESS_BYTES)
  .refine(maxBytes(MAX_ADDRESS_BYTES), `must be at most ${MAX_ADDRESS_BYTES} bytes`)
  .refine((s) => s.startsWith('/') && oneLine(s) && !/\s/.test(s), 'must be a multiaddr such as /ip4/1.2.3.4/tcp/4001/p2p/12D3...')

export const CreateAccountBody = z.strictObject({
  name: NameSchema,
  passphrase: PassphraseSchema.optional()
})

export const UnlockBody = z.strictObject({ passphrase: PassphraseSchema })

export const CreateInviteBody = z.strictObject({
  expiresInMs: z.number().int().min(MIN_INVITE_LIFETIME_MS).max(MAX_INVITE_LIFETIME_MS).optional(),
  /** Issue 13: a new invite even when a pending one would be handed out again. */
  fresh: z.boolean().optional()
})

export const AddContactBody = z.strictObject({
  link: z.string().trim().min(1, 'must not be empty').max(MAX_QR_INVITE_CHARS),
  name: NameSchema.optional()
})

export const RenameContactBody = z.strictObject({ name: NameSchema })

export const SendMessageBody = z.strictObject({
  text: z.string().min(1, 'must not be empty').max(MAX_TEXT_BYTES)
    .refine(maxBytes(MAX_TEXT_BYTES), `must be at most ${MAX_TEXT_BYTES} bytes of UTF-8; split it`),
  /** Issue 13: the id of a message of this conversation to quote. */
  replyTo: MessageIdSchema.optional()
})

export const VerifyBody = z.strictObject({ verified: z.boolean() })

/** Room for the digits written in groups (one separator between each digit at most). */
const MAX_SAFETY_NUMBER_CHARS = SAFETY_NUMBER_DIGITS * 2
const SAFETY_NUMBER_RE = new RegExp(`^[0-9]{${SAFETY_NUMBER_DIGITS}}$`)
/** Accept or block a key change: `digits` is the pending safety number the user compared (from GET
 * key-change; spaces allowed), so a newer key that replaced it is refused (409 KEY_CHANGE_MOVED), never decided. */
export const KeyChangeDecisionBody = z.strictObject({
  digits: z.string().max(MAX_SAFETY_NUMBER_CHARS)
    .refine((s) => SAFETY_NUMBER_RE.test(s.replace(/\s+/g, '')), `must be the ${SAFETY_NUMBER_DIGITS} digits of the pending safety number`)
    .describe(`The ${SAFETY_NUMBER_DIGITS} digits of the pending safety number the user compared (spaces ignored)`)
})

export const SettingsPatchBody = z.strictObject({
  relayOnly: z.boolean().optional(),
  lanDiscovery: z.boolean().optional(),
  relays: z.array(MultiaddrSchema).max(MAX_RELAYS).optional(),
  fetchIsolation: z.enum(['device', 'contact']).optional()
})

export const RelayBody = z.strictObject({ address: MultiaddrSchema })

export const MessagesQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(MAX_API_PAGE).optional(),
  before: z.coerce.number().int().min(0).optional(),
  // The paging cursor (PageOptions.after): a message id is its sender's, so it names its direction too.
  beforeId: MessageIdSchema.optional(),
  beforeDirection: z.enum(['in', 'out']).optional()
}).refine((q) => (q.beforeId === undefined) === (q.beforeDirection === undefined), { message: 'beforeId and beforeDirection go together' })

/** Contact ids are opaque, but they go into URLs: bound them and their alphabet. */
export const ContactIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'is not a contact id')

/** One sentence from zod issues: "name: must not be empty". */
export function describeIssues (error: z.ZodError): string {
  const first = error.issues[0]
  if (first === undefined) return 'The request is not valid.'
  const where = first.path.length > 0 ? first.path.join('.') : 'body'
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more problem${error.issues.length > 2 ? 's' : ''})` : ''
  return `Invalid request: ${where}: ${first.message}${more}.`
}
