// Checks every request passes before a route sees it: the Host and Origin name this node (DNS
// rebinding, other pages), the bearer token, and a bounded JSON body.
import type { IncomingMessage } from 'node:http'
import { networkInterfaces } from 'node:os'
import { ApiError } from './errors.ts'
import { tokenMatches } from './token.ts'
import { isLoopback } from '../platform/loopback.ts'

export const DEFAULT_API_LISTEN = '127.0.0.1:7450'
/** Largest request body: a message of MAX_TEXT_BYTES with JSON escaping (at most 6 characters a byte) fits. */
export const MAX_BODY_BYTES = 256 * 1024

export function parseListen (listen: string): { host: string, port: number } {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(listen)
  if (m === null) throw new RangeError(`listen must be HOST:PORT, e.g. ${DEFAULT_API_LISTEN}`)
  const port = Number(m[2])
  if (port > 65535) throw new RangeError('listen: port must be 0..65535')
  const host = m[1] as string
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port }
}

export { isLoopback }

export function isWildcard (host: string): boolean {
  return host === '0.0.0.0' || host === '::'
}

/** Host names (as in a Host header, without port) that reach a wildcard listener: loopback and the
 * machine's own addresses. Anything else is a name someone else resolves (DNS rebinding). */
function wildcardNames (): string[] {
  const names = ['127.0.0.1', 'localhost', '[::1]']
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) names.push(a.family === 'IPv6' ? `[${a.address}]` : a.address)
  }
  return names
}

export class RequestChecks {
  readonly #bindHost: string
  readonly #port: () => number
  readonly #token: string

  /** `port` is read at each request: it is known only once the server listens. */
  constructor (bindHost: string, port: () => number, token: string) {
    this.#bindHost = bindHost
    this.#port = port
    this.#token = token
  }

  #allowedHosts (): Set<string> {
    const h = this.#bindHost
    // A wildcard listener still checks Host: against the addresses of this machine, read per request
    // because interfaces come and go.
    const names = isLoopback(h) ? ['127.0.0.1', 'localhost', '[::1]'] : isWildcard(h) ? wildcardNames() : [h.includes(':') ? `[${h}]` : h]
    return new Set(names.map((n) => `${n.toLowerCase()}:${this.#port()}`))
  }

  /** Host must name this node (defeats DNS rebinding); Origin, when present, must be this node's. */
  checkOrigin (req: IncomingMessage): void {
    const hostHeader = req.headers.host
    if (hostHeader === undefined || !this.#allowedHosts().has(hostHeader.toLowerCase())) {
      throw new ApiError('BAD_HOST', 421, 'This request was addressed to another host name.')
    }
    const origin = req.headers.origin
    if (origin !== undefined && origin !== `http://${hostHeader.toLowerCase()}`) {
      throw new ApiError('FORBIDDEN_ORIGIN', 403, 'Requests from other web pages are refused.')
    }
  }

  tokenMatches (given: string | undefined): boolean {
    return tokenMatches(this.#token, given)
  }

  checkToken (req: IncomingMessage): void {
    if (!this.tokenMatches(bearer(req))) {
      throw new ApiError('UNAUTHORIZED', 401, 'The API token is missing or wrong; use the address printed by `0message1 start`.')
    }
  }
}

export function bearer (req: IncomingMessage): string | undefined {
  const h = req.headers.authorization
  if (h === undefined) return undefined
  const m = /^Bearer ([A-Za-z0-9_-]+)$/.exec(h)
  return m?.[1]
}

export async function readBody (req: IncomingMessage): Promise<unknown> {
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
