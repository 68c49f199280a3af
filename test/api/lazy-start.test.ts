// Issue 10 (device.idle_rss): what `0message1 start` loads before anyone uses the API. The API's routes (zod, the
// schemas, the OpenAPI document) load on the first request other than GET /api/state, and the relay's STUN server
// only for `relay`; an idle device holds none of it. The routes themselves are tested through the server in
// server.test.ts, routes.test.ts and the others: they work on first use.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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

/** A device started in a fresh process with no relay and no bootstrap peer (nothing to publish presence to or look it
 * up from), created and then opened again as `start` opens it; the module URLs V8 parsed up to then, and after kad-dht
 * is imported (so the test sees that it would find it). */
const IDLE_DEVICE = `
import inspector from 'node:inspector'
const session = new inspector.Session()
session.connect()
const urls = []
session.on('Debugger.scriptParsed', (m) => { urls.push(m.params.url) })
await new Promise((resolve) => { session.post('Debugger.enable', resolve) })
const { createDeviceHost } = await import('./src/messenger/host.ts')
const { silentLogger } = await import('./src/platform/logger.ts')
const o = { dataDir: process.env.IDLE_DIR, listen: ['/ip4/127.0.0.1/tcp/0'], relays: [], logger: silentLogger }
const first = await createDeviceHost(o)
await first.createAccount({ name: 'idle' })
await first.stop()
const host = await createDeviceHost(o)
if (host.state() !== 'ready') throw new Error('the device did not open: ' + host.state())
await host.messenger().status()
// The relay keeper's check, which runs every minute and, below its target, looks for relays in the DHT: run now, to its end.
await host.updateRelayPrefs({})
if (host.relayKeeper()?.lastCheckAt === undefined) throw new Error('the relay check did not run')
const idle = urls.slice()
await host.stop()
await import('@libp2p/kad-dht')
process.stdout.write(JSON.stringify({ idle, after: urls }))
`

test('an idle device (no relay, no bootstrap peer) never loads kad-dht', { timeout: 120_000 }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), '0m1-idle-dht-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', './src/platform/shims.ts', '--input-type=module', '-e', IDLE_DEVICE],
    { cwd: ROOT, encoding: 'utf8', timeout: 110_000, env: { ...process.env, IDLE_DIR: dir } })
  assert.equal(r.status, 0, r.stderr)
  const { idle, after } = JSON.parse(r.stdout) as { idle: string[], after: string[] }
  const kad = (u: string): boolean => u.includes('/node_modules/@libp2p/kad-dht/')
  assert.ok(idle.some((u) => u.endsWith('/src/net/libp2p.ts')), 'the device started its network (libp2p.ts is in the list)')
  assert.ok(after.some(kad), 'the list would show kad-dht once loaded')
  assert.deepEqual(idle.filter(kad), [])
})
