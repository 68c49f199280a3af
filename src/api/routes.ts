// The API's route handlers, free of HTTP: each takes parsed parameters and a body reader and
// returns a Reply, so they can be tested by calling dispatch() with no server.
import type { z } from 'zod'
import type { Logger } from '../platform/logger.ts'
import type { DeviceHost, Messenger, PageOptions, SettingsView } from '../messenger/types.ts'
import { ApiError } from './errors.ts'
import type { EventSink } from './events.ts'
import { inviteQrText, normalizeInviteText } from './invite-text.ts'
import { openApiDocument } from './openapi.ts'
import { chatRoutes } from './chat-routes.ts'
import {
  AddContactBody, ContactIdSchema, CreateAccountBody, CreateInviteBody, KeyChangeDecisionBody, MessagesQuery, RelayBody,
  RenameContactBody, SendMessageBody, SettingsPatchBody, UnlockBody, VerifyBody, describeIssues
} from './schemas.ts'
import { errorReply, type Reply } from './status.ts'
import { addFileRoutes, addGroupFileRoutes } from './file-routes.ts'
import { addGroupRoutes, GroupIdSchema } from './group-routes.ts'
import { relayChoiceRoutes } from './relay-routes.ts'
import { STATE_PATH, stateReply } from './state-route.ts'

export interface ApiRequest {
  readonly method: string
  readonly pathname: string
  readonly query: URLSearchParams
  /** Reads the body on demand: a route that takes none never waits for one. */
  readonly body: () => Promise<unknown>
  /** Issue 12: the body as bytes (a file upload), refused over `maxBytes`. */
  readonly raw?: ((maxBytes: number) => Promise<Buffer>) | undefined
}

interface RequestContext {
  readonly params: Record<string, string>
  readonly query: URLSearchParams
  readonly body: () => Promise<unknown>
  readonly raw?: ((maxBytes: number) => Promise<Buffer>) | undefined
}

export interface Route {
  readonly method: string
  readonly pattern: RegExp
  /** The path template, e.g. /api/contacts/:id: what the log names, never the ids in it. */
  readonly name: string
  readonly keys: readonly string[]
  readonly handle: (ctx: RequestContext) => Promise<Reply>
}

function parse<T extends z.ZodType> (schema: T, value: unknown): z.output<T> {
  const result = schema.safeParse(value)
  if (!result.success) throw new ApiError('BAD_REQUEST', 400, describeIssues(result.error))
  return result.data
}
const contactId = (ctx: RequestContext): string => parse(ContactIdSchema, ctx.params.id)
const settingsOf = async (m: Messenger): Promise<SettingsView> => (await m.status()).settings

export function createRoutes (host: DeviceHost, events: EventSink): Route[] {
  function messenger (): Messenger {
    const state = host.state()
    if (state === 'no-account') throw new ApiError('NO_ACCOUNT', 409, 'This node has no account yet; create one first.')
    if (state === 'locked') throw new ApiError('LOCKED', 423, 'The account is locked; unlock it with its passphrase.')
    const m = host.messenger()
    if (m === undefined) throw new ApiError('LOCKED', 423, 'The account is not open yet; try again in a moment.')
    events.attach(m)
    return m
  }

  const routes: Route[] = []
  function route (method: string, path: string, handle: Route['handle']): void {
    const keys: string[] = []
    const pattern = new RegExp('^' + path.replace(/:([a-z]+)/g, (_, key: string) => { keys.push(key); return '([^/]+)' }) + '$')
    routes.push({ method, pattern, name: path, keys, handle })
  }

  route('GET', '/api/openapi.json', async () => ({ status: 200, body: openApiDocument() }))
  route('GET', STATE_PATH, async () => stateReply(host))
  route('POST', '/api/account', async (ctx) => {
    const body = parse(CreateAccountBody, await ctx.body())
    if (host.state() !== 'no-account') throw new ApiError('CONFLICT', 409, 'This data directory already has an account; there is one account per device.')
    const m = await host.createAccount(body.passphrase === undefined ? { name: body.name } : { name: body.name, passphrase: body.passphrase })
    events.attach(m)
    events.broadcast({ type: 'host-state', state: host.state() })
    return { status: 201, body: { state: host.state(), status: await m.status() } }
  })
  route('POST', '/api/unlock', async (ctx) => {
    const body = parse(UnlockBody, await ctx.body())
    if (host.state() === 'no-account') throw new ApiError('NO_ACCOUNT', 409, 'This node has no account yet; create one first.')
    const m = host.state() === 'ready' ? messenger() : await host.unlock(body.passphrase)
    events.attach(m)
    events.broadcast({ type: 'host-state', state: host.state() })
    return { status: 200, body: { state: host.state(), status: await m.status() } }
  })
  route('GET', '/api/status', async () => ({ status: 200, body: await messenger().status() }))
  route('POST', '/api/invites', async (ctx) => {
    const body = parse(CreateInviteBody, await ctx.body())
    const invite = await messenger().createInvite({ ...(body.expiresInMs === undefined ? {} : { expiresInMs: body.expiresInMs }), ...(body.fresh === true ? { fresh: true } : {}) })
    // The QR form travels with the link, so the UI needs no encoder of its own.
    return { status: 201, body: { ...invite, qr: inviteQrText(invite.link) } }
  })
  route('GET', '/api/contacts', async () => ({ status: 200, body: await messenger().contacts() }))
  route('POST', '/api/contacts', async (ctx) => {
    const body = parse(AddContactBody, await ctx.body())
    const contact = await messenger().acceptInvite(normalizeInviteText(body.link), body.name === undefined ? {} : { name: body.name })
    return { status: 201, body: contact }
  })
  route('PATCH', '/api/contacts/:id', async (ctx) => {
    const id = contactId(ctx)
    const body = parse(RenameContactBody, await ctx.body())
    return { status: 200, body: await messenger().rename(id, body.name) }
  })
  route('GET', '/api/contacts/:id/messages', async (ctx) => {
    const id = contactId(ctx)
    const q = parse(MessagesQuery, Object.fromEntries(ctx.query))
    const options: PageOptions = {}
    if (q.limit !== undefined) options.limit = q.limit
    if (q.before !== undefined) options.before = q.before
    if (q.beforeId !== undefined && q.beforeDirection !== undefined) options.after = { direction: q.beforeDirection, id: q.beforeId }
    return { status: 200, body: await messenger().messages(id, options) }
  })
  route('POST', '/api/contacts/:id/messages', async (ctx) => {
    const id = contactId(ctx)
    const body = parse(SendMessageBody, await ctx.body())
    return { status: 201, body: await messenger().send(id, body.text, body.replyTo === undefined ? {} : { replyTo: body.replyTo }) }
  })
  route('POST', '/api/contacts/:id/read', async (ctx) => {
    await messenger().markRead(contactId(ctx))
    return { status: 204 }
  })
  route('GET', '/api/contacts/:id/safety-number', async (ctx) => {
    return { status: 200, body: await messenger().safetyNumber(contactId(ctx)) }
  })
  // A contact's identity key changed: compare the new safety number, then accept or block (never automatic).
  route('GET', '/api/contacts/:id/key-change', async (ctx) => {
    return { status: 200, body: await messenger().pendingSafetyNumber(contactId(ctx)) }
  })
  // The decision names the number the user compared: a newer pending key is refused (409), not decided.
  route('POST', '/api/contacts/:id/key-change/accept', async (ctx) => {
    const id = contactId(ctx)
    const body = parse(KeyChangeDecisionBody, await ctx.body())
    return { status: 200, body: await messenger().acceptKeyChange(id, body.digits) }
  })
  route('POST', '/api/contacts/:id/key-change/block', async (ctx) => {
    const id = contactId(ctx)
    const body = parse(KeyChangeDecisionBody, await ctx.body())
    return { status: 200, body: await messenger().blockKeyChange(id, body.digits) }
  })
  route('PUT', '/api/contacts/:id/verified', async (ctx) => {
    const id = contactId(ctx)
    const body = parse(VerifyBody, await ctx.body())
    const m = messenger()
    await m.setVerified(id, body.verified)
    return { status: 200, body: await m.safetyNumber(id) }
  })
  route('GET', '/api/settings', async () => ({ status: 200, body: await settingsOf(messenger()) }))
  route('PATCH', '/api/settings', async (ctx) => {
    const body = parse(SettingsPatchBody, await ctx.body())
    const patch: { relayOnly?: boolean, lanDiscovery?: boolean, relays?: string[], fetchIsolation?: 'device' | 'contact' } = {}
    if (body.relayOnly !== undefined) patch.relayOnly = body.relayOnly
    if (body.lanDiscovery !== undefined) patch.lanDiscovery = body.lanDiscovery
    if (body.fetchIsolation !== undefined) patch.fetchIsolation = body.fetchIsolation
    if (body.relays !== undefined) patch.relays = [...new Set(body.relays)]
    return { status: 200, body: await messenger().updateSettings(patch) }
  })
  route('POST', '/api/settings/relays', async (ctx) => {
    const body = parse(RelayBody, await ctx.body())
    const m = messenger()
    const current = await settingsOf(m)
    if (current.relays.includes(body.address)) return { status: 200, body: current }
    return { status: 200, body: await m.updateSettings({ relays: [...current.relays, body.address] }) }
  })
  route('DELETE', '/api/settings/relays', async (ctx) => {
    const body = parse(RelayBody, { address: ctx.query.get('address') ?? '' })
    const m = messenger()
    const current = await settingsOf(m)
    if (!current.relays.includes(body.address)) throw new ApiError('NOT_FOUND', 404, 'That relay is not in the list.')
    return { status: 200, body: await m.updateSettings({ relays: current.relays.filter((r) => r !== body.address) }) }
  })
  // Issue 13: edit/delete messages, search, block, delete contacts, pending invites (src/api/chat-routes.ts).
  routes.push(...chatRoutes(messenger))
  addFileRoutes(route, messenger, parse, (params) => parse(ContactIdSchema, params.id))
  // Issue 11: groups (src/api/group-routes.ts).
  addGroupRoutes(route, messenger, parse)
  addGroupFileRoutes(route, messenger, parse, (params) => parse(GroupIdSchema, params.id))
  relayChoiceRoutes(host, route, messenger)
  return routes
}

/** Runs the route for a request and maps any error to its reply; `routeName` is for the log. */
export async function dispatch (routes: readonly Route[], req: ApiRequest, logger: Logger): Promise<{ reply: Reply, routeName: string }> {
  let routeName = 'unknown'
  try {
    const matches = routes.filter((r) => r.pattern.test(req.pathname))
    if (matches.length === 0) throw new ApiError('NOT_FOUND', 404, 'There is no such API endpoint.')
    const r = matches.find((m) => m.method === req.method)
    if (r === undefined) {
      const allow = matches.map((m) => m.method).join(', ')
      const refused = errorReply(new ApiError('METHOD_NOT_ALLOWED', 405, `This endpoint does not accept ${req.method}.`), logger)
      return { reply: { ...refused, headers: { Allow: allow } }, routeName }
    }
    routeName = r.name
    const m = r.pattern.exec(req.pathname) as RegExpExecArray
    const params: Record<string, string> = {}
    r.keys.forEach((k, i) => {
      const raw = m[i + 1] ?? ''
      try { params[k] = decodeURIComponent(raw) } catch { params[k] = raw }
    })
    return { reply: await r.handle({ params, query: req.query, body: req.body, raw: req.raw }), routeName }
  } catch (err) {
    return { reply: errorReply(err, logger), routeName }
  }
}
