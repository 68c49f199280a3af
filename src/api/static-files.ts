// The built web UI, served from one directory with a strict Content-Security-Policy; nothing
// outside that directory is ever read.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { readFile, stat } from 'node:fs/promises'
import { extname, resolve, sep } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import type { Reply } from './status.ts'

export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../web/dist/', import.meta.url))

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

/** Headers on every response, API or page. */
export function baseHeaders (res: ServerResponse): void {
  res.setHeader('X-Content-Type-Options', 'nosniff')
  res.setHeader('Referrer-Policy', 'no-referrer')
  res.setHeader('X-Frame-Options', 'DENY')
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin')
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin')
}

export function sendJson (res: ServerResponse, reply: Reply): void {
  res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'")
  res.setHeader('Cache-Control', 'no-store')
  for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v)
  if (reply.body === undefined) {
    res.writeHead(reply.status).end()
    return
  }
  if (reply.body instanceof Readable) { // a file streamed (src/api/file-routes.ts), its Content-Length in its headers
    res.writeHead(reply.status)
    pipeline(reply.body, res).catch(() => { res.destroy() })
    return
  }
  if (Buffer.isBuffer(reply.body)) { // a file's bytes (src/api/file-routes.ts), with its own Content-Type
    res.writeHead(reply.status, { 'Content-Length': reply.body.length })
    res.end(reply.body)
    return
  }
  const data = JSON.stringify(reply.body)
  res.writeHead(reply.status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(data) })
  res.end(data)
}

function pageCsp (hostHeader: string): string {
  return [
    "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data: blob:",
    `connect-src 'self' ws://${hostHeader}`, "font-src 'self'", "manifest-src 'self'",
    "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"
  ].join('; ')
}

/** Serves a file of `webRoot` (resolved, absolute). */
export async function serveStatic (webRoot: string, req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
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
