// /api/events: the messenger's events and the host's state changes, pushed as JSON over a
// WebSocket to a bounded number of clients, each dropped when it stops reading.
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import type { Logger } from '../platform/logger.ts'
import type { DeviceHost, Messenger, MessengerEvent } from '../messenger/types.ts'
import { ApiError } from './errors.ts'
import type { RequestChecks } from './checks.ts'

/** A UI tab or two and a CLI watcher: more is a leak or an attack. */
export const MAX_EVENT_CLIENTS = 32
/** An event client that lets this much pile up is not reading: drop it rather than hold memory. */
export const MAX_EVENT_BUFFER_BYTES = 4 * 1024 * 1024
/** Dead WebSocket peers are found by ping within this interval. */
export const EVENT_PING_INTERVAL_MS = 30_000
/** Clients send nothing but pings. */
const MAX_CLIENT_FRAME_BYTES = 4096
/** The WebSocket subprotocol the UI asks for; the token travels as a second one (`0m1-token.<token>`). */
export const EVENTS_PROTOCOL = '0m1-events'
export const TOKEN_PROTOCOL_PREFIX = '0m1-token.'

/** Events pushed on /api/events: the messenger's, plus the host's state changes. */
export type ApiEvent = MessengerEvent | { readonly type: 'host-state', readonly state: ReturnType<DeviceHost['state']> }

/** What route handlers need of the events: follow a (new) messenger, announce a host change. */
export interface EventSink {
  attach: (m: Messenger) => void
  broadcast: (event: ApiEvent) => void
}

function refuseUpgrade (socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
}

export class EventHub implements EventSink {
  readonly #clients = new Set<WebSocket>()
  readonly #host: DeviceHost
  readonly #checks: RequestChecks
  readonly #logger: Logger
  readonly #wss: WebSocketServer
  #attached: Messenger | undefined
  #unsubscribe: (() => void) | undefined

  constructor (host: DeviceHost, checks: RequestChecks, logger: Logger) {
    this.#host = host
    this.#checks = checks
    this.#logger = logger
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: MAX_CLIENT_FRAME_BYTES,
      handleProtocols: (protocols) => protocols.has(EVENTS_PROTOCOL) ? EVENTS_PROTOCOL : false
    })
    const existing = host.messenger()
    if (existing !== undefined) this.attach(existing)
  }

  broadcast (event: ApiEvent): void {
    const data = JSON.stringify(event)
    for (const ws of this.#clients) {
      if (ws.bufferedAmount > MAX_EVENT_BUFFER_BYTES) {
        this.#logger.warn('event-client-dropped', { reason: 'slow' })
        ws.terminate()
        this.#clients.delete(ws)
        continue
      }
      ws.send(data)
    }
  }

  attach (m: Messenger): void {
    if (this.#attached === m) return
    this.#unsubscribe?.()
    this.#attached = m
    this.#unsubscribe = m.subscribe((event) => { this.broadcast(event) })
  }

  /** The server's 'upgrade' handler. */
  upgrade (req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://local')
    if (url.pathname !== '/api/events') { refuseUpgrade(socket, 404, 'Not Found'); return }
    try {
      this.#checks.checkOrigin(req)
    } catch (err) {
      const status = ApiError.is(err) ? err.status : 403
      refuseUpgrade(socket, status, status === 421 ? 'Misdirected Request' : 'Forbidden')
      return
    }
    // The token is taken from the subprotocol only: a `?token=` would land in URLs, logs and
    // history (HTTP refuses it too), and browsers cannot set an Authorization header on a WebSocket.
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim())
    const given = offered.find((p) => p.startsWith(TOKEN_PROTOCOL_PREFIX))?.slice(TOKEN_PROTOCOL_PREFIX.length)
    if (!this.#checks.tokenMatches(given)) { refuseUpgrade(socket, 401, 'Unauthorized'); return }
    if (this.#clients.size >= MAX_EVENT_CLIENTS) { refuseUpgrade(socket, 503, 'Service Unavailable'); return }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      this.#clients.add(ws)
      let alive = true
      ws.on('pong', () => { alive = true })
      const ping = setInterval(() => {
        if (!alive) { ws.terminate(); return }
        alive = false
        ws.ping()
      }, EVENT_PING_INTERVAL_MS)
      ws.on('close', () => { clearInterval(ping); this.#clients.delete(ws) })
      ws.on('error', () => { ws.terminate() })
      ws.send(JSON.stringify({ type: 'host-state', state: this.#host.state() } satisfies ApiEvent))
    })
  }

  async close (): Promise<void> {
    this.#unsubscribe?.()
    for (const ws of this.#clients) ws.close(1001, 'node stopping')
    await new Promise<void>((resolve) => { this.#wss.close(() => { resolve() }) })
    for (const ws of this.#clients) ws.terminate()
  }
}
