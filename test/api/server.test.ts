// The local API against the in-memory host double: auth, origin and host checks, validation, the
// endpoints, events, static files. The same server over the real messenger: test/browser, test/cli.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, mkdirSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs'
import { networkInterfaces, tmpdir } from 'node:os'
import type { IncomingMessage } from 'node:http'
import { join } from 'node:path'
import { WebSocket } from 'ws'
import { createApiServer, EVENTS_PROTOCOL, MAX_BODY_BYTES, TOKEN_PROTOCOL_PREFIX, parseListen, type ApiServer } from '../../src/api/server.ts'
import { TOKEN_FILE } from '../../src/api/token.ts'
import { RequestChecks } from '../../src/api/checks.ts'
import { ApiError } from '../../src/api/errors.ts'
import { MAX_NAME_BYTES } from '../../src/wire/payload.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import type { ContactView, MessageView, MessengerEvent } from '../../src/messenger/types.ts'
import { FakeHost, FakeNetwork } from '../helpers/fake-host.ts'
import { call } from '../helpers/http.ts'

function tempDir (t: { after: (fn: () => void) => void }, prefix = '0m1-api-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}

async function startServer (t: { after: (fn: () => Promise<void> | void) => void }, host: FakeHost, webRoot?: string): Promise<{ server: ApiServer, dir: string }> {
  const dir = tempDir(t)
  const server = await createApiServer({ host, dataDir: dir, listen: '127.0.0.1:0', logger: silentLogger, ...(webRoot === undefined ? {} : { webRoot }) })
  t.after(async () => { await server.close() })
  return { server, dir }
}

async function openEvents (server: ApiServer, protocols: string[], headers: Record<string, string> = {}): Promise<{ ws: WebSocket, events: MessengerEvent[], next: (pred: (e: MessengerEvent) => boolean, ms?: number) => Promise<MessengerEvent> }> {
  const ws = new WebSocket(server.url.replace('http', 'ws') + '/api/events', protocols, { headers })
  const events: MessengerEvent[] = []
  const waiters: Array<{ pred: (e: MessengerEvent) => boolean, resolve: (e: MessengerEvent) => void }> = []
  ws.on('message', (data) => {
    const e = JSON.parse((data as Buffer).toString('utf8')) as MessengerEvent
    events.push(e)
    for (const w of [...waiters]) if (w.pred(e)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(e) }
  })
  await new Promise<void>((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  const next = async (pred: (e: MessengerEvent) => boolean, ms = 5000): Promise<MessengerEvent> => {
    const seen = events.find(pred)
    if (seen !== undefined) return seen
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error('event did not come')) }, ms)
      waiters.push({ pred, resolve: (e) => { clearTimeout(timer); resolve(e) } })
    })
  }
  return { ws, events, next }
}

test('parseListen accepts host:port and [v6]:port, refuses the rest', () => {
  assert.deepEqual(parseListen('127.0.0.1:7450'), { host: '127.0.0.1', port: 7450 })
  assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 })
  assert.throws(() => parseListen('7450'), RangeError)
  assert.throws(() => parseListen('127.0.0.1:99999'), RangeError)
})

test('token: new at every start, mode 0600, required on every /api request', async (t) => {
  const { server, dir } = await startServer(t, new FakeHost(new FakeNetwork()))
  const path = join(dir, TOKEN_FILE)
  assert.equal(statSync(path).mode & 0o777, 0o600)
  assert.equal(readFileSync(path, 'utf8').trim(), server.token)
  assert.match(server.uiUrl, /^http:\/\/127\.0\.0\.1:\d+\/#token=[A-Za-z0-9_-]{43}$/)

  const none = await call(server.url, 'GET', '/api/state')
  assert.equal(none.status, 401)
  assert.deepEqual((none.json() as { error: { code: string } }).error.code, 'UNAUTHORIZED')
  assert.equal((await call(server.url, 'GET', '/api/state', { token: 'x'.repeat(43) })).status, 401)
  assert.equal((await call(server.url, 'GET', '/api/openapi.json')).status, 401)
  assert.equal((await call(server.url, 'GET', '/api/state', { headers: { authorization: `Basic ${server.token}` } })).status, 401)
  const ok = await call(server.url, 'GET', '/api/state', { token: server.token })
  assert.equal(ok.status, 200)
  assert.deepEqual(ok.json(), { state: 'no-account' })
  assert.equal(ok.headers['x-content-type-options'], 'nosniff')
  assert.equal(ok.headers['cache-control'], 'no-store')

  // A second server cannot take over the directory of a running one (its socket answers).
  await assert.rejects(createApiServer({ host: new FakeHost(new FakeNetwork()), dataDir: dir, listen: '127.0.0.1:0', logger: silentLogger }),
    (err: unknown) => ApiError.is(err, 'CONFLICT'))
  assert.equal(readFileSync(path, 'utf8').trim(), server.token, 'the running node\'s token is left alone')
  // The next start makes a new token (issue 14 item 5): the old one opens nothing any more.
  await server.close()
  const again = await createApiServer({ host: new FakeHost(new FakeNetwork()), dataDir: dir, listen: '127.0.0.1:0', logger: silentLogger })
  t.after(async () => { await again.close() })
  assert.notEqual(again.token, server.token)
  assert.equal(readFileSync(path, 'utf8').trim(), again.token)
  assert.equal(statSync(path).mode & 0o777, 0o600)
  assert.equal((await call(again.url, 'GET', '/api/state', { token: server.token })).status, 401)
  assert.equal((await call(again.url, 'GET', '/api/state', { token: again.token })).status, 200)
})

test('origin and host checks: a foreign page or a rebound host name is refused, the own origin and the CLI pass', async (t) => {
  const { server } = await startServer(t, new FakeHost(new FakeNetwork()))
  const port = new URL(server.url).port
  const foreign = await call(server.url, 'GET', '/api/state', { token: server.token, headers: { origin: 'http://evil.example' } })
  assert.equal(foreign.status, 403)
  assert.equal((foreign.json() as { error: { code: string } }).error.code, 'FORBIDDEN_ORIGIN')
  const nullOrigin = await call(server.url, 'GET', '/api/state', { token: server.token, headers: { origin: 'null' } })
  assert.equal(nullOrigin.status, 403)
  const own = await call(server.url, 'GET', '/api/state', { token: server.token, headers: { origin: `http://127.0.0.1:${port}` } })
  assert.equal(own.status, 200)
  const localhost = await call(server.url, 'GET', '/api/state', { token: server.token, headers: { host: `localhost:${port}`, origin: `http://localhost:${port}` } })
  assert.equal(localhost.status, 200)
  const rebound = await call(server.url, 'GET', '/api/state', { token: server.token, headers: { host: `evil.example:${port}` } })
  assert.equal(rebound.status, 421)
  // Static files too: a rebound name gets nothing.
  assert.equal((await call(server.url, 'GET', '/', { headers: { host: 'evil.example' } })).status, 421)
})

test('request bodies are validated with one clear sentence', async (t) => {
  const host = new FakeHost(new FakeNetwork())
  const { server } = await startServer(t, host)
  const bad = async (body: unknown, o: { rawBody?: string, contentType?: string } = {}): Promise<{ status: number, message: string }> => {
    const r = await call(server.url, 'POST', '/api/account', {
      token: server.token,
      ...(o.rawBody !== undefined ? { rawBody: o.rawBody } : { body }),
      headers: { 'content-type': o.contentType ?? 'application/json' }
    })
    return { status: r.status, message: (r.json() as { error: { message: string } }).error.message }
  }
  assert.deepEqual(await bad({ name: '' }), { status: 400, message: 'Invalid request: name: must not be empty.' })
  assert.equal((await bad({})).status, 400)
  const extra = await bad({ name: 'A', admin: true })
  assert.equal(extra.status, 400)
  assert.match(extra.message, /admin/)
  assert.equal((await bad({ name: 'line\nbreak' })).status, 400)
  assert.equal((await bad({ name: 'x'.repeat(MAX_NAME_BYTES + 1) })).status, 400)
  assert.deepEqual(await bad(undefined, { rawBody: '{nope' }), { status: 400, message: 'The request body is not valid JSON.' })
  assert.equal((await bad(undefined, { rawBody: 'name=A', contentType: 'application/x-www-form-urlencoded' })).status, 415)
  assert.equal((await bad(undefined, { rawBody: JSON.stringify({ name: 'x'.repeat(MAX_BODY_BYTES) }) })).status, 413)
  assert.equal(host.state(), 'no-account')
  // Nothing works before the account exists, and the error says what to do.
  const early = await call(server.url, 'GET', '/api/contacts', { token: server.token })
  assert.equal(early.status, 409)
  assert.match((early.json() as { error: { message: string } }).error.message, /no account/)
})

test('account, invite, contacts, messages, receipts, safety number and settings through two API servers', async (t) => {
  const net = new FakeNetwork()
  const a = await startServer(t, new FakeHost(net))
  const b = await startServer(t, new FakeHost(net))
  const A = async (method: string, path: string, body?: unknown): Promise<{ status: number, body: unknown }> => {
    const r = await call(a.server.url, method, path, { token: a.server.token, ...(body === undefined ? {} : { body }) })
    return { status: r.status, body: r.text === '' ? undefined : r.json() }
  }
  const B = async (method: string, path: string, body?: unknown): Promise<{ status: number, body: unknown }> => {
    const r = await call(b.server.url, method, path, { token: b.server.token, ...(body === undefined ? {} : { body }) })
    return { status: r.status, body: r.text === '' ? undefined : r.json() }
  }
  assert.equal((await A('POST', '/api/account', { name: 'Alice' })).status, 201)
  assert.equal((await A('POST', '/api/account', { name: 'Again' })).status, 409)
  assert.equal((await B('POST', '/api/account', { name: 'Bob' })).status, 201)
  const eventsA = await openEvents(a.server, [EVENTS_PROTOCOL, TOKEN_PROTOCOL_PREFIX + a.server.token])
  t.after(() => { eventsA.ws.close() })
  assert.equal(eventsA.ws.protocol, EVENTS_PROTOCOL)

  const invite = await A('POST', '/api/invites', {})
  assert.equal(invite.status, 201)
  const link = (invite.body as { link: string }).link
  assert.equal((await B('POST', '/api/contacts', { link: 'garbage' })).status, 422)
  const added = await B('POST', '/api/contacts', { link })
  assert.equal(added.status, 201)
  const alice = added.body as ContactView
  assert.equal(alice.name, 'Alice')
  const bobContact = await eventsA.next((e) => e.type === 'contact') as { contact: ContactView }
  assert.equal(bobContact.contact.name, 'Bob')

  const sent = await B('POST', `/api/contacts/${alice.id}/messages`, { text: '<b>hi</b> Alice' })
  assert.equal(sent.status, 201)
  assert.equal((sent.body as MessageView).state, 'queued')
  const arrived = await eventsA.next((e) => e.type === 'message') as { message: MessageView }
  assert.equal(arrived.message.text, '<b>hi</b> Alice')
  const list = await A('GET', `/api/contacts/${bobContact.contact.id}/messages?limit=10`)
  assert.equal((list.body as MessageView[]).length, 1)
  // The paging cursor needs both halves (test/messenger/chat-features.test.ts pages with it).
  const only = (list.body as MessageView[])[0] as MessageView
  assert.equal((await A('GET', `/api/contacts/${bobContact.contact.id}/messages?beforeId=${only.id}`)).status, 400)
  assert.equal((await A('GET', `/api/contacts/${bobContact.contact.id}/messages?beforeDirection=in`)).status, 400)
  assert.equal((await A('GET', `/api/contacts/${bobContact.contact.id}/messages?limit=0`)).status, 400)
  assert.equal((await A('GET', `/api/contacts/${bobContact.contact.id}/messages?color=red`)).status, 400)
  assert.equal((await A('POST', `/api/contacts/${bobContact.contact.id}/read`)).status, 204)
  assert.equal((await A('GET', '/api/contacts/nope/messages')).status, 404)
  assert.equal((await A('GET', '/api/contacts/' + encodeURIComponent('../x') + '/messages')).status, 400)
  assert.equal((await A('POST', '/api/contacts/x/messages', { text: '' })).status, 400)

  const renamed = await A('PATCH', `/api/contacts/${bobContact.contact.id}`, { name: 'Bobby' })
  assert.equal((renamed.body as ContactView).name, 'Bobby')
  const sn = await A('GET', `/api/contacts/${bobContact.contact.id}/safety-number`)
  assert.equal((sn.body as { digits: string }).digits.length, 60)
  const verified = await A('PUT', `/api/contacts/${bobContact.contact.id}/verified`, { verified: true })
  assert.equal((verified.body as { verified: boolean }).verified, true)

  const relay = '/ip4/127.0.0.1/tcp/4999/p2p/12D3KooWOther'
  const addRelay = await A('POST', '/api/settings/relays', { address: relay })
  assert.ok((addRelay.body as { relays: string[] }).relays.includes(relay))
  assert.equal((await A('POST', '/api/settings/relays', { address: 'not an address' })).status, 400)
  const removed = await A('DELETE', `/api/settings/relays?address=${encodeURIComponent(relay)}`)
  assert.ok(!(removed.body as { relays: string[] }).relays.includes(relay))
  assert.equal((await A('DELETE', `/api/settings/relays?address=${encodeURIComponent(relay)}`)).status, 404)
  const patched = await A('PATCH', '/api/settings', { relayOnly: true, lanDiscovery: true, fetchIsolation: 'contact' })
  assert.deepEqual({ ...(patched.body as object), relays: [] }, { relayOnly: true, lanDiscovery: true, relays: [], fetchIsolation: 'contact' })
  assert.equal((await A('PATCH', '/api/settings', { fetchIsolation: 'relay' })).status, 400, 'only device or contact')
  const status = await A('GET', '/api/status')
  assert.equal((status.body as { settings: { relayOnly: boolean } }).settings.relayOnly, true)
  assert.equal((await A('DELETE', '/api/status')).status, 405)
  assert.equal((await A('GET', '/api/nothing')).status, 404)
})

test('events: the WebSocket needs the token and the own origin', async (t) => {
  const { server } = await startServer(t, new FakeHost(new FakeNetwork(), { state: 'ready', name: 'A' }))
  const refused = async (protocols: string[], headers: Record<string, string> = {}, query = ''): Promise<number> => {
    const ws = new WebSocket(server.url.replace('http', 'ws') + '/api/events' + query, protocols, { headers })
    return await new Promise((resolve) => {
      ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); ws.terminate() })
      ws.on('open', () => { resolve(101); ws.close() })
      ws.on('error', () => { resolve(-1) })
    })
  }
  assert.equal(await refused([EVENTS_PROTOCOL]), 401)
  assert.equal(await refused([EVENTS_PROTOCOL, TOKEN_PROTOCOL_PREFIX + 'y'.repeat(43)]), 401)
  assert.equal(await refused([EVENTS_PROTOCOL, TOKEN_PROTOCOL_PREFIX + server.token], { origin: 'http://evil.example' }), 403)
  // The token is read from the subprotocol only (issue 14 item 7): not from the URL, not from a header.
  assert.equal(await refused([], {}, `?token=${server.token}`), 401)
  assert.equal(await refused([EVENTS_PROTOCOL], {}, `?token=${server.token}`), 401)
  assert.equal(await refused([EVENTS_PROTOCOL], { authorization: `Bearer ${server.token}` }), 401)
  const ok = await openEvents(server, [EVENTS_PROTOCOL, TOKEN_PROTOCOL_PREFIX + server.token], { origin: server.url })
  const first = await ok.next(() => true)
  assert.deepEqual(first, { type: 'host-state', state: 'ready' })
  ok.ws.close()
})

test('openapi.json describes every route', async (t) => {
  const { server } = await startServer(t, new FakeHost(new FakeNetwork()))
  const doc = (await call(server.url, 'GET', '/api/openapi.json', { token: server.token })).json() as { openapi: string, paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties?: object } }> } }>> }
  assert.equal(doc.openapi, '3.1.0')
  for (const p of ['/api/state', '/api/account', '/api/unlock', '/api/status', '/api/invites', '/api/contacts', '/api/contacts/{id}', '/api/contacts/{id}/messages', '/api/contacts/{id}/read', '/api/contacts/{id}/safety-number', '/api/contacts/{id}/verified', '/api/settings', '/api/settings/relays', '/api/events']) {
    assert.ok(doc.paths[p] !== undefined, p)
  }
  assert.ok(doc.paths['/api/account']?.post?.requestBody?.content['application/json']?.schema.properties !== undefined)
})

test('static files: strict CSP, nosniff, no path traversal, a clear page when the UI is not built', async (t) => {
  const root = tempDir(t, '0m1-web-')
  mkdirSync(join(root, 'assets'))
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>x</title><script type="module" src="/assets/app.js"></script>')
  writeFileSync(join(root, 'assets', 'app.js'), 'export {}')
  writeFileSync(join(tempDir(t, '0m1-secret-'), 'secret'), 'no')
  const { server } = await startServer(t, new FakeHost(new FakeNetwork()), root)
  const index = await call(server.url, 'GET', '/')
  assert.equal(index.status, 200)
  assert.match(String(index.headers['content-type']), /^text\/html/)
  const csp = String(index.headers['content-security-policy'])
  assert.match(csp, /script-src 'self'(;|$)/)
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/)
  assert.match(csp, /frame-ancestors 'none'/)
  assert.equal(index.headers['x-content-type-options'], 'nosniff')
  const js = await call(server.url, 'GET', '/assets/app.js')
  assert.match(String(js.headers['content-type']), /^text\/javascript/)
  assert.match(String(js.headers['cache-control']), /immutable/)
  assert.equal((await call(server.url, 'GET', '/../package.json')).status, 404)
  assert.equal((await call(server.url, 'GET', '/%2e%2e/%2e%2e/package.json')).status, 404)
  assert.equal((await call(server.url, 'GET', '/assets/%00')).status, 404)
  assert.equal((await call(server.url, 'POST', '/')).status, 405)

  const empty = tempDir(t, '0m1-noweb-')
  const bare = await startServer(t, new FakeHost(new FakeNetwork()), empty)
  const notBuilt = await call(bare.server.url, 'GET', '/')
  assert.equal(notBuilt.status, 503)
  assert.match(notBuilt.text, /npm run build:web/)
})

test('close() ends event clients and frees the port', async (t) => {
  const dir = tempDir(t)
  const server = await createApiServer({ host: new FakeHost(new FakeNetwork(), { state: 'ready' }), dataDir: dir, listen: '127.0.0.1:0', logger: silentLogger })
  const ev = await openEvents(server, [EVENTS_PROTOCOL, TOKEN_PROTOCOL_PREFIX + server.token])
  const closed = new Promise<number>((resolve) => { ev.ws.on('close', (code) => { resolve(code) }) })
  await server.close()
  assert.equal(await closed, 1001)
  await assert.rejects(call(server.url, 'GET', '/api/state', { token: server.token, timeoutMs: 2000 }))
})

test('a non-loopback API address is refused without the explicit opt-in; a wildcard listener still checks Host', async (t) => {
  const dir = tempDir(t)
  for (const listen of ['0.0.0.0:0', '[::]:0', '192.0.2.1:0']) {
    await assert.rejects(createApiServer({ host: new FakeHost(new FakeNetwork()), dataDir: dir, listen, logger: silentLogger }),
      (err: unknown) => ApiError.is(err, 'NOT_LOOPBACK') && /plain HTTP/.test(err.message), listen)
  }
  // With the opt-in, a wildcard listener used to skip the Host check (DNS rebinding); now it accepts
  // only loopback names and this machine's own addresses. Checked without binding a public socket.
  const checks = new RequestChecks('0.0.0.0', () => 7450, 'x'.repeat(43))
  const req = (host: string): IncomingMessage => ({ headers: { host } }) as unknown as IncomingMessage
  assert.throws(() => { checks.checkOrigin(req('evil.example:7450')) }, (err: unknown) => ApiError.is(err, 'BAD_HOST'))
  assert.throws(() => { checks.checkOrigin(req('127.0.0.1:7451')) }, (err: unknown) => ApiError.is(err, 'BAD_HOST'))
  checks.checkOrigin(req('127.0.0.1:7450'))
  checks.checkOrigin(req('localhost:7450'))
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) checks.checkOrigin(req(`${a.family === 'IPv6' ? `[${a.address}]` : a.address}:7450`))
  }
})

test('the routes load once at the first request (two at once share it); /api/state never waits for them; a failed load is 503 with no path in it and is tried again', async (t) => {
  const host = new FakeHost(new FakeNetwork())
  let loads = 0
  let fail = true
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  const real: NonNullable<Parameters<typeof createApiServer>[0]['loadRoutes']> = async (h, e) => {
    const [{ createRoutes, dispatch }, { readRawBody }] = await Promise.all([import('../../src/api/routes.ts'), import('../../src/api/file-routes.ts')])
    return { routes: createRoutes(h, e), dispatch, readRawBody }
  }
  const dir = mkdtempSync(join(tmpdir(), '0m1-api-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const server = await createApiServer({
    host, dataDir: dir, listen: '127.0.0.1:0', logger: silentLogger,
    loadRoutes: async (h, e) => {
      loads++
      await gate
      if (fail) throw new TypeError('Unknown file extension ".ts" for /home/someone/secret/routes.ts')
      return await real(h, e)
    }
  } satisfies Parameters<typeof createApiServer>[0])
  t.after(async () => { await server.close() })
  // While the load hangs, the liveness probe answers.
  const first = call(server.url, 'GET', '/api/contacts', { token: server.token })
  const second = call(server.url, 'GET', '/api/contacts', { token: server.token })
  assert.equal((await call(server.url, 'GET', '/api/state', { token: server.token })).status, 200)
  release()
  const replies = await Promise.all([first, second])
  assert.equal(loads, 1, 'two first requests share one load')
  for (const r of replies) {
    assert.equal(r.status, 503)
    assert.equal((r.json() as { error: { code: string } }).error.code, 'UNAVAILABLE')
    assert.ok(!r.text.includes('/home/') && !r.text.includes('.ts'), r.text)
  }
  // The next request tries again.
  fail = false
  // Answered by the routes now (this fake host has no account yet: 409 NO_ACCOUNT).
  const ok = await call(server.url, 'GET', '/api/contacts', { token: server.token })
  assert.equal((ok.json() as { error: { code: string } }).error.code, 'NO_ACCOUNT')
  assert.equal(loads, 2)
})
