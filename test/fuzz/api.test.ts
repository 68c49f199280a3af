// Fuzzes the local API's request bodies and queries over real HTTP: random JSON, schema-shaped objects
// with wrong-typed or huge fields, broken JSON and mutated valid bodies, to every endpoint that reads
// input. Every answer must be a deliberate one (2xx/4xx with a JSON error), never 500, and the server
// must still answer afterwards. The host behind it is the in-memory double: the subject here is the
// API's own validation, which runs before the host is called.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { createApiServer } from '../../src/api/server.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { FakeHost, FakeNetwork } from '../helpers/fake-host.ts'
import { call } from '../helpers/http.ts'
import { mutate } from './harness.ts'

const MIN_RUNS = 10_000
const RUNS = Math.max(MIN_RUNS, Number(process.env.FUZZ_RUNS ?? MIN_RUNS))

interface Endpoint { method: string, path: (id: string) => string, valid: Record<string, unknown> | undefined, query?: boolean }

const ENDPOINTS: readonly Endpoint[] = [
  { method: 'POST', path: () => '/api/account', valid: { name: 'Alice', passphrase: 'correct horse' } },
  { method: 'POST', path: () => '/api/unlock', valid: { passphrase: 'correct horse' } },
  { method: 'POST', path: () => '/api/invites', valid: { expiresInMs: 3_600_000 } },
  { method: 'POST', path: () => '/api/contacts', valid: { link: '0m1:AAAA', name: 'Bob' } },
  { method: 'PATCH', path: (id) => `/api/contacts/${id}`, valid: { name: 'Bobby' } },
  { method: 'POST', path: (id) => `/api/contacts/${id}/messages`, valid: { text: 'hello' } },
  { method: 'PUT', path: (id) => `/api/contacts/${id}/verified`, valid: { verified: true } },
  { method: 'PATCH', path: () => '/api/settings', valid: { relayOnly: true, lanDiscovery: false, relays: ['/ip4/127.0.0.1/tcp/4001'] } },
  { method: 'POST', path: () => '/api/settings/relays', valid: { address: '/ip4/127.0.0.1/tcp/4001' } },
  { method: 'GET', path: (id) => `/api/contacts/${id}/messages`, valid: undefined, query: true },
  { method: 'DELETE', path: () => '/api/settings/relays', valid: undefined, query: true }
]

const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null),
  fc.constant(''), fc.constant('x'.repeat(20_000)), fc.constant(Number.MAX_SAFE_INTEGER * 4), fc.constant(-1),
  fc.array(fc.string({ maxLength: 300 }), { maxLength: 40 }), fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 })
)

type Case = { endpoint: number, id: 'real' | 'random', body: { kind: 'json', value: unknown } | { kind: 'raw', text: string }, query: string }

function caseArb (): fc.Arbitrary<Case> {
  return fc.integer({ min: 0, max: ENDPOINTS.length - 1 }).chain((endpoint) => {
    const e = ENDPOINTS[endpoint] as Endpoint
    const valid = e.valid ?? {}
    const keys = Object.keys(valid)
    const shaped = fc.record(Object.fromEntries(keys.map((k) => [k, fc.oneof({ weight: 1, arbitrary: fc.constant(valid[k]) }, { weight: 2, arbitrary: anyValue })])), { requiredKeys: [] })
      .chain((o) => fc.option(fc.dictionary(fc.string({ maxLength: 10 }), anyValue, { maxKeys: 2 })).map((extra) => ({ ...o, ...(extra ?? {}) })))
    const body = fc.oneof(
      { weight: 4, arbitrary: shaped.map((value) => ({ kind: 'json' as const, value })) },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((value) => ({ kind: 'json' as const, value })) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }).map((text) => ({ kind: 'raw' as const, text })) },
      {
        weight: 2,
        arbitrary: fc.tuple(fc.array(fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }), { minLength: 1, maxLength: 3 }))
          .map(([ms]) => ({ kind: 'raw' as const, text: new TextDecoder().decode(mutate(new TextEncoder().encode(JSON.stringify(valid)), ms)) }))
      }
    )
    const query = e.method === 'GET'
      ? fc.record({ limit: fc.oneof(fc.constant(''), fc.integer().map(String), fc.string({ maxLength: 12 })), before: fc.oneof(fc.integer().map(String), fc.string({ maxLength: 12 })) }, { requiredKeys: [] }).map((q) => new URLSearchParams(q as Record<string, string>).toString())
      : fc.oneof(fc.constant('address=%2Fip4%2F127.0.0.1%2Ftcp%2F4001'), fc.string({ maxLength: 40 }).map((s) => `address=${encodeURIComponent(s)}`), fc.constant(''))
    return fc.record({
      endpoint: fc.constant(endpoint),
      id: fc.constantFrom('real' as const, 'random' as const),
      body,
      query: e.query === true ? query : fc.constant('')
    })
  })
}

test(`fuzz: local API request bodies and queries — ${RUNS} requests, never a 500`, { timeout: 60_000 + RUNS * 20 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), '0m1-fuzz-api-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const net = new FakeNetwork()
  net.stepMs = 0
  const host = new FakeHost(net, { state: 'ready', name: 'Me' })
  const peer = new FakeHost(net, { state: 'ready', name: 'Peer' })
  const invite = await peer.messenger()!.createInvite()
  const contact = await host.messenger()!.acceptInvite(invite.link)
  const server = await createApiServer({ host, dataDir: join(dir, 'a'), listen: '127.0.0.1:0', logger: silentLogger })
  t.after(async () => { await server.close() })

  const statuses: Record<number, number> = {}
  const started = performance.now()
  await fc.assert(fc.asyncProperty(caseArb(), async (c) => {
    const e = ENDPOINTS[c.endpoint] as Endpoint
    const id = c.id === 'real' ? contact.id : 'no-such-contact'
    const path = e.path(encodeURIComponent(id)) + (c.query === '' ? '' : `?${c.query}`)
    const r = await call(server.url, e.method, path, {
      token: server.token,
      ...(e.method === 'GET' || e.method === 'DELETE' ? {} : c.body.kind === 'json' ? { body: c.body.value } : { rawBody: c.body.text, headers: { 'content-type': 'application/json' } })
    })
    statuses[r.status] = (statuses[r.status] ?? 0) + 1
    assert.ok(r.status >= 200 && r.status < 500, `${e.method} ${e.path(':id')} answered ${r.status}: ${r.text.slice(0, 300)}`)
    if (r.status >= 400) {
      const body = r.json() as { error?: { code?: unknown, message?: unknown } }
      assert.equal(typeof body.error?.code, 'string')
      assert.equal(typeof body.error?.message, 'string')
    }
  }), { numRuns: RUNS })
  const ms = Math.round(performance.now() - started)
  console.log(`fuzz api: ${RUNS} requests in ${ms} ms; statuses ${Object.entries(statuses).map(([k, v]) => `${k}=${v}`).join(' ')}`)
  // Still serving.
  assert.equal((await call(server.url, 'GET', '/api/state', { token: server.token })).status, 200)
})
