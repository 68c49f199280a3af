// The local API of a device node: JSON over HTTP, MessengerEvent JSON over a WebSocket, and the
// built web UI. Loopback by default; every /api request needs the data directory's token.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { readFile, stat } from 'node:fs/promises'
import { extname, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { WebSocketServer, type WebSocket } from 'ws'
import type { z } from 'zod'
import type { Logger } from '../platform/logger.ts'
import type { DeviceHost, Messenger, MessengerEvent, SettingsView } from '../messenger/types.ts'
import { ApiError } from './errors.ts'
import { loadOrCreateToken, tokenMatches } from './token.ts'
import { openApiDocument } from './openapi.ts'
import { inviteQrText, normalizeInviteText } from './invite-text.ts'
import {
  AddContactBody, ContactIdSchema, CreateAccountBody, CreateInviteBody, MessagesQuery, RelayBody,
  RenameContactBody, SendMessageBody, SettingsPatchBody, UnlockBody, VerifyBody, describeIssues
} from './schemas.ts'

export const DEFAULT_API_LISTEN = '127.0.0.1:7450'
/** Largest request body: a message of MAX_TEXT_CHARS in UTF-8 with JSON escaping fits easily. */
export const MAX_BODY_BYTES = 256 * 1024
/** A UI tab or two and a CLI watcher: more is a leak or an attack. */
export const MAX_EVENT_CLIENTS = 32
/** An event client that lets this much pile up is not reading: drop it rather than hold memory. */
export const MAX_EVENT_BUFFER_BYTES = 4 * 1024 * 1024
/** Dead WebSocket peers are found by ping within this interval. */
export const EVENT_PING_INTERVAL_MS = 30_000
/** Slow-loris bounds for the HTTP server. */
export const HEADERS_TIMEOUT_MS = 10_000
export const REQUEST_TIMEOUT_MS = 60_000
/** The WebSocket subprotocol the UI asks for; the token travels as a second one (`0m1-token.<token>`). */
export const EVENTS_PROTOCOL = '0m1-events'
export const TOKEN_PROTOCOL_PREFIX = '0m1-token.'

/** Events pushed on /api/events: the messenger's, plus the host's state changes. */
export type ApiEvent = MessengerEvent | { readonly type: 'host-state', readonly state: ReturnType<DeviceHost['state']> }

export interface ApiServerOptions {
  readonly host: DeviceHost
  readonly dataDir: string
  /** 'host:port'; port 0 picks a free one. Default DEFAULT_API_LISTEN. */
  readonly listen?: string
  readonly logger: Logger
  /** Directory of the built UI; default web/dist of this checkout. */
  readonly webRoot?: string
}

export interface ApiServer {
  /** http://host:port, no trailing slash. */
  readonly url: string
  readonly token: string
  /** The address to open: the token rides in the fragment, which browsers never send to servers. */
  readonly uiUrl: string
  close: () => Promise<void>
}

interface Reply { status: number, body?: unknown }
interface RequestContext {
  readonly params: Record<string, string>
  readonly query: URLSearchParams
  readonly body: () => Promise<unknown>
}
interface Route {
  readonly method: string
  readonly pattern: RegExp
  readonly name: string
  readonly keys: readonly string[]
  readonly handle: (ctx: RequestContext) => Promise<Reply>
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json'
}

const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../web/dist/', import.meta.url))

export function parseListen (listen: string): { host: string, port: number } {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(listen)
  if (m === null) throw new RangeError(`listen must be HOST:PORT, e.g. ${DEFAULT_API_LISTEN}`)
  const port = Number(m[2])
  if (port > 65535) throw new RangeError('listen: port must be 0..65535')
  const host = m[1] as string
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port }
}

function isLoopback (host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}

/** Maps an error from the messenger (typed errors with a code) to an HTTP reply. */
function toReply (err: unknown, logger: Logger): Reply {
  if (ApiError.is(err)) return { status: err.status, body: { error: { code: err.code, message: err.message } } }
  if (err instanceof TypeError || err instanceof RangeError) {
    // Caller mistakes from lower layers name the argument, never a secret.
    return { status: 400, body: { error: { code: 'BAD_REQUEST', message: err.message } } }
  }
  const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : undefined
  if (code !== undefined && err instanceof Error && /^[A-Z][A-Z0-9_]*$/.test(code)) {
    let status = 422
    if (/NOT_FOUND|UNKNOWN_CONTACT|NO_SUCH/.test(code)) status = 404
    else if (/EXISTS|ALREADY/.test(code)) status = 409
    else if (/WRONG_KEY|WRONG_PASSPHRASE|PASSPHRASE/.test(code)) status = 403
    else if (/LOCKED/.test(code)) status = 423
    return { status, body: { error: { code, message: err.message } } }
  }
  logger.error('request-failed', { error: err instanceof Error ? err.name : typeof err })
  return { status: 500, body: { error: { code: 'INTERNAL', message: 'Something went wrong inside the node; see its log.' } } }
}

export async function createApiServer (o: ApiServerOptions): Promise<ApiServer> {
  const logger = o.logger.child('api')
  const { host: bindHost, port: bindPort } = parseListen(o.listen ?? DEFAULT_API_LISTEN)
  const token = loadOrCreateToken(o.dataDir)
  const webRoot = resolve(o.webRoot ?? DEFAULT_WEB_ROOT)
  const deviceHost = o.host
  let port = bindPort

  // ---- events ---------------------------------------------------------------------------------
  const clients = new Set<WebSocket>()
  let attached: Messenger | undefined
  let unsubscribe: (() => void) | undefined

  function broadcast (event: ApiEvent): void {
    const data = JSON.stringify(event)
    for (const ws of clients) {
      if (ws.bufferedAmount > MAX_EVENT_BUFFER_BYTES) {
        logger.warn('event-client-dropped', { reason: 'slow' })
        ws.terminate()
        clients.delete(ws)
        continue
      }
      ws.send(data)
    }
  }

  function attach (m: Messenger): void {
    if (attached === m) return
    unsubscribe?.()
    attached = m
    unsubscribe = m.subscribe((event) => { broadcast(event) })
  }

  function messenger (): Messenger {
    const state = deviceHost.state()
    if (state === 'no-account') throw new ApiError('NO_ACCOUNT', 409, 'This node has no account yet; create one first.')
    if (state === 'locked') throw new ApiError('LOCKED', 423, 'The account is locked; unlock it with its passphrase.')
    const m = deviceHost.messenger()
    if (m === undefined) throw new ApiError('LOCKED', 423, 'The account is not open yet; try again in a moment.')
    attach(m)
    return m
  }

  const existing = deviceHost.messenger()
  if (existing !== undefined) attach(existing)

  // ---- routes ---------------------------------------------------------------------------------
  function parse<T extends z.ZodType> (schema: T, value: unknown): z.output<T> {
    const result = schema.safeParse(value)
    if (!result.success) throw new ApiError('BAD_REQUEST', 400, describeIssues(result.error))
    return result.data
  }
  const contactId = (ctx: RequestContext): string => parse(ContactIdSchema, ctx.params.id)
  const settingsOf = async (m: Messenger): Promise<SettingsView> => (await m.status()).settings

  const routes: Route[] = []
  function route (method: string, path: string, handle: Route['handle']): void {
    const keys: string[] = []
    const pattern = new RegExp('^' + path.replace(/:([a-z]+)/g, (_, key: string) => { keys.push(key); return '([^/]+)' }) + '$')
    routes.push({ method, pattern, name: path, keys, handle })
  }

  route('GET', '/api/openapi.json', async () => ({ status: 200, body: openApiDocument() }))
  route('GET', '/api/state', async () => ({ status: 200, body: { state: deviceHost.state() } }))
  route('POST', '/api/account', async (ctx) => {
    const body = parse(CreateAccountBody, await ctx.body())
    if (deviceHost.state() !== 'no-account') throw new ApiError('CONFLICT', 409, 'This data directory already has an account; there is one account per device.')
    const m = await deviceHost.createAccount(body.passphrase === undefined ? { name: body.name } : { name: body.name, passphrase: body.passphrase })
    attach(m)
    broadcast({ type: 'host-state', state: deviceHost.state() })
    return { status: 201, body: { state: deviceHost.state(), status: await m.status() } }
  })
  route('POST', '/api/unlock', async (ctx) => {
    const body = parse(UnlockBody, await ctx.body())
    if (deviceHost.state() === 'no-account') throw new ApiError('NO_ACCOUNT', 409, 'This node has no account yet; create one first.')
    const m = deviceHost.state() === 'ready' ? messenger() : await deviceHost.unlock(body.passphrase)
    attach(m)
    broadcast({ type: 'host-state', state: deviceHost.state() })
    return { status: 200, body: { state: deviceHost.state(), status: await m.status() } }
  })
  route('GET', '/api/status', async () => ({ status: 200, body: await messenger().status() }))
  route('POST', '/api/invites', async (ctx) => {
    const body = parse(CreateInviteBody, await ctx.body())
    const invite = await messenger().createInvite(body.expiresInMs === undefined ? {} : { expiresInMs: body.expiresInMs })
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
    const options: { limit?: number, before?: number } = {}
    if (q.limit !== undefined) options.limit = q.limit
    if (q.before !== undefined) options.before = q.before
    return { status: 200, body: await messenger().messages(id, options) }
  })
  route('POST', '/api/contacts/:id/messages', async (ctx) => {
    const id = contactId(ctx)
    const body = parse(SendMessageBody, await ctx.body())
    return { status: 201, body: await messenger().send(id, body.text) }
  })
  route('POST', '/api/contacts/:id/read', async (ctx) => {
    await messenger().markRead(contactId(ctx))
    return { status: 204 }
  })
  route('GET', '/api/contacts/:id/safety-number', async (ctx) => {
    return { status: 200, body: await messenger().safetyNumber(contactId(ctx)) }
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

  // ---- request checks -------------------------------------------------------------------------
  function allowedHosts (): Set<string> {
    const names = isLoopback(bindHost) ? ['127.0.0.1', 'localhost', '[::1]'] : [bindHost.includes(':') ? `[${bindHost}]` : bindHost]
    return new Set(names.map((n) => `${n}:${port}`))
  }
  const wildcard = bindHost === '0.0.0.0' || bindHost === '::'

  /** Host must name this node (defeats DNS rebinding); Origin, when present, must be this node's. */
  function checkOrigin (req: IncomingMessage): void {
    const hostHeader = req.headers.host
    if (hostHeader === undefined || (!wildcard && !allowedHosts().has(hostHeader.toLowerCase()))) {
      throw new ApiError('BAD_HOST', 421, 'This request was addressed to another host name.')
    }
    const origin = req.headers.origin
    if (origin !== undefined && origin !== `http://${hostHeader.toLowerCase()}`) {
      throw new ApiError('FORBIDDEN_ORIGIN', 403, 'Requests from other web pages are refused.')
    }
  }

  function bearer (req: IncomingMessage): string | undefined {
    const h = req.headers.authorization
    if (h === undefined) return undefined
    const m = /^Bearer ([A-Za-z0-9_-]+)$/.exec(h)
    return m?.[1]
  }

  function checkToken (req: IncomingMessage): void {
    if (!tokenMatches(token, bearer(req))) {
      throw new ApiError('UNAUTHORIZED', 401, 'The API token is missing or wrong; use the address printed by `0message1 start`.')
    }
  }

  async function readBody (req: IncomingMessage): Promise<unknown> {
    const type = req.headers['content-type']
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length
      if (size > MAX_BODY_BYTES) throw new ApiError('BODY_TOO_LARGE', 413, `The request body is larger than ${MAX_BODY_BYTES} bytes.`)
      chunks.push(chunk)
    }
    if (size === 0) return {}
    // A JSON content type forces a CORS preflight from other pages, a second line behind Origin.
    if (type === undefined || !/^application\/json\s*(;|$)/i.test(type)) {
      throw new ApiError('BAD_REQUEST', 415, 'The request body must be JSON (Content-Type: application/json).')
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8'))
    } catch {
      throw new ApiError('BAD_REQUEST', 400, 'The request body is not valid JSON.')
    }
  }

  // ---- responses ------------------------------------------------------------------------------
  function baseHeaders (res: ServerResponse): void {
    res.setHeader('X-Content-Type-Options', 'nosniff')
    res.setHeader('Referrer-Policy', 'no-referrer')
    res.setHeader('X-Frame-Options', 'DENY')
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin')
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin')
  }

  function sendJson (res: ServerResponse, reply: Reply): void {
    res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'")
    res.setHeader('Cache-Control', 'no-store')
    if (reply.body === undefined) {
      res.writeHead(reply.status).end()
      return
    }
    const data = JSON.stringify(reply.body)
    res.writeHead(reply.status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(data) })
    res.end(data)
  }

  function pageCsp (hostHeader: string): string {
    return [
      "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
      `connect-src 'self' ws://${hostHeader}`, "font-src 'self'", "manifest-src 'self'",
      "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"
    ].join('; ')
  }

  async function serveStatic (req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, { status: 405, body: { error: { code: 'METHOD_NOT_ALLOWED', message: 'Only GET is allowed here.' } } })
      return
    }
    let rel: string
    try {
      rel = decodeURIComponent(pathname)
    } catch {
      rel = '\u0000'
    }
    if (rel === '/' || rel === '/index.html') rel = '/index.html'
    const file = resolve(webRoot, '.' + rel)
    const inside = file.startsWith(webRoot + sep) && !rel.includes('\u0000')
    let body: Buffer | undefined
    if (inside) {
      try {
        if ((await stat(file)).isFile()) body = await readFile(file)
      } catch { /* not there */ }
    }
    res.setHeader('Content-Security-Policy', pageCsp((req.headers.host ?? '').toLowerCase()))
    if (body === undefined) {
      const notBuilt = rel === '/index.html'
      const text = notBuilt
        ? '<!doctype html><meta charset="utf-8"><title>0message1</title><p>The web UI is not built yet: run <code>npm run build:web</code> and reload.</p>'
        : '<!doctype html><meta charset="utf-8"><title>Not found</title><p>Not found.</p>'
      res.writeHead(notBuilt ? 503 : 404, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' })
      res.end(req.method === 'HEAD' ? undefined : text)
      return
    }
    const type = CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream'
    const immutable = rel.startsWith('/assets/')
    res.writeHead(200, {
      'Content-Type': type,
      'Content-Length': body.length,
      'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache'
    })
    res.end(req.method === 'HEAD' ? undefined : body)
  }

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    baseHeaders(res)
    const url = new URL(req.url ?? '/', 'http://local')
    let routeName = 'static'
    try {
      checkOrigin(req)
      if (url.pathname !== '/api' && !url.pathname.startsWith('/api/')) {
        await serveStatic(req, res, url.pathname)
        return
      }
      checkToken(req)
      const matches = routes.filter((r) => r.pattern.test(url.pathname))
      if (matches.length === 0) throw new ApiError('NOT_FOUND', 404, 'There is no such API endpoint.')
      const r = matches.find((m) => m.method === req.method)
      if (r === undefined) {
        res.setHeader('Allow', matches.map((m) => m.method).join(', '))
        throw new ApiError('METHOD_NOT_ALLOWED', 405, `This endpoint does not accept ${String(req.method)}.`)
      }
      routeName = r.name
      const m = r.pattern.exec(url.pathname) as RegExpExecArray
      const params: Record<string, string> = {}
      r.keys.forEach((k, i) => {
        const raw = m[i + 1] ?? ''
        try { params[k] = decodeURIComponent(raw) } catch { params[k] = raw }
      })
      const reply = await r.handle({ params, query: url.searchParams, body: async () => await readBody(req) })
      sendJson(res, reply)
      logger.debug('request', { method: req.method, route: routeName, status: reply.status })
    } catch (err) {
      const reply = toReply(err, logger)
      logger.debug('request', { method: req.method, route: routeName, status: reply.status })
      if (!res.headersSent) sendJson(res, reply)
      else res.destroy()
      // Drain what the client is still sending so the error reaches it.
      req.resume()
    }
  }

  // ---- server ---------------------------------------------------------------------------------
  const server = createServer((req, res) => { void handle(req, res) })
  server.headersTimeout = HEADERS_TIMEOUT_MS
  server.requestTimeout = REQUEST_TIMEOUT_MS

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 4096, // clients send nothing but pings
    handleProtocols: (protocols) => protocols.has(EVENTS_PROTOCOL) ? EVENTS_PROTOCOL : false
  })

  function refuseUpgrade (socket: Socket, status: number, text: string): void {
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
  }

  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://local')
    if (url.pathname !== '/api/events') { refuseUpgrade(socket, 404, 'Not Found'); return }
    try {
      checkOrigin(req)
    } catch (err) {
      const e = err as ApiError
      refuseUpgrade(socket, e.status, e.status === 421 ? 'Misdirected Request' : 'Forbidden')
      return
    }
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim())
    const fromProtocol = offered.find((p) => p.startsWith(TOKEN_PROTOCOL_PREFIX))?.slice(TOKEN_PROTOCOL_PREFIX.length)
    const given = fromProtocol ?? url.searchParams.get('token') ?? bearer(req)
    if (!tokenMatches(token, given)) { refuseUpgrade(socket, 401, 'Unauthorized'); return }
    if (clients.size >= MAX_EVENT_CLIENTS) { refuseUpgrade(socket, 503, 'Service Unavailable'); return }
    wss.handleUpgrade(req, socket, head, (ws) => {
      clients.add(ws)
      let alive = true
      ws.on('pong', () => { alive = true })
      const ping = setInterval(() => {
        if (!alive) { ws.terminate(); return }
        alive = false
        ws.ping()
      }, EVENT_PING_INTERVAL_MS)
      ws.on('close', () => { clearInterval(ping); clients.delete(ws) })
      ws.on('error', () => { ws.terminate() })
      ws.send(JSON.stringify({ type: 'host-state', state: deviceHost.state() } satisfies ApiEvent))
    })
  })

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject)
    server.listen(bindPort, bindHost, () => { server.off('error', reject); resolveListen() })
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('the API server has no TCP address')
  port = address.port
  if (!isLoopback(bindHost)) logger.warn('api-not-loopback', { port })
  const urlHost = bindHost === '0.0.0.0' || bindHost === '::' ? '127.0.0.1' : bindHost.includes(':') ? `[${bindHost}]` : bindHost
  const url = `http://${urlHost}:${port}`
  logger.info('api-listening', { port })

  let closed = false
  return {
    url,
    token,
    uiUrl: `${url}/#token=${token}`,
    close: async () => {
      if (closed) return
      closed = true
      unsubscribe?.()
      for (const ws of clients) ws.close(1001, 'node stopping')
      await new Promise<void>((r) => { wss.close(() => { r() }) })
      for (const ws of clients) ws.terminate()
      await new Promise<void>((r) => {
        server.close(() => { r() })
        server.closeAllConnections()
      })
    }
  }
}
