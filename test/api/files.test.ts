// Issue 12: the file routes over real messenger hosts (no HTTP: dispatch), both ends real.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFileSync, truncateSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { createRoutes, dispatch, type ApiRequest } from '../../src/api/routes.ts'
import type { EventSink } from '../../src/api/events.ts'
import { sendJson } from '../../src/api/static-files.ts'
import type { FileView } from '../../src/messenger/files/types.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { createPeople, tempDir, type Person } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'

const sink: EventSink = { attach: () => {}, broadcast: () => {} }

function request (method: string, path: string, o: { body?: unknown, raw?: Buffer } = {}): ApiRequest {
  const url = new URL(path, 'http://local')
  return {
    method,
    pathname: url.pathname,
    query: url.searchParams,
    body: async () => o.body ?? {},
    raw: async (max) => { if ((o.raw?.length ?? 0) > max) throw new Error('over'); return o.raw ?? Buffer.alloc(0) }
  }
}

test('file routes: send by path and by upload, list with states, content with safe headers, save, typed refusals', { timeout: 120_000 }, async (t) => {
  const { people: [alice, bob], contact } = await createPeople(t, { relays: 1 }) as unknown as { people: [Person, Person], contact: (a: Person, b: Person) => string }
  const run = async (p: Person, method: string, path: string, o: { body?: unknown, raw?: Buffer } = {}): Promise<{ status: number, body?: unknown, headers?: Readonly<Record<string, string>> }> =>
    (await dispatch(createRoutes(p.host, sink), request(method, path, o), silentLogger)).reply
  const dir = tempDir(t, '0m1-api-files-')
  const doc = join(dir, 'report.pdf')
  const bytes = randomBytes(200_000)
  writeFileSync(doc, bytes)

  const sent = await run(alice, 'POST', `/api/contacts/${contact(alice, bob)}/files`, { body: { path: doc, text: 'the report' } })
  assert.equal(sent.status, 201)
  const { message, file } = sent.body as { message: { id: string, text: string }, file: FileView }
  assert.equal(message.text, 'the report')
  assert.equal(file.type, 'application/pdf')
  const uploaded = await run(alice, 'POST', `/api/contacts/${contact(alice, bob)}/files/upload?name=dot.png`, { raw: randomBytes(5000) })
  assert.equal(uploaded.status, 201)
  const png = (uploaded.body as { file: FileView }).file
  assert.equal(png.name, 'dot.png')

  const listed = await waitFor(async () => {
    const r = await run(bob, 'GET', `/api/contacts/${contact(bob, alice)}/files`)
    const list = r.body as FileView[]
    return list.length === 2 && list.every((f) => f.state === 'delivered') ? list : undefined
  }, 'bob has both files', 60_000)
  assert.deepEqual(listed.map((f) => f.name).sort(), ['dot.png', 'report.pdf'])

  const content = await run(bob, 'GET', `/api/files/${message.id}/content`)
  assert.equal(content.status, 200)
  // Streamed chunk by chunk, not one buffer of the whole file.
  assert.ok(content.body instanceof Readable)
  const chunks: Buffer[] = []
  for await (const c of content.body as AsyncIterable<Buffer>) chunks.push(c)
  assert.ok(chunks.length > 1, 'more than one chunk')
  assert.ok(Buffer.concat(chunks).equals(bytes))
  assert.equal(content.headers?.['Content-Length'], String(bytes.length))
  assert.equal(content.headers?.['Content-Type'], 'application/octet-stream', 'a PDF is a download, never rendered')
  assert.match(content.headers?.['Content-Disposition'] ?? '', /^attachment; filename\*=UTF-8''report\.pdf$/)
  const image = await run(bob, 'GET', `/api/files/${png.messageId}/content`)
  assert.equal(image.headers?.['Content-Type'], 'image/png')
  ;(image.body as Readable).destroy()

  const out = join(dir, 'saved.pdf')
  assert.equal((await run(bob, 'POST', `/api/files/${message.id}/save`, { body: { out } })).status, 200)
  assert.ok(readFileSync(out).equals(bytes))

  // Refusals, each typed: a bad id, an unknown one, a relative path, a name with a separator, a file over the limit.
  assert.equal((await run(bob, 'GET', '/api/files/not-an-id')).status, 400)
  assert.equal((await run(bob, 'GET', `/api/files/${'0'.repeat(32)}`)).status, 404)
  assert.equal((await run(alice, 'POST', `/api/contacts/${contact(alice, bob)}/files`, { body: { path: 'relative.txt' } })).status, 400)
  assert.equal((await run(alice, 'POST', `/api/contacts/${contact(alice, bob)}/files/upload?name=../x`, { raw: randomBytes(10) })).status, 400)
  const big = join(dir, 'big.bin')
  writeFileSync(big, '')
  truncateSync(big, 100 * 1024 * 1024 + 1)
  const refused = await run(alice, 'POST', `/api/contacts/${contact(alice, bob)}/files`, { body: { path: big } })
  assert.equal(refused.status, 413)
  assert.match((refused.body as { error: { message: string } }).error.message, /files may be at most 100 MB; nothing was sent\.$/)

  // Deleted for everyone by its sender: the receiver's content route no longer serves it.
  assert.equal((await run(alice, 'DELETE', `/api/contacts/${contact(alice, bob)}/messages/${message.id}?for=everyone`)).status, 200)
  await waitFor(async () => (await run(bob, 'GET', `/api/files/${message.id}/content`)).status === 404 ? true : undefined, 'bob no longer serves the deleted file', 30_000)
  assert.equal((await run(bob, 'GET', `/api/files/${message.id}`)).status, 404)
})

test('a streamed reply goes out chunk by chunk with its Content-Length; a stream that fails mid-way cuts the response short', async (t) => {
  const parts = [randomBytes(1000), randomBytes(2000)]
  let fail = false
  const server = createServer((_req, res) => {
    async function * body (): AsyncGenerator<Buffer> {
      yield parts[0] as Buffer
      if (fail) throw new Error('altered')
      yield parts[1] as Buffer
    }
    sendJson(res, { status: 200, body: Readable.from(body()), headers: { 'Content-Length': '3000', 'Content-Type': 'application/octet-stream' } })
  })
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  t.after(() => { server.close() })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  const ok = await fetch(url)
  assert.equal(ok.status, 200)
  assert.ok(Buffer.from(await ok.arrayBuffer()).equals(Buffer.concat(parts)))
  fail = true
  const cut = await fetch(url)
  await assert.rejects(cut.arrayBuffer())
})
