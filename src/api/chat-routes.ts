// Issue 13 routes: edit and delete a message, search, block, delete a contact, pending invites (list,
// revoke). Kept apart from routes.ts (which only appends these), with their bodies and their OpenAPI paths.
import { z } from 'zod'
import { MAX_SEARCH_QUERY_CHARS } from '../messenger/chat/rules.ts'
import type { Messenger } from '../messenger/types.ts'
import { MAX_TEXT_BYTES } from '../wire/payload.ts'
import { ApiError } from './errors.ts'
import { ContactIdSchema, describeIssues } from './schemas.ts'
import type { Reply } from './status.ts'

export const MessageIdSchema = z.string().regex(/^[0-9a-f]{32}$/, 'is not a message id')
export const InviteIdSchema = z.string().regex(/^[0-9a-f]{64}$/, 'is not an invite id')
export const EditMessageBody = z.strictObject({
  text: z.string().min(1, 'must not be empty').max(MAX_TEXT_BYTES)
    .refine((s) => Buffer.byteLength(s, 'utf8') <= MAX_TEXT_BYTES, `must be at most ${MAX_TEXT_BYTES} bytes of UTF-8`)
})
export const BlockBody = z.strictObject({ blocked: z.boolean() })
export const SearchQuery = z.strictObject({ q: z.string().trim().min(1, 'must not be empty').max(MAX_SEARCH_QUERY_CHARS) })
export const DeleteMessageQuery = z.strictObject({ for: z.enum(['me', 'everyone']).optional() })

interface Ctx { readonly params: Record<string, string>, readonly query: URLSearchParams, readonly body: () => Promise<unknown> }
export interface ChatRoute { readonly method: string, readonly pattern: RegExp, readonly name: string, readonly keys: readonly string[], readonly handle: (ctx: Ctx) => Promise<Reply> }

function parse<T extends z.ZodType> (schema: T, value: unknown): z.output<T> {
  const result = schema.safeParse(value)
  if (!result.success) throw new ApiError('BAD_REQUEST', 400, describeIssues(result.error))
  return result.data
}

export function chatRoutes (messenger: () => Messenger): ChatRoute[] {
  const routes: ChatRoute[] = []
  function route (method: string, path: string, handle: ChatRoute['handle']): void {
    const keys: string[] = []
    const pattern = new RegExp('^' + path.replace(/:([a-z]+)/g, (_, key: string) => { keys.push(key); return '([^/]+)' }) + '$')
    routes.push({ method, pattern, name: path, keys, handle })
  }
  const contact = (ctx: Ctx): string => parse(ContactIdSchema, ctx.params.id)
  const message = (ctx: Ctx): string => parse(MessageIdSchema, ctx.params.mid)

  route('PATCH', '/api/contacts/:id/messages/:mid', async (ctx) => {
    const [id, mid] = [contact(ctx), message(ctx)]
    const body = parse(EditMessageBody, await ctx.body())
    return { status: 200, body: await messenger().editMessage(id, mid, body.text) }
  })
  route('DELETE', '/api/contacts/:id/messages/:mid', async (ctx) => {
    const [id, mid] = [contact(ctx), message(ctx)]
    const q = parse(DeleteMessageQuery, Object.fromEntries(ctx.query))
    const view = await messenger().deleteMessage(id, mid, { forEveryone: q.for === 'everyone' })
    return view === undefined ? { status: 204 } : { status: 200, body: view }
  })
  route('GET', '/api/search', async (ctx) => {
    const q = parse(SearchQuery, Object.fromEntries(ctx.query))
    return { status: 200, body: await messenger().search(q.q) }
  })
  route('PUT', '/api/contacts/:id/blocked', async (ctx) => {
    const id = contact(ctx)
    const body = parse(BlockBody, await ctx.body())
    return { status: 200, body: await messenger().setBlocked(id, body.blocked) }
  })
  route('DELETE', '/api/contacts/:id', async (ctx) => {
    await messenger().deleteContact(contact(ctx))
    return { status: 204 }
  })
  route('GET', '/api/invites', async () => ({ status: 200, body: await messenger().pendingInvites() }))
  route('POST', '/api/invites/short', async () => ({ status: 201, body: await messenger().shortInvite() }))
  route('DELETE', '/api/invites/:invite', async (ctx) => {
    await messenger().revokeInvite(parse(InviteIdSchema, ctx.params.invite))
    return { status: 204 }
  })
  return routes
}

// ---- OpenAPI (merged into openapi.ts's document) ----

type Json = Record<string, unknown>
const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` })
const jsonContent = (schema: Json): Json => ({ 'application/json': { schema } })
const ok = (description: string, schema: Json): Json => ({ description, content: jsonContent(schema) })
const errors = (...codes: number[]): Json => Object.fromEntries(codes.map((c) => [String(c), { $ref: `#/components/responses/E${c}` }]))
function body (schema: z.ZodType): Json {
  const s = z.toJSONSchema(schema, { io: 'input' }) as Json
  delete s.$schema
  return { required: true, content: jsonContent(s) }
}
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,128}$' }, description: 'Local contact id' }
const midParam = { name: 'mid', in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9a-f]{32}$' }, description: 'Message id' }

export const chatSchemas: Record<string, Json> = {
  SearchHit: {
    type: 'object',
    required: ['contactId', 'messageId', 'direction', 'at', 'snippet'],
    properties: {
      contactId: { type: 'string' },
      messageId: { type: 'string' },
      direction: { type: 'string', enum: ['out', 'in'] },
      at: { type: 'integer' },
      snippet: { type: 'string', description: 'The matching part of the text; matched words between U+0002 and U+0003 (plain text, never HTML).' }
    }
  },
  PendingInvite: {
    type: 'object',
    required: ['id', 'createdAt', 'expiresAt'],
    properties: { id: { type: 'string' }, createdAt: { type: 'integer' }, expiresAt: { type: 'integer' }, link: { type: 'string' } }
  }
}

export const chatPaths: Record<string, Json> = {
  '/api/contacts/{id}/messages/{mid}': {
    patch: { summary: 'Edit one of my messages (within 15 minutes of sending; 409 EDIT_WINDOW after, 403 NOT_YOURS for the contact\'s)', parameters: [idParam, midParam], requestBody: body(EditMessageBody), responses: { 200: ok('Message', ref('Message')), ...errors(400, 401, 403, 404, 409) } },
    delete: {
      summary: 'Delete a message: for=me (default) removes it here (204); for=everyone, my own messages only, asks the contact\'s device to delete it too (200, shown deleted)',
      parameters: [idParam, midParam, { name: 'for', in: 'query', schema: { type: 'string', enum: ['me', 'everyone'] } }],
      responses: { 200: ok('Message', ref('Message')), 204: { description: 'Deleted here' }, ...errors(400, 401, 403, 404) }
    }
  },
  '/api/search': { get: { summary: 'Search every conversation (full-text, word prefixes, newest first)', parameters: [{ name: 'q', in: 'query', required: true, schema: { type: 'string', maxLength: MAX_SEARCH_QUERY_CHARS } }], responses: { 200: ok('Hits', { type: 'array', items: ref('SearchHit') }), ...errors(400, 401, 422) } } },
  '/api/contacts/{id}/blocked': { put: { summary: 'Block or unblock a contact: nothing from a blocked contact is stored, shown or receipted', parameters: [idParam], requestBody: body(BlockBody), responses: { 200: ok('Contact', ref('Contact')), ...errors(400, 401, 404) } } },
  '/api/invites/short': {
    post: {
      summary: 'A short link (at most 120 characters) for the pending invite: the full invite sealed with a random key and parked on one of my relays; the link names the relay, the parked id and the key. Accepting it (POST /api/contacts) expands and verifies it. 503 NO_RELAY when no relay takes it',
      responses: { 201: ok('Short invite', { type: 'object', required: ['short', 'link', 'expiresAt'], properties: { short: { type: 'string' }, link: { type: 'string' }, expiresAt: { type: 'integer' } } }), ...errors(401, 409, 423) }
    }
  },
  '/api/invites/{invite}': { delete: { summary: 'Revoke a pending invite: its one-time keys deleted, its mailbox no longer fetched; an answer to it is refused', parameters: [{ name: 'invite', in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9a-f]{64}$' } }], responses: { 204: { description: 'Revoked' }, ...errors(400, 401, 404) } } }
}

/** Operations added to paths openapi.ts already has. */
export const chatOperations: Record<string, Json> = {
  '/api/contacts/{id}': { delete: { summary: 'Delete a contact, its conversation and keys; its mailboxes are no longer fetched', parameters: [idParam], responses: { 204: { description: 'Deleted' }, ...errors(401, 404) } } },
  '/api/invites': { get: { summary: 'Pending invites (handed out, not answered, not expired)', responses: { 200: ok('Pending invites', { type: 'array', items: ref('PendingInvite') }), ...errors(401, 409, 423) } } }
}
