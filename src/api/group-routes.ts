// Issue 11: the group endpoints of the local API and their OpenAPI description (kept beside each other so
// the two cannot drift). Registered by createRoutes (routes.ts) and merged into openapi.ts.
import { z } from 'zod'
import type { Groups } from '../messenger/groups/types.ts'
import { MAX_GROUP_PAGE } from '../messenger/page-limits.ts'
import type { Messenger } from '../messenger/types.ts'
import { ApiError } from './errors.ts'
import { ContactIdSchema, NameSchema, SendMessageBody } from './schemas.ts'
import type { Reply } from './status.ts'

/** Local group ids are 32 hex characters; names are looked up by the CLI, not here. */
export const GroupIdSchema = z.string().regex(/^[0-9a-f]{32}$/, 'is not a group id')
/** A group is made with its members' card requests, one per member: bounded like a page. */
export const MAX_CREATE_MEMBERS = 64
export const CreateGroupBody = z.strictObject({ name: NameSchema, members: z.array(ContactIdSchema).max(MAX_CREATE_MEMBERS).default([]) })
export const RenameGroupBody = z.strictObject({ name: NameSchema })
export const GroupMemberBody = z.strictObject({ contactId: ContactIdSchema })
export const GroupMessagesQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(MAX_GROUP_PAGE).optional() })
/** A member by account id (from the member list) or by my contact id for it. */
export const MemberIdSchema = z.string().min(1).max(128)

type RouteFn = (method: string, path: string, handle: (ctx: { params: Record<string, string>, query: URLSearchParams, body: () => Promise<unknown> }) => Promise<Reply>) => void
type Parse = <T extends z.ZodType>(schema: T, value: unknown) => z.output<T>

export function addGroupRoutes (route: RouteFn, messenger: () => Messenger, parse: Parse): void {
  const groups = (): Groups => {
    const g = messenger().groups
    if (g === undefined) throw new ApiError('NOT_FOUND', 404, 'This node has no group support.')
    return g
  }
  const id = (params: Record<string, string>): string => parse(GroupIdSchema, params.id)
  route('GET', '/api/groups', async () => ({ status: 200, body: await groups().list() }))
  route('POST', '/api/groups', async (ctx) => {
    const body = parse(CreateGroupBody, await ctx.body())
    return { status: 201, body: await groups().create(body.name, body.members) }
  })
  route('GET', '/api/groups/:id', async (ctx) => ({ status: 200, body: await groups().get(id(ctx.params)) }))
  route('PATCH', '/api/groups/:id', async (ctx) => {
    const gid = id(ctx.params)
    const body = parse(RenameGroupBody, await ctx.body())
    return { status: 200, body: await groups().rename(gid, body.name) }
  })
  route('POST', '/api/groups/:id/members', async (ctx) => {
    const gid = id(ctx.params)
    const body = parse(GroupMemberBody, await ctx.body())
    return { status: 202, body: await groups().add(gid, body.contactId) }
  })
  route('DELETE', '/api/groups/:id/members/:member', async (ctx) => {
    const gid = id(ctx.params)
    return { status: 200, body: await groups().remove(gid, parse(MemberIdSchema, ctx.params.member)) }
  })
  route('POST', '/api/groups/:id/admins/:member', async (ctx) => {
    const gid = id(ctx.params)
    return { status: 200, body: await groups().promote(gid, parse(MemberIdSchema, ctx.params.member)) }
  })
  route('POST', '/api/groups/:id/leave', async (ctx) => ({ status: 200, body: await groups().leave(id(ctx.params)) }))
  route('GET', '/api/groups/:id/messages', async (ctx) => {
    const gid = id(ctx.params)
    const q = parse(GroupMessagesQuery, Object.fromEntries(ctx.query))
    return { status: 200, body: await groups().messages(gid, q.limit === undefined ? {} : { limit: q.limit }) }
  })
  route('POST', '/api/groups/:id/messages', async (ctx) => {
    const gid = id(ctx.params)
    const body = parse(SendMessageBody, await ctx.body())
    return { status: 201, body: await groups().send(gid, body.text) }
  })
  route('POST', '/api/groups/:id/read', async (ctx) => {
    await groups().markRead(id(ctx.params))
    return { status: 204 }
  })
}

// ---- OpenAPI ----

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
const gidParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9a-f]{32}$' }, description: 'Group id' }
const memberParam = { name: 'member', in: 'path', required: true, schema: { type: 'string' }, description: 'Member account id, or my contact id for it' }
const states = ['queued', 'sent', 'stored', 'delivered', 'read', 'failed']

export const groupSchemas: Record<string, Json> = {
  GroupMember: {
    type: 'object',
    required: ['accountId', 'name', 'admin', 'me', 'metThroughGroup', 'verified'],
    properties: {
      accountId: { type: 'string' }, name: { type: 'string' }, admin: { type: 'boolean' }, me: { type: 'boolean' },
      contactId: { type: 'string', description: 'My contact id for this member (a contact, or a member met through a group)' },
      metThroughGroup: { type: 'boolean', description: 'Known only through a group: a pairwise session opened from its group card, not an invite' },
      verified: { type: 'boolean', description: 'Safety number verified (contacts only)' }
    }
  },
  Group: {
    type: 'object',
    required: ['id', 'name', 'member', 'admin', 'version', 'members', 'unread'],
    properties: {
      id: { type: 'string' }, name: { type: 'string' }, member: { type: 'boolean', description: 'False once I left or was removed' }, admin: { type: 'boolean' },
      version: { type: 'integer', description: 'Membership log version' }, members: { type: 'array', items: ref('GroupMember') }, unread: { type: 'integer' },
      lastMessage: { type: 'object', properties: { text: { type: 'string' }, at: { type: 'integer' }, direction: { type: 'string', enum: ['in', 'out'] } } }
    }
  },
  GroupMessage: {
    type: 'object',
    required: ['groupId', 'id', 'direction', 'senderAccountId', 'senderName', 'seq', 'text', 'sentAt', 'at'],
    properties: {
      groupId: { type: 'string' }, id: { type: 'string' }, direction: { type: 'string', enum: ['in', 'out'] },
      senderContactId: { type: 'string' }, senderAccountId: { type: 'string' }, senderName: { type: 'string' },
      seq: { type: 'integer', description: 'The sender\'s per-group sequence number' }, text: { type: 'string' }, sentAt: { type: 'integer' }, at: { type: 'integer' },
      delivery: {
        type: 'object',
        description: 'Mine only: delivered to k of n, read by k of n, and each member\'s state and path',
        properties: {
          total: { type: 'integer' }, delivered: { type: 'integer' }, read: { type: 'integer' },
          members: { type: 'array', items: { type: 'object', properties: { contactId: { type: 'string' }, accountId: { type: 'string' }, state: { type: 'string', enum: states }, path: { type: 'string', enum: ['direct', 'relayed', 'mailbox'] } } } }
        }
      }
    }
  }
}

export function groupPaths (): Json {
  return {
    '/api/groups': {
      get: { summary: 'My groups (also those I left, readable)', responses: { 200: ok('Groups', { type: 'array', items: ref('Group') }), ...errors(401, 409, 423) } },
      post: { summary: 'Create a group; each member is asked for its group card and added when it answers', requestBody: body(CreateGroupBody), responses: { 201: ok('Group', ref('Group')), ...errors(400, 401, 404) } }
    },
    '/api/groups/{id}': {
      get: { summary: 'A group and its members', parameters: [gidParam], responses: { 200: ok('Group', ref('Group')), ...errors(401, 404) } },
      patch: { summary: 'Rename (admins)', parameters: [gidParam], requestBody: body(RenameGroupBody), responses: { 200: ok('Group', ref('Group')), ...errors(400, 401, 403, 404) } }
    },
    '/api/groups/{id}/members': { post: { summary: 'Add a contact (admins): its card is requested, the add change follows its answer', parameters: [gidParam], requestBody: body(GroupMemberBody), responses: { 202: ok('Group', ref('Group')), ...errors(400, 401, 403, 404) } } },
    '/api/groups/{id}/members/{member}': { delete: { summary: 'Remove a member (admins); every remaining member replaces its sender key', parameters: [gidParam, memberParam], responses: { 200: ok('Group', ref('Group')), ...errors(401, 403, 404, 409) } } },
    '/api/groups/{id}/admins/{member}': { post: { summary: 'Promote a member to admin (admins)', parameters: [gidParam, memberParam], responses: { 200: ok('Group', ref('Group')), ...errors(401, 403, 404, 409) } } },
    '/api/groups/{id}/leave': { post: { summary: 'Leave the group', parameters: [gidParam], responses: { 200: ok('Group', ref('Group')), ...errors(401, 403, 404) } } },
    '/api/groups/{id}/messages': {
      get: { summary: 'Messages of a group, oldest first', parameters: [gidParam, { name: 'limit', in: 'query', description: 'The newest `limit` messages; a page may hold up to twice `limit`: each sender\'s messages after its first one in them come with it, so none is missing between the messages shown (docs/protocol.md, group display order)', schema: { type: 'integer', minimum: 1, maximum: MAX_GROUP_PAGE } }], responses: { 200: ok('Messages', { type: 'array', items: ref('GroupMessage') }), ...errors(400, 401, 404) } },
      post: { summary: 'Send a text to the group (sealed once, delivered per member)', parameters: [gidParam], requestBody: body(SendMessageBody), responses: { 201: ok('Queued message', ref('GroupMessage')), ...errors(400, 401, 403, 404) } }
    },
    '/api/groups/{id}/read': { post: { summary: 'Mark the group read (read receipts to each sender)', parameters: [gidParam], responses: { 204: { description: 'Done' }, ...errors(401, 404) } } }
  }
}
