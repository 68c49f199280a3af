// The web UI's calls to its node (web/src/api.ts) end within their bound: a call whose answer never comes used to
// wait for as long as the page stayed open, and with it what waits on it (a conversation's reload and the events
// kept to replay over its answer, web/src/message-list.ts). Run against a local HTTP server that never answers,
// or that sends its headers and then never ends the body.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Api, ApiFailure, CALL_TIMEOUT, NODE_DOWN } from '../../web/src/api.ts'

async function server (t: { after: (fn: () => unknown) => void }, answer: (res: ServerResponse) => void): Promise<string> {
  const open: ServerResponse[] = []
  const s = createServer((_req, res) => { open.push(res); answer(res) })
  await new Promise<void>((resolve) => { s.listen(0, '127.0.0.1', resolve) })
  t.after(async () => {
    for (const r of open) r.destroy()
    s.closeAllConnections()
    await new Promise<void>((resolve) => { s.close(() => { resolve() }) })
  })
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`
}

async function failure (p: Promise<unknown>): Promise<ApiFailure> {
  try {
    await p
  } catch (err) {
    assert.ok(err instanceof ApiFailure, `an ApiFailure, got ${String(err)}`)
    return err
  }
  assert.fail('the call should have failed')
}

test('web api: a call whose answer never starts fails with CALL_TIMEOUT after its bound', { timeout: 10_000 }, async (t) => {
  const base = await server(t, () => {})
  const api = new Api('token', { timeoutMs: 300 })
  const err = await failure(api.call('GET', `${base}/api/contacts/c1/messages`))
  assert.equal(err.code, CALL_TIMEOUT)
})

test('web api: a call whose body never ends fails with CALL_TIMEOUT, not as an unreadable answer', { timeout: 10_000 }, async (t) => {
  const base = await server(t, (res) => { res.writeHead(200, { 'Content-Type': 'application/json' }); res.write('[{"id":') })
  const api = new Api('token', { timeoutMs: 300 })
  const err = await failure(api.call('GET', `${base}/api/contacts`))
  assert.equal(err.code, CALL_TIMEOUT)
})

test('web api: an answer in time is read as before; no node at all is NODE_DOWN', async (t) => {
  const base = await server(t, (res) => { res.writeHead(200, { 'Content-Type': 'application/json' }); res.end('{"state":"ready"}') })
  const api = new Api('token', { timeoutMs: 5_000 })
  assert.deepEqual(await api.call('GET', `${base}/api/state`), { state: 'ready' })
  const closed = createServer()
  await new Promise<void>((resolve) => { closed.listen(0, '127.0.0.1', resolve) })
  const port = (closed.address() as AddressInfo).port
  await new Promise<void>((resolve) => { closed.close(() => { resolve() }) })
  const down = await failure(api.call('GET', `http://127.0.0.1:${port}/api/state`))
  assert.equal(down.code, NODE_DOWN)
})
