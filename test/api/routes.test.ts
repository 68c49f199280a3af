// The route handlers without HTTP: dispatch() over the in-memory host, and the (error class, code)
// -> status table. The same routes over a real server: test/api/server.test.ts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRoutes, dispatch, type ApiRequest } from '../../src/api/routes.ts'
import type { ApiEvent, EventSink } from '../../src/api/events.ts'
import { errorReply, statusOf } from '../../src/api/status.ts'
import { E2eeError } from '../../src/e2ee/errors.ts'
import { MessengerError } from '../../src/messenger/errors.ts'
import type { Messenger } from '../../src/messenger/types.ts'
import { StoreError } from '../../src/store/errors.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { FakeHost, FakeNetwork } from '../helpers/fake-host.ts'

function sink (): EventSink & { attached: Messenger[], sent: ApiEvent[] } {
  const attached: Messenger[] = []
  const sent: ApiEvent[] = []
  return { attached, sent, attach: (m) => { attached.push(m) }, broadcast: (e) => { sent.push(e) } }
}

function request (method: string, path: string, body?: unknown): ApiRequest {
  const url = new URL(path, 'http://local')
  return { method, pathname: url.pathname, query: url.searchParams, body: async () => body ?? {} }
}

test('routes run without HTTP: create an account, patch settings (relays deduplicated), typed errors become statuses', async () => {
  const host = new FakeHost(new FakeNetwork())
  const events = sink()
  const routes = createRoutes(host, events)
  const run = async (method: string, path: string, body?: unknown): Promise<{ status: number, body?: unknown, headers?: Readonly<Record<string, string>> }> =>
    (await dispatch(routes, request(method, path, body), silentLogger)).reply

  assert.equal((await run('GET', '/api/status')).status, 409) // no account yet
  const created = await run('POST', '/api/account', { name: 'Alice' })
  assert.equal(created.status, 201)
  assert.equal(events.attached.length, 1)
  assert.deepEqual(events.sent, [{ type: 'host-state', state: 'ready' }])

  const relay = '/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWRelay'
  const patched = await run('PATCH', '/api/settings', { relays: [relay, relay] })
  assert.equal(patched.status, 200)
  assert.deepEqual((patched.body as { relays: string[] }).relays, [relay])

  const unknown = await run('GET', '/api/contacts/nobody/messages')
  assert.equal(unknown.status, 404)
  assert.equal((unknown.body as { error: { code: string } }).error.code, 'UNKNOWN_CONTACT')
  assert.equal((await run('POST', '/api/account', { name: 'Again' })).status, 409)
  assert.equal((await run('GET', '/api/nothing-here')).status, 404)

  const wrongMethod = await run('DELETE', '/api/contacts')
  assert.equal(wrongMethod.status, 405)
  assert.equal(wrongMethod.headers?.Allow, 'GET, POST')
  assert.equal((await run('PATCH', '/api/settings', { relays: 'x' })).status, 400)
})

test('status table: decided by error class and code; an untyped error with a code is a 500', () => {
  assert.equal(statusOf(new MessengerError('UNKNOWN_CONTACT', 'x')), 404)
  assert.equal(statusOf(new E2eeError('ACCOUNT_EXISTS', 'x')), 409)
  assert.equal(statusOf(new StoreError('WRONG_KEY', 'x')), 403)
  assert.equal(statusOf(new E2eeError('TAMPERED', 'x')), 422)
  // A database error carries a code that looks like ours: it must not pass for a refusal.
  const sqlite = Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' })
  assert.equal(statusOf(sqlite), undefined)
  const reply = errorReply(sqlite, silentLogger)
  assert.equal(reply.status, 500)
  assert.equal((reply.body as { error: { code: string } }).error.code, 'INTERNAL')
})

test('key change routes: compare the new safety number, block or accept; nothing pending is a 404 NO_KEY_CHANGE', async () => {
  const net = new FakeNetwork()
  const host = new FakeHost(net, { state: 'ready', name: 'Alice' })
  const bob = new FakeHost(net, { state: 'ready', name: 'Bob' })
  const routes = createRoutes(host, sink())
  const run = async (method: string, path: string, body?: unknown): Promise<{ status: number, body?: unknown }> =>
    (await dispatch(routes, request(method, path, body), silentLogger)).reply
  const alice = host.messenger()
  assert.ok(alice !== undefined)
  const added = await alice.acceptInvite((await bob.messenger()?.createInvite())?.link ?? '')
  const id = added.id
  const code = (r: { body?: unknown }): string | undefined => (r.body as { error?: { code: string } }).error?.code

  let r = await run('GET', `/api/contacts/${id}/key-change`)
  assert.deepEqual([r.status, code(r)], [404, 'NO_KEY_CHANGE'])
  const nines = { digits: '9'.repeat(60) }
  assert.deepEqual([(await run('POST', `/api/contacts/${id}/key-change/accept`, nines)).status, (await run('POST', `/api/contacts/${id}/key-change/block`, nines)).status], [404, 404])
  assert.equal((await run('GET', '/api/contacts/nobody/key-change')).status, 404)

  alice.simulateKeyChange(id)
  const listed = (await run('GET', '/api/contacts')).body as Array<{ id: string, keyChange?: { state: string, held: number } }>
  assert.deepEqual(listed.find((c) => c.id === id)?.keyChange?.state, 'pending')
  r = await run('GET', `/api/contacts/${id}/key-change`)
  assert.equal(r.status, 200)
  const seen = (r.body as { digits: string }).digits
  assert.match(seen, /^\d{60}$/)
  // The decision must name the number: none, a short one, or an unknown field is a bad request, and changes nothing.
  for (const bad of [undefined, {}, { digits: '123' }, { digits: seen, extra: 1 }]) {
    assert.equal((await run('POST', `/api/contacts/${id}/key-change/block`, bad)).status, 400, JSON.stringify(bad))
  }
  r = await run('POST', `/api/contacts/${id}/key-change/block`, { digits: seen })
  assert.equal(r.status, 200)
  assert.equal((r.body as { keyChange: { state: string } }).keyChange.state, 'blocked')
  assert.equal((await run('GET', `/api/contacts/${id}/key-change`)).status, 404, 'decided: nothing to compare')

  alice.simulateKeyChange(id)
  const compared = ((await run('GET', `/api/contacts/${id}/key-change`)).body as { digits: string }).digits
  // Another new key replaces the pending one before the click: the number the user compared is refused.
  alice.simulateKeyChange(id)
  r = await run('POST', `/api/contacts/${id}/key-change/accept`, { digits: compared })
  assert.deepEqual([r.status, code(r)], [409, 'KEY_CHANGE_MOVED'])
  assert.equal((await run('POST', `/api/contacts/${id}/key-change/block`, { digits: compared })).status, 409)
  r = await run('GET', `/api/contacts/${id}/key-change`)
  assert.equal(r.status, 200, 'still pending')
  const current = (r.body as { digits: string }).digits
  assert.notEqual(current, compared)
  r = await run('POST', `/api/contacts/${id}/key-change/accept`, { digits: (current.match(/.{5}/g) ?? []).join(' ') })
  assert.equal(r.status, 200)
  assert.deepEqual([(r.body as { keyChange: { state: string } }).keyChange.state, (r.body as { verified: boolean }).verified], ['accepted', false])
  assert.equal((await run('GET', `/api/contacts/${id}/key-change/accept`)).status, 405)
})

test('issue 13 routes: bad ids and queries are 400s with a sentence; refusals keep their status', async () => {
  const host = new FakeHost(new FakeNetwork())
  const routes = createRoutes(host, sink())
  const run = async (method: string, path: string, body?: unknown): Promise<{ status: number, body?: unknown }> =>
    (await dispatch(routes, request(method, path, body), silentLogger)).reply
  await run('POST', '/api/account', { name: 'Alice' })
  assert.equal((await run('GET', '/api/search?q=')).status, 400)
  assert.equal((await run('GET', `/api/search?q=${'x'.repeat(201)}`)).status, 400)
  assert.deepEqual((await run('GET', '/api/search?q=hello')).body, [])
  assert.equal((await run('PATCH', '/api/contacts/c1/messages/not-an-id', { text: 'x' })).status, 400)
  assert.equal((await run('DELETE', `/api/contacts/c1/messages/${'a'.repeat(32)}?for=nobody`)).status, 400)
  assert.equal((await run('PUT', '/api/contacts/c1/blocked', { blocked: 'yes' })).status, 400)
  assert.equal((await run('DELETE', '/api/invites/short-id')).status, 400)
  assert.equal((await run('POST', '/api/contacts/c1/messages', { text: 'x', replyTo: 'zz' })).status, 400)
  assert.deepEqual((await run('GET', '/api/invites')).body, [])
  assert.equal(statusOf(new MessengerError('NOT_YOURS', 'x')), 403)
  assert.equal(statusOf(new MessengerError('EDIT_WINDOW', 'x')), 409)
  assert.equal(statusOf(new MessengerError('SHORT_INVITE_KEY', 'x')), 422)
  assert.equal(statusOf(new MessengerError('SHORT_INVITE_GONE', 'x')), 410)
  assert.equal(statusOf(new MessengerError('BLOCKED', 'x')), 409)
  assert.equal(statusOf(new E2eeError('UNKNOWN_INVITE', 'x')), 404)
})
