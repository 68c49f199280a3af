// The local API of a device node: JSON over HTTP, MessengerEvent JSON over a WebSocket, and the
// built web UI. Loopback by default; every /api request needs this start's token. The same API is
// also served on a Unix socket in the data directory for the CLI (socket.ts).
// This file only wires the parts: checks.ts, routes.ts, status.ts, events.ts, static-files.ts.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { resolve } from 'node:path'
import type { Logger } from '../platform/logger.ts'
import type { DeviceHost } from '../messenger/types.ts'
import { DEFAULT_API_LISTEN, RequestChecks, isLoopback, parseListen, readBody } from './checks.ts'
import { EventHub } from './events.ts'
import type { Route } from './routes.ts'
import { DEFAULT_WEB_ROOT, baseHeaders, sendJson, serveStatic } from './static-files.ts'
import { errorReply } from './status.ts'
import { STATE_PATH, stateReply } from './state-route.ts'
import { ApiError } from './errors.ts'
import { issueToken } from './token.ts'
import { claimSocketPath, listenOnSocket, socketPathFits, socketPathOf } from './socket.ts'

export { DEFAULT_API_LISTEN, MAX_BODY_BYTES, parseListen } from './checks.ts'
export { EVENTS_PROTOCOL, TOKEN_PROTOCOL_PREFIX, type ApiEvent } from './events.ts'

/** Slow-loris bounds for the HTTP server. */
export const HEADERS_TIMEOUT_MS = 10_000
export const REQUEST_TIMEOUT_MS = 60_000

export interface ApiServerOptions {
  readonly host: DeviceHost
  readonly dataDir: string
  /** 'host:port'; port 0 picks a free one. Default DEFAULT_API_LISTEN. */
  readonly listen?: string
  readonly logger: Logger
  /** Directory of the built UI; default web/dist of this checkout. */
  readonly webRoot?: string
  /** Listen on a non-loopback address even though the token then crosses the network in plain HTTP
   * (CLI `--api-allow-remote`). Without it such an address is refused (NOT_LOOPBACK). */
  readonly allowRemote?: boolean
  /** Tests: how the routes are loaded at the first request (default: import routes.ts and file-routes.ts). */
  readonly loadRoutes?: (host: DeviceHost, events: EventHub) => Promise<RoutesModule>
}

export interface ApiServer {
  /** http://host:port, no trailing slash. */
  readonly url: string
  readonly token: string
  /** The CLI's Unix socket; undefined when the data directory's path is too long for one. */
  readonly socketPath: string | undefined
  /** The address to open: the token rides in the fragment, which browsers never send to servers. */
  readonly uiUrl: string
  close: () => Promise<void>
}

export interface RoutesModule {
  readonly routes: Route[]
  readonly dispatch: typeof import('./routes.ts').dispatch
  readonly readRawBody: typeof import('./file-routes.ts').readRawBody
}

async function loadRoutesModule (host: DeviceHost, events: EventHub): Promise<RoutesModule> {
  const [{ createRoutes, dispatch }, { readRawBody }] = await Promise.all([import('./routes.ts'), import('./file-routes.ts')])
  return { routes: createRoutes(host, events), dispatch, readRawBody }
}

export async function createApiServer (o: ApiServerOptions): Promise<ApiServer> {
  const logger = o.logger.child('api')
  const { host: bindHost, port: bindPort } = parseListen(o.listen ?? DEFAULT_API_LISTEN)
  if (!isLoopback(bindHost) && o.allowRemote !== true) {
    throw new ApiError('NOT_LOOPBACK', 0, `The API would listen on ${bindHost}, which is not a loopback address: its token and your messages would cross the network in plain HTTP. Use 127.0.0.1, or add --api-allow-remote if you accept that.`)
  }
  // A live node's socket means its directory is taken: refuse before its token file is replaced.
  const socketPath = socketPathOf(o.dataDir)
  const useSocket = socketPathFits(socketPath)
  if (useSocket) await claimSocketPath(socketPath)
  const token = issueToken(o.dataDir)
  const webRoot = resolve(o.webRoot ?? DEFAULT_WEB_ROOT)
  let port = bindPort
  const checks = new RequestChecks(bindHost, () => port, token)
  const events = new EventHub(o.host, checks, logger)
  // The routes (their zod schemas, the OpenAPI document, the file and group routes: ~4 MB of heap) load on the first
  // API request, not at start: a device nobody is using holds none of it (issue 10, device.idle_rss). The first
  // request waits for the import once (tens of ms). A failed load answers 503 UNAVAILABLE, never the import's own
  // error (its message holds file paths), is logged by name, and is tried again by the next request (a module that
  // failed while evaluating fails the same way until the node restarts).
  let routesLoad: Promise<RoutesModule> | undefined
  const load = o.loadRoutes ?? loadRoutesModule
  const loadRoutes = async (): Promise<RoutesModule> => {
    routesLoad ??= load(o.host, events).catch((err: unknown) => {
      routesLoad = undefined
      logger.error('routes-load-failed', { error: (err as Error).name })
      throw new ApiError('UNAVAILABLE', 503, 'This part of the local API could not load; the node\'s log says why. Restart the node.')
    })
    return await routesLoad
  }

  /** `viaSocket`: the request came over the Unix socket, which no browser can reach, so Host and
   * Origin (DNS rebinding, other pages) mean nothing there. */
  async function handle (req: IncomingMessage, res: ServerResponse, viaSocket: boolean): Promise<void> {
    baseHeaders(res)
    const url = new URL(req.url ?? '/', 'http://local')
    let reply
    let routeName = 'static'
    try {
      if (!viaSocket) checks.checkOrigin(req)
      if (url.pathname !== '/api' && !url.pathname.startsWith('/api/')) {
        await serveStatic(webRoot, req, res, url.pathname)
        return
      }
      checks.checkToken(req)
      if (req.method === 'GET' && url.pathname === STATE_PATH) {
        // Answered without the routes (state-route.ts): a node's liveness probe never waits on their import.
        reply = stateReply(o.host)
        routeName = STATE_PATH
      } else {
        const { routes, dispatch, readRawBody } = await loadRoutes()
        const done = await dispatch(routes, { method: req.method ?? 'GET', pathname: url.pathname, query: url.searchParams, body: async () => await readBody(req), raw: async (max) => await readRawBody(req, max) }, logger)
        reply = done.reply
        routeName = done.routeName
      }
    } catch (err) {
      reply = errorReply(err, logger)
    }
    logger.debug('request', { method: req.method, route: routeName, status: reply.status })
    if (!res.headersSent) sendJson(res, reply)
    else res.destroy()
    // Drain what the client is still sending so an early reply (an error) reaches it.
    req.resume()
  }

  // handle() answers every error itself; nothing is left to reject.
  const server = createServer((req, res) => { void handle(req, res, false) })
  const socketServer = createServer((req, res) => { void handle(req, res, true) })
  for (const s of [server, socketServer]) {
    s.headersTimeout = HEADERS_TIMEOUT_MS
    s.requestTimeout = REQUEST_TIMEOUT_MS
  }
  server.on('upgrade', (req, socket, head) => { events.upgrade(req, socket, head) })

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject)
    server.listen(bindPort, bindHost, () => { server.off('error', reject); resolveListen() })
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('the API server has no TCP address')
  port = address.port
  if (!isLoopback(bindHost)) logger.warn('api-not-loopback-plain-http', { port })
  if (useSocket) {
    try {
      await listenOnSocket(socketServer, socketPath)
    } catch (err) {
      server.close()
      throw err
    }
  } else {
    logger.warn('api-socket-path-too-long')
  }
  const urlHost = bindHost === '0.0.0.0' || bindHost === '::' ? '127.0.0.1' : bindHost.includes(':') ? `[${bindHost}]` : bindHost
  const url = `http://${urlHost}:${port}`
  logger.info('api-listening', { port })

  let closed = false
  return {
    url,
    token,
    socketPath: useSocket ? socketPath : undefined,
    uiUrl: `${url}/#token=${token}`,
    close: async () => {
      if (closed) return
      closed = true
      await events.close()
      await Promise.all([server, ...(useSocket ? [socketServer] : [])].map(async (s) => {
        await new Promise<void>((r) => {
          s.close(() => { r() })
          s.closeAllConnections()
        })
      }))
    }
  }
}
