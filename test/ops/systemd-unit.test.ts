// deploy/0message1-relay.service (issue 13.2): `systemd-analyze verify` accepts it, it carries the hardening
// the operations guide promises, and its ExecStart is a command line the CLI accepts as written.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { main } from '../../src/cli/main.ts'
import type { CliRuntime, RelayFactoryOptions } from '../../src/cli/runtime.ts'
import { binLaunch } from '../helpers/launch.ts'

const UNIT = fileURLToPath(new URL('../../deploy/0message1-relay.service', import.meta.url))
const text = readFileSync(UNIT, 'utf8')

/** `Key=value` lines of one section, in order (a key may repeat). */
function section (name: string): Array<[string, string]> {
  const out: Array<[string, string]> = []
  let inside = false
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line.startsWith('[')) { inside = line === `[${name}]`; continue }
    if (!inside || line === '' || line.startsWith('#')) continue
    const at = line.indexOf('=')
    out.push([line.slice(0, at), line.slice(at + 1)])
  }
  return out
}

test('systemd unit: systemd-analyze verify accepts it', (t) => {
  const probe = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' })
  if (probe.error !== undefined) {
    // The one acceptable skip: the tool is not installed here (not a Linux host with systemd).
    t.skip('systemd-analyze is not installed on this machine')
    return
  }
  const r = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8', timeout: 60_000 })
  assert.equal(r.status, 0, `verify failed:\n${r.stdout}${r.stderr}`)
  // Warnings (a bad user name, an unknown key) come out on stderr with status 0: none is accepted either.
  assert.equal(r.stderr.trim(), '', r.stderr)
})

test('systemd unit: dedicated user, read-only system, no privilege gain, its own state directory, restarts', () => {
  const service = new Map(section('Service'))
  const expect: Record<string, string> = {
    DynamicUser: 'yes',
    NoNewPrivileges: 'yes',
    ProtectSystem: 'strict',
    ProtectHome: 'yes',
    PrivateTmp: 'yes',
    PrivateDevices: 'yes',
    StateDirectory: '0message1-relay',
    StateDirectoryMode: '0700',
    Restart: 'on-failure',
    CapabilityBoundingSet: ''
  }
  for (const [k, v] of Object.entries(expect)) assert.equal(service.get(k), v, k)
  assert.match(service.get('User') ?? '', /^[a-z][a-z0-9-]*$/)
  assert.ok(!section('Service').some(([k]) => k === 'ReadWritePaths'), 'nothing writable but the state directory')
  // The compiled JavaScript through bin/, never a TypeScript loader.
  const exec = service.get('ExecStart') ?? ''
  assert.match(exec, /^\/usr\/bin\/node \/opt\/0message1\/bin\/0message1\.js relay /)
  assert.ok(!/tsx|\.ts\b/.test(exec), exec)
})

test('systemd unit: Node starts as the bin\'s first line says (its environment; it runs Node directly, not through that line)', () => {
  const launch = binLaunch()
  const env = new Map(section('Service').filter(([k]) => k === 'Environment').map(([, v]) => {
    const at = v.indexOf('=')
    return [v.slice(0, at), v.slice(at + 1)]
  }))
  assert.ok(Object.keys(launch.env).length > 0)
  for (const [k, v] of Object.entries(launch.env)) assert.equal(env.get(k), v, k)
  // Node's own flags would go before the script on ExecStart.
  const exec = new Map(section('Service')).get('ExecStart') ?? ''
  assert.ok(exec.startsWith(['/usr/bin/node', ...launch.execArgv, '/opt/0message1/bin/0message1.js'].join(' ') + ' '), exec)
})

test('systemd unit: the CLI accepts its ExecStart as written (data in the state directory, metrics on loopback)', async () => {
  const exec = new Map(section('Service')).get('ExecStart') ?? ''
  const argv = exec.split(/\s+/).slice(2).filter((a) => a !== '$RELAY_ARGS')
  let seen: RelayFactoryOptions | undefined
  const rt: CliRuntime = {
    stdout: () => {},
    stderr: (s) => { assert.fail(s) },
    env: {},
    createDeviceHost: async () => { throw new Error('unused') },
    initAccount: async () => { throw new Error('unused') },
    // Not started: the options the relay would get are what this test checks.
    startRelay: async (o) => { seen = o; return { peerId: 'relay', addresses: [], stop: async () => {} } },
    waitForStop: async () => {}
  }
  const dataArg = argv.indexOf('--data')
  assert.equal(argv[dataArg + 1], '/var/lib/0message1-relay', 'the data directory is the StateDirectory')
  // Run with a throwaway data directory in place of /var/lib (this test does not run as the relay's user).
  const { mkdtempSync, rmSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path') // eslint-disable-line @typescript-eslint/unbound-method -- a plain function
  const dir = mkdtempSync(join(tmpdir(), '0m1-unit-'))
  try {
    argv[dataArg + 1] = dir
    assert.equal(await main(argv, rt), 0)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  assert.ok(seen !== undefined)
  assert.equal(seen.dataDir, dir)
  assert.deepEqual(seen.listen, ['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/tcp/4002/ws'])
  assert.equal(seen.metrics, '127.0.0.1:9464')
  assert.equal(seen.stun, 3478)
  // Alone in its process: the relay sets its buffer pool and runs its heap trimmer (src/relay/service.ts).
  assert.equal(seen.ownProcess, true)
})
