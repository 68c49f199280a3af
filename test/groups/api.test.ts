// Issue 11 surfaces over real nodes: the group endpoints of the local API (dispatch, no HTTP) — create, list,
// get, rename, add, send, messages with per-member states, promote, remove, leave — and the refusals.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRoutes, dispatch } from '../../src/api/routes.ts'
import type { EventSink } from '../../src/api/events.ts'
import { openApiDocument } from '../../src/api/openapi.ts'
import { resolveGroup } from '../../src/cli/groups.ts'
import type { GroupMessageView, GroupView } from '../../src/messenger/groups/types.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { three } from '../helpers/groups.ts'
import { type Person } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'

const sink: EventSink = { attach: () => {}, broadcast: () => {} }

function api (p: Person): (method: string, path: string, body?: unknown) => Promise<{ status: number, body: unknown }> {
  return async (method, path, body) => {
    const url = new URL(path, 'http://x')
    const { reply } = await dispatch(createRoutes(p.host, sink), { method, pathname: url.pathname, query: url.searchParams, body: async () => body }, silentLogger)
    return { status: reply.status, body: reply.body }
  }
}

test('group API on real nodes: the whole life of a group', async (t) => {
  const { alice, bob, carol, ab, ac } = await three(t)
  const a = api(alice)
  const b = api(bob)

  const created = await a('POST', '/api/groups', { name: 'team', members: [ab.aToB] })
  assert.equal(created.status, 201)
  const gid = (created.body as GroupView).id
  await waitFor(async () => ((await b('GET', `/api/groups/${gid}`)).body as GroupView).members?.length === 2, 'bob joins', 60_000)
  assert.equal((await a('POST', `/api/groups/${gid}/members`, { contactId: ac.aToB })).status, 202)
  await waitFor(async () => ((await b('GET', `/api/groups/${gid}`)).body as GroupView).members?.length === 3, 'carol joins', 60_000)

  assert.equal((await b('PATCH', `/api/groups/${gid}`, { name: 'mine' })).status, 403, 'a non-admin cannot rename')
  assert.equal((await a('PATCH', `/api/groups/${gid}`, { name: 'team 2' })).status, 200)
  await waitFor(async () => ((await b('GET', '/api/groups')).body as GroupView[])[0]?.name === 'team 2', 'bob sees the new name', 30_000)

  const sent = (await a('POST', `/api/groups/${gid}/messages`, { text: 'hello team' })).body as GroupMessageView
  const done = await waitFor(async () => {
    const list = (await a('GET', `/api/groups/${gid}/messages`)).body as GroupMessageView[]
    const m = list.find((x) => x.id === sent.id)
    return m?.delivery?.delivered === 2 ? m : undefined
  }, 'delivered to 2 of 2', 30_000)
  assert.ok(done.delivery?.members.every((x) => x.path !== undefined), 'a path per member')
  assert.equal((await b('POST', `/api/groups/${gid}/read`)).status, 204)
  await waitFor(async () => (((await a('GET', `/api/groups/${gid}/messages`)).body as GroupMessageView[]).find((x) => x.id === sent.id)?.delivery?.read ?? 0) >= 1, 'read by 1 of 2', 30_000)

  const bobAccount = (await bob.m().status()).accountId
  assert.equal((await a('POST', `/api/groups/${gid}/admins/${bobAccount}`)).status, 200)
  const carolAccount = (await carol.m().status()).accountId
  await waitFor(async () => ((await b('GET', `/api/groups/${gid}`)).body as GroupView).admin, 'bob is admin', 30_000)
  assert.equal((await b('DELETE', `/api/groups/${gid}/members/${carolAccount}`)).status, 200)
  await waitFor(async () => ((await a('GET', `/api/groups/${gid}`)).body as GroupView).members.length === 2, 'alice sees carol removed', 30_000)
  assert.equal((await b('POST', `/api/groups/${gid}/leave`)).status, 200)
  await waitFor(async () => ((await a('GET', `/api/groups/${gid}`)).body as GroupView).members.length === 1, 'alice sees bob leave', 30_000)
  assert.equal((await b('POST', `/api/groups/${gid}/messages`, { text: 'x' })).status, 403, 'a former member cannot send')
  assert.equal((await a('GET', '/api/groups/00000000000000000000000000000000')).status, 404)
  assert.equal((await a('GET', '/api/groups/not-an-id')).status, 400)

  // The CLI's lookup by id or name, and the OpenAPI document names every group path.
  const groups = (await a('GET', '/api/groups')).body as GroupView[]
  assert.equal(resolveGroup(groups, 'TEAM 2').id, gid)
  assert.throws(() => resolveGroup(groups, 'nope'), /No contact matches/)
  const paths = Object.keys((openApiDocument() as { paths: Record<string, unknown> }).paths)
  for (const p of ['/api/groups', '/api/groups/{id}', '/api/groups/{id}/members', '/api/groups/{id}/members/{member}', '/api/groups/{id}/admins/{member}', '/api/groups/{id}/leave', '/api/groups/{id}/messages', '/api/groups/{id}/read']) assert.ok(paths.includes(p), p)
})
