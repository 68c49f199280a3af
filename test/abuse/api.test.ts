// Abuse of the local API with the real device behind it (createDeviceHost: messenger, e2ee, store, net on
// loopback): a missing or wrong token, a foreign page's Origin, a rebound Host name and an oversized body
// are refused, over HTTP and the events WebSocket.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WebSocket } from 'ws'
import { createApiServer, EVENTS_PROTOCOL, MAX_BODY_BYTES, TOKEN_PROTOCOL_PREFIX } from '../../src/api/server.ts'
import { createDeviceHost } from '../../src/messenger/host.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { call } from '../helpers/http.ts'

async function upgrade (url: string, protocols: string[], headers: Record<string, string> = {}): Promise<string> {
  return await new Promise((resolve) => {
    const ws = new WebSocket(url, protocols, { headers })
    const timer = setTimeout(() => { ws.terminate(); resolve('timeout') }, 10_000)
    ws.once('open', () => { clearTimeout(timer); ws.close(); resolve('open') })
    ws.once('unexpected-response', (_req, res) => { clearTimeout(timer); resolve(String(res.statusCode)); ws.terminate() })
    ws.once('error', () => { clearTimeout(timer); resolve('error') })
  })
}

test('abuse: the local API of a real device refuses a missing/wrong token, a foreign origin, a rebound host, an oversized body', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), '0m1-abuse-api-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const host = await createDeviceHost({ dataDir: dir, logger: silentLogger })
  t.after(async () => { await host.stop() })
  await host.createAccount({ name: 'Me' })
  const server = await createApiServer({ host, dataDir: dir, listen: '127.0.0.1:0', logger: silentLogger })
  t.after(async () => { await server.close() })
  const port = new URL(server.url).port
  const wrong = server.token.slice(0, -1) + (server.token.endsWith('A') ? 'B' : 'A')

  const cases: Array<[string, Promise<{ status: number }>, number]> = [
    ['no token', call(server.url, 'GET', '/api/status'), 401],
    ['wrong token (one character off)', call(server.url, 'GET', '/api/status', { token: wrong }), 401],
    ['token of another length', call(server.url, 'GET', '/api/status', { token: server.token + 'x' }), 401],
    ['token in the query string only', call(server.url, 'GET', `/api/status?token=${server.token}`), 401],
    ['foreign Origin', call(server.url, 'GET', '/api/status', { token: server.token, headers: { origin: 'http://evil.example' } }), 403],
    ['foreign Origin on a write', call(server.url, 'POST', '/api/invites', { token: server.token, body: {}, headers: { origin: 'http://evil.example' } }), 403],
    ['null Origin (sandboxed page)', call(server.url, 'GET', '/api/status', { token: server.token, headers: { origin: 'null' } }), 403],
    ['rebound Host (DNS rebinding)', call(server.url, 'GET', '/api/status', { token: server.token, headers: { host: `evil.example:${port}` } }), 421],
    ['form post (no JSON content type)', call(server.url, 'POST', '/api/invites', { token: server.token, rawBody: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415],
    ['body over the limit', call(server.url, 'POST', '/api/invites', { token: server.token, rawBody: JSON.stringify({ pad: 'x'.repeat(MAX_BODY_BYTES) }), headers: { 'content-type': 'application/json' } }), 413]
  ]
  for (const [name, reply, status] of cases) {
    assert.equal((await reply).status, status, name)
  }
  // Still serving the legitimate client.
  assert.equal((await call(server.url, 'GET', '/api/status', { token: server.token })).status, 200)

  const ws = server.url.replace('http', 'ws') + '/api/events'
  assert.equal(await upgrade(ws, [EVENTS_PROTOCOL]), '401', 'events without a token')
  assert.equal(await upgrade(ws, [EVENTS_PROTOCOL, TOKEN_PROTOCOL_PREFIX + wrong]), '401', 'events with a wrong token')
  assert.equal(await upgrade(ws, [EVENTS_PROTOCOL, TOKEN_PROTOCOL_PREFIX + server.token], { origin: 'http://evil.example' }), '403', 'events from a foreign page')
  assert.equal(await upgrade(ws, [EVENTS_PROTOCOL, TOKEN_PROTOCOL_PREFIX + server.token]), 'open', 'events with the token')
})
