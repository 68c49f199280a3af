// Request schemas of the local API (zod). The OpenAPI document (openapi.ts) describes the same shapes.
import { z } from 'zod'

/** Display names are shown in lists and sent to contacts: short, one line. */
export const MAX_NAME_CHARS = 64
/** Argon2id does not care, but a megabyte passphrase is a mistake, not a secret. */
export const MAX_PASSPHRASE_CHARS = 1024
/** Text of one message; the padded envelope buckets go up to 64 KiB and the ratchet adds overhead. */
export const MAX_TEXT_CHARS = 16_000
/** An invite carries a PQXDH prekey bundle (Kyber key ~1.6 KB): ~3.2 KB as a link, ~3.8 KB in its QR form; never 16. */
export const MAX_INVITE_CHARS = 16_384
/** A multiaddr with a circuit part and two peer ids is under 300 characters. */
export const MAX_MULTIADDR_CHARS = 1024
/** A device uses a handful of relays; more only costs traffic and leaks more metadata. */
export const MAX_RELAYS = 16
/** Page size of message lists. */
export const MAX_PAGE = 500
/** Longest invite lifetime the API accepts: 30 days. */
export const MAX_INVITE_LIFETIME_MS = 30 * 24 * 3600 * 1000

const oneLine = (s: string): boolean => ![...s].some((c) => { const n = c.charCodeAt(0); return n < 0x20 || n === 0x7f })

export const NameSchema = z.string().trim().min(1, 'must not be empty').max(MAX_NAME_CHARS)
  .refine(oneLine, 'must be one line without control characters')
export const PassphraseSchema = z.string().min(1, 'must not be empty').max(MAX_PASSPHRASE_CHARS)
export const MultiaddrSchema = z.string().trim().min(2).max(MAX_MULTIADDR_CHARS)
  .refine((s) => s.startsWith('/') && oneLine(s) && !/\s/.test(s), 'must be a multiaddr such as /ip4/1.2.3.4/tcp/4001/p2p/12D3...')

export const CreateAccountBody = z.strictObject({
  name: NameSchema,
  passphrase: PassphraseSchema.optional()
})

export const UnlockBody = z.strictObject({ passphrase: PassphraseSchema })

export const CreateInviteBody = z.strictObject({
  expiresInMs: z.number().int().min(60_000).max(MAX_INVITE_LIFETIME_MS).optional()
})

export const AddContactBody = z.strictObject({
  link: z.string().trim().min(1, 'must not be empty').max(MAX_INVITE_CHARS),
  name: NameSchema.optional()
})

export const RenameContactBody = z.strictObject({ name: NameSchema })

export const SendMessageBody = z.strictObject({
  text: z.string().min(1, 'must not be empty').max(MAX_TEXT_CHARS)
})

export const VerifyBody = z.strictObject({ verified: z.boolean() })

export const SettingsPatchBody = z.strictObject({
  relayOnly: z.boolean().optional(),
  lanDiscovery: z.boolean().optional(),
  relays: z.array(MultiaddrSchema).max(MAX_RELAYS).optional(),
  fetchIsolation: z.enum(['device', 'contact']).optional()
})

export const RelayBody = z.strictObject({ address: MultiaddrSchema })

export const MessagesQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).optional(),
  before: z.coerce.number().int().min(0).optional()
})

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
