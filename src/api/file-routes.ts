// Issue 12: the API's file routes. The daemon and its clients share a machine (the API listens on loopback, behind
// the token), so a file to send or a place to save is named by a path the daemon opens as the same user.
import type { IncomingMessage } from 'node:http'
import { z } from 'zod'
import type { Messenger } from '../messenger/types.ts'
import type { FilesPort } from '../messenger/files/types.ts'
import { PREVIEW_TYPES } from '../messenger/files/media-type.ts'
import { ApiError } from './errors.ts'
import type { Reply } from './status.ts'

/** A local path: absolute, no NUL, at most 4 KiB (PATH_MAX on Linux). */
const LocalPath = z.string().min(1).max(4096).refine((p) => p.startsWith('/') && !p.includes('\0'), 'must be an absolute path')
export const SendFileBody = z.strictObject({ path: LocalPath, text: z.string().max(32 * 1024).optional() })
export const SaveFileBody = z.strictObject({ out: LocalPath })
export const MessageIdSchema = z.string().regex(/^[0-9a-f]{32}$/, 'is not a message id')
/** A file's owner (its FileView contactId: a contact id, or `group:<group id>/<sender>`), which names the file when
 * senders reused one message id (src/messenger/files/group-files.ts). */
const OwnerSchema = z.string().min(1).max(256).optional()

type RouteFn = (method: string, path: string, handle: (ctx: { params: Record<string, string>, query: URLSearchParams, body: () => Promise<unknown>, raw?: ((max: number) => Promise<Buffer>) | undefined }) => Promise<Reply>) => void

/** A file name from the UI: a base name, no separators or NUL. */
const UploadName = z.string().min(1).max(255).refine((n) => !/[/\\\0]/.test(n) && n !== '.' && n !== '..', 'must be a plain file name')

/** An upload's bytes (application/octet-stream), refused over the file limit as they come. */
export async function readRawBody (req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const type = req.headers['content-type']
  if (type === undefined || !/^application\/octet-stream\s*(;|$)/i.test(type)) throw new ApiError('BAD_REQUEST', 415, 'A file upload must be sent as application/octet-stream.')
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > maxBytes) throw new ApiError('BODY_TOO_LARGE', 413, `The file is over the ${Math.floor(maxBytes / (1024 * 1024))} MB limit; nothing was sent.`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}
type Parse = <T extends z.ZodType>(schema: T, value: unknown) => z.output<T>

function filesOf (m: Messenger): FilesPort {
  if (m.files === undefined) throw new ApiError('NOT_FOUND', 404, 'This node does not handle files.')
  return m.files
}

export function addFileRoutes (route: RouteFn, messenger: () => Messenger, parse: Parse, contactId: (params: Record<string, string>) => string): void {
  route('GET', '/api/contacts/:id/files', async (ctx) => ({ status: 200, body: filesOf(messenger()).list(contactId(ctx.params)) }))
  route('POST', '/api/contacts/:id/files', async (ctx) => {
    const id = contactId(ctx.params)
    const body = parse(SendFileBody, await ctx.body())
    return { status: 201, body: await filesOf(messenger()).send(id, body.path, body.text ?? '') }
  })
  // The web UI's upload: the bytes themselves (a browser cannot name a path), the name and caption in the query.
  route('POST', '/api/contacts/:id/files/upload', async (ctx) => {
    const id = contactId(ctx.params)
    const files = filesOf(messenger())
    const name = parse(UploadName, ctx.query.get('name') ?? '')
    const text = parse(z.string().max(32 * 1024), ctx.query.get('text') ?? '')
    if (ctx.raw === undefined) throw new ApiError('BAD_REQUEST', 400, 'This request has no body.')
    const bytes = await ctx.raw(files.maxBytes)
    return { status: 201, body: await files.sendBytes(id, name, bytes, text) }
  })
  route('GET', '/api/files/:mid', async (ctx) => {
    const f = filesOf(messenger()).get(parse(MessageIdSchema, ctx.params.mid), parse(OwnerSchema, ctx.query.get('owner') ?? undefined))
    if (f === undefined) throw new ApiError('NOT_FOUND', 404, 'No file in that message.')
    return { status: 200, body: f }
  })
  route('POST', '/api/files/:mid/save', async (ctx) => {
    const mid = parse(MessageIdSchema, ctx.params.mid)
    const body = parse(SaveFileBody, await ctx.body())
    return { status: 200, body: await filesOf(messenger()).save(mid, body.out, parse(OwnerSchema, ctx.query.get('owner') ?? undefined)) }
  })
  // The decrypted bytes, for the UI's preview and save button. Never rendered by the browser as a page: a download
  // unless it is one of the image types the UI previews (no SVG), and the API's CSP forbids scripts anyway.
  route('GET', '/api/files/:mid/content', async (ctx) => {
    // Streamed chunk by chunk; a stored file found altered at the end cuts the response short of Content-Length.
    const { file, body } = await filesOf(messenger()).stream(parse(MessageIdSchema, ctx.params.mid), parse(OwnerSchema, ctx.query.get('owner') ?? undefined))
    const inline = PREVIEW_TYPES.has(file.type)
    return {
      status: 200,
      body,
      headers: {
        'Content-Length': String(file.size),
        'Content-Type': inline ? file.type : 'application/octet-stream',
        'Content-Disposition': `${inline ? 'inline' : 'attachment'}; filename*=UTF-8''${encodeURIComponent(file.name)}`,
        'X-Content-Type-Options': 'nosniff'
      }
    }
  })
}

/** Issue 12 in groups: a group's files, sending one by path or by upload (src/messenger/files/group-files.ts). Saving
 * and content are the routes above (by message id, whichever conversation it is in). */
export function addGroupFileRoutes (route: RouteFn, messenger: () => Messenger, parse: Parse, groupId: (params: Record<string, string>) => string): void {
  route('GET', '/api/groups/:id/files', async (ctx) => ({ status: 200, body: filesOf(messenger()).listGroup(groupId(ctx.params)) }))
  route('POST', '/api/groups/:id/files', async (ctx) => {
    const id = groupId(ctx.params)
    const body = parse(SendFileBody, await ctx.body())
    return { status: 201, body: await filesOf(messenger()).sendToGroup(id, body.path, body.text ?? '') }
  })
  route('POST', '/api/groups/:id/files/upload', async (ctx) => {
    const id = groupId(ctx.params)
    const files = filesOf(messenger())
    const name = parse(UploadName, ctx.query.get('name') ?? '')
    const text = parse(z.string().max(32 * 1024), ctx.query.get('text') ?? '')
    if (ctx.raw === undefined) throw new ApiError('BAD_REQUEST', 400, 'This request has no body.')
    const bytes = await ctx.raw(files.maxBytes)
    return { status: 201, body: await files.sendBytesToGroup(id, name, bytes, text) }
  })
}

type Json = Record<string, unknown>
const fileStates = ['queued', 'uploading', 'on-relay', 'downloading', 'delivered', 'failed']

export const FILE_SCHEMAS: Record<string, Json> = {
  File: {
    type: 'object',
    description: 'A file in a conversation and its transfer (issue 12).',
    required: ['messageId', 'contactId', 'direction', 'name', 'type', 'size', 'state', 'chunks', 'doneChunks', 'bytes', 'percent', 'speed', 'relayCopies', 'at'],
    properties: {
      messageId: { type: 'string' },
      contactId: { type: 'string', description: 'The file\'s owner: the contact, or group:<group id>/<sender account id> for a group\'s file (no account id after the slash for mine). Pass it as ?owner= when two files share a message id.' },
      groupId: { type: 'string', description: 'Set for a group\'s file.' },
      senderAccountId: { type: 'string', description: 'Set for a group file from another member: who announced it.' },
      direction: { type: 'string', enum: ['out', 'in'] },
      name: { type: 'string', description: 'The sender\'s file name; plain text.' },
      type: { type: 'string', description: 'Media type guessed from the name by the sender.' },
      size: { type: 'integer' },
      state: { type: 'string', enum: fileStates },
      path: { type: 'string', enum: ['direct', 'relay'], description: 'Straight to the contact, or parked on its relays.' },
      chunks: { type: 'integer' },
      doneChunks: { type: 'integer' },
      bytes: { type: 'integer' },
      percent: { type: 'integer', minimum: 0, maximum: 100 },
      speed: { type: 'integer', description: 'Bytes per second over the current run.' },
      failure: { type: 'string' },
      relayCopies: { type: 'integer' },
      at: { type: 'integer' }
    }
  }
}

export function fileOpenApiPaths (o: { idParam: Json, body: (s: z.ZodType) => Json, ok: (d: string, s: Json) => Json, ref: (n: string) => Json, errors: (...c: number[]) => Json }): Record<string, Json> {
  const mid = { name: 'mid', in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9a-f]{32}$' }, description: 'Message id of the file' }
  const owner = { name: 'owner', in: 'query', schema: { type: 'string' }, description: 'The file\'s owner (File.contactId): needed when senders reused the message id (else 409 AMBIGUOUS_FILE)' }
  return {
    '/api/contacts/{id}/files': {
      get: { summary: 'Files of a conversation with their transfer state', parameters: [o.idParam], responses: { 200: o.ok('Files', { type: 'array', items: o.ref('File') }), ...o.errors(401, 404) } },
      post: { summary: 'Send a file (a path the node can read) with an optional caption; 413 FILE_TOO_LARGE over the limit, before anything is sent', parameters: [o.idParam], requestBody: o.body(SendFileBody), responses: { 201: o.ok('Queued', { type: 'object', properties: { message: o.ref('Message'), file: o.ref('File') } }), ...o.errors(400, 401, 404, 422) } }
    },
    '/api/contacts/{id}/files/upload': { post: { summary: 'Send a file given as the body (application/octet-stream), name and caption in the query (the web UI)', parameters: [o.idParam, { name: 'name', in: 'query', required: true, schema: { type: 'string' } }, { name: 'text', in: 'query', schema: { type: 'string' } }], requestBody: { required: true, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } }, responses: { 201: o.ok('Queued', { type: 'object', properties: { message: o.ref('Message'), file: o.ref('File') } }), ...o.errors(400, 401, 404, 422) } } },
    '/api/groups/{id}/files': {
      get: { summary: 'Files of a group conversation with their transfer state', parameters: [o.idParam], responses: { 200: o.ok('Files', { type: 'array', items: o.ref('File') }), ...o.errors(401, 404) } },
      post: { summary: 'Send a file to a group (sealed once, announced in a group message; direct to connected members, one copy on relays for the rest)', parameters: [o.idParam], requestBody: o.body(SendFileBody), responses: { 201: o.ok('Queued', { type: 'object', properties: { message: o.ref('GroupMessage'), file: o.ref('File') } }), ...o.errors(400, 401, 403, 404, 422) } }
    },
    '/api/groups/{id}/files/upload': { post: { summary: 'Send a file to a group given as the body (application/octet-stream), name and caption in the query (the web UI)', parameters: [o.idParam, { name: 'name', in: 'query', required: true, schema: { type: 'string' } }, { name: 'text', in: 'query', schema: { type: 'string' } }], requestBody: { required: true, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } }, responses: { 201: o.ok('Queued', { type: 'object', properties: { message: o.ref('GroupMessage'), file: o.ref('File') } }), ...o.errors(400, 401, 403, 404, 422) } } },
    '/api/files/{mid}': { get: { summary: 'One file and its transfer state', parameters: [mid, owner], responses: { 200: o.ok('File', o.ref('File')), ...o.errors(401, 404, 409) } } },
    '/api/files/{mid}/save': { post: { summary: 'Decrypt a complete file to a path (hash checked again); 409 FILE_NOT_READY before it is complete', parameters: [mid, owner], requestBody: o.body(SaveFileBody), responses: { 200: o.ok('File', o.ref('File')), ...o.errors(400, 401, 404, 409, 422) } } },
    '/api/files/{mid}/content': { get: { summary: 'The decrypted bytes of a complete file (inline for previewable images, else an attachment)', parameters: [mid, owner], responses: { 200: { description: 'The file' }, ...o.errors(401, 404, 409) } } }
  }
}
