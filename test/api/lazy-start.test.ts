// Issue 10 (device.idle_rss): what `0message1 start` loads before anyone uses the API. The API's routes (zod, the
// schemas, the OpenAPI document) load on the first request other than GET /api/state, and the relay's STUN server
// only for `relay`; an idle device holds none of it. The routes themselves are tested through the server in
// server.test.ts, routes.test.ts and the others: they work on first use.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** Loads what `start` loads (the CLI, the daemon commands, the API server), in a fresh process, and lists the
 * module URLs V8 parsed. */
const SCRIPT = `
import inspector from 'node:inspector'
const session = new inspector.Session()
session.connect()
const urls = []
session.on('Debugger.scriptParsed', (m) => { urls.push(m.params.url) })
await new Promise((resolve) => { session.post('Debugger.enable', resolve) })
await import('./src/cli/main.ts')
await import('./src/cli/daemon.ts')
await import('./src/api/server.ts')
await import('./src/api/discovery.ts')
await import('./src/messenger/host.ts')
process.stdout.write(JSON.stringify(urls))
`

test('start loads neither the API routes nor zod nor the relay STUN server', { timeout: 120_000 }, () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT], { cwd: ROOT, encoding: 'utf8', timeout: 110_000 })
  assert.equal(r.status, 0, r.stderr)
  const urls = JSON.parse(r.stdout) as string[]
  assert.ok(urls.some((u) => u.endsWith('/src/api/server.ts')), 'the module list is read (the server is in it)')
  const early = urls.filter((u) => /\/node_modules\/(zod|@msimerson\/stun)\/|\/src\/api\/(routes|schemas|openapi|file-routes)\.ts$|\/src\/relay\//.test(u))
  assert.deepEqual(early, [])
})
