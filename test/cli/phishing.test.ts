// Issue 14 item 5: after a crash, api.json still names the dead node's TCP port. A local process that
// binds that port must never receive the API token: the CLI speaks to the node only over its Unix
// socket in the data directory (0700, socket 0600), and the token is new at every start.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { chmodSync, existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { main } from '../../src/cli/main.ts'
import type { CliRuntime } from '../../src/cli/runtime.ts'
import { API_INFO_FILE } from '../../src/api/discovery.ts'
import { ApiClient } from '../../src/api/client.ts'
import { ApiError } from '../../src/api/errors.ts'
import { API_SOCKET_FILE } from '../../src/api/socket.ts'
import { TOKEN_FILE } from '../../src/api/token.ts'
import { FakeHost, FakeNetwork } from '../helpers/fake-host.ts'

interface Started { token: string, port: number, stop: () => Promise<number> }

function cli (host: FakeHost): { run: (...argv: string[]) => Promise<{ code: number, out: string, err: string }>, start: (dir: string) => Promise<Started> } {
  const runtime = (out: string[], err: string[], extra: Partial<CliRuntime> = {}): CliRuntime => ({
    stdout: (s) => { out.push(s) },
    stderr: (s) => { err.push(s) },
    env: { ZEROM1_LOG: 'silent' },
    createDeviceHost: async () => { host.messenger()?.reopen(); return host },
    initAccount: async () => { throw new Error('not used') },
    startRelay: async () => { throw new Error('not used') },
    waitForStop: async () => { await new Promise(() => {}) },
    ...extra
  })
  return {
    run: async (...argv) => {
      const out: string[] = []
      const err: string[] = []
      const code = await main(argv, runtime(out, err))
      return { code, out: out.join(''), err: err.join('') }
    },
    start: async (dir) => {
      let stop!: () => void
      const stopped = new Promise<void>((resolve) => { stop = resolve })
      let ready!: (info: Record<string, unknown>) => void
      const isReady = new Promise<Record<string, unknown>>((resolve) => { ready = resolve })
      const err: string[] = []
      const done = main(['start', '--data', dir, '--api', '127.0.0.1:0'], runtime([], err, { waitForStop: async () => { await stopped }, onReady: (i) => { ready(i) } }))
      const info = await Promise.race([isReady, done.then((code) => { throw new Error(`start exited ${code}: ${err.join('')}`) })])
      const ui = new URL(String(info.uiUrl))
      return { token: ui.hash.slice('#token='.length), port: Number(ui.port), stop: async () => { stop(); return await done } }
    }
  }
}

/** A process that listens on `path` and dies by SIGKILL: leaves the socket file a crashed node leaves. */
async function staleSocket (path: string): Promise<void> {
  const child = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`], { stdio: 'ignore' })
  await new Promise((resolve) => { child.on('exit', resolve) })
}

/** The phisher: binds the dead node's port, answers like a node, and keeps every byte it is sent. */
async function phisher (t: { after: (fn: () => Promise<void>) => void }, port: number): Promise<{ received: () => string, connections: () => number }> {
  let data = ''
  let connections = 0
  const sockets = new Set<Socket>()
  const server = createServer((s) => {
    connections++
    sockets.add(s)
    s.on('data', (d: Buffer) => {
      data += d.toString('latin1')
      s.end('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\nConnection: close\r\n\r\n{"state":"ready"}')
    })
    s.on('error', () => {})
  })
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', resolve) })
  t.after(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  })
  return { received: () => data, connections: () => connections }
}

test('after a crash, a process on the stale port never receives the token; every start makes a new token', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), '0m1-phish-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const host = new FakeHost(new FakeNetwork(), { state: 'ready', name: 'Alice' })
  const c = cli(host)

  const first = await c.start(dir)
  assert.equal(readFileSync(join(dir, TOKEN_FILE), 'utf8').trim(), first.token)
  assert.equal((await c.run('status', '--data', dir)).code, 0, 'the CLI reaches the running node')
  const socketPath = join(dir, API_SOCKET_FILE)
  const apiInfo = readFileSync(join(dir, API_INFO_FILE), 'utf8')
  assert.equal(await first.stop(), 0)

  // The crash: api.json (naming a live pid), api.token and the socket file stay behind.
  writeFileSync(join(dir, API_INFO_FILE), apiInfo.replace(/"pid":\d+/, `"pid":${process.pid}`))
  await staleSocket(socketPath)
  assert.ok(existsSync(join(dir, TOKEN_FILE)))
  const fake = await phisher(t, first.port)

  const replies = []
  for (const argv of [['contacts', 'list'], ['status'], ['send', 'Bob', 'hello']]) replies.push(await c.run(...argv, '--data', dir))
  assert.ok(!fake.received().includes(first.token), 'the stale port received the token')
  assert.equal(fake.connections(), 0, 'nothing ever connected to the stale port')
  for (const r of replies) {
    assert.equal(r.code, 1, r.err)
    assert.match(r.err, /^0message1: No node (is running|answers)/)
  }
  // `start` checks for a running node first: that probe must not hand the token over either.
  const second = await c.start(dir)
  t.after(async () => { await second.stop() })
  assert.ok(!fake.received().includes(first.token), 'the start probe sent the token to the stale port')
  assert.equal(fake.connections(), 0, 'nothing ever connected to the stale port')
  assert.ok(lstatSync(socketPath).isSocket())
  assert.equal(statSync(socketPath).mode & 0o777, 0o600)
  assert.equal(statSync(dir).mode & 0o777, 0o700)

  assert.notEqual(second.token, first.token, 'a new token at every start')
  assert.equal(readFileSync(join(dir, TOKEN_FILE), 'utf8').trim(), second.token)
  assert.equal((await c.run('status', '--data', dir)).code, 0, 'the CLI reaches the new node through its socket')
  assert.ok(!fake.received().includes(second.token))
})

test('the CLI sends no token to an api.sock that is not a private socket of this user', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), '0m1-phish-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  writeFileSync(join(dir, TOKEN_FILE), 'A'.repeat(43) + '\n', { mode: 0o600 })
  const c = cli(new FakeHost(new FakeNetwork(), { state: 'ready', name: 'Alice' }))
  // Not a socket at all.
  writeFileSync(join(dir, API_SOCKET_FILE), '')
  assert.throws(() => ApiClient.forDataDir(dir), (err: unknown) => ApiError.is(err, 'SOCKET_UNSAFE'))
  const r = await c.run('status', '--data', dir)
  assert.equal(r.code, 1)
  assert.match(r.err, /is not a private socket of yours, so the token is not sent to it/)
  // A socket, but in a directory others can enter.
  rmSync(join(dir, API_SOCKET_FILE))
  await staleSocket(join(dir, API_SOCKET_FILE))
  chmodSync(dir, 0o755)
  assert.throws(() => ApiClient.forDataDir(dir), (err: unknown) => ApiError.is(err, 'SOCKET_UNSAFE'))
  chmodSync(dir, 0o700)
  // A private socket nobody listens on (a crash) passes the check and then finds no node.
  await assert.rejects(ApiClient.forDataDir(dir).state(), (err: unknown) => ApiError.is(err, 'NOT_RUNNING'))
})
