// `0message1 relay --announce MA` (issue 13.2): a relay behind port forwarding or a cloud NAT advertises the
// address devices dial, not its listen address, and prints exactly that address with its peer id.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startRelay } from '../../src/relay/service.ts'
import { main } from '../../src/cli/main.ts'
import { defaultRuntime, type CliRuntime } from '../../src/cli/runtime.ts'
import { announceAddresses } from '../../src/cli/relay-options.ts'
import { CliError } from '../../src/cli/errors.ts'
import { createLogger } from '../../src/platform/logger.ts'

const ANNOUNCED = '/ip4/11.22.33.44/tcp/4001'

test('relay --announce: the node advertises the announced address, not its listen address', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), '0m1-announce-'))
  const relay = await startRelay({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], announce: [ANNOUNCED], logger: createLogger({ level: 'silent' }), stun: 'off' })
  t.after(async () => { await relay.stop(); rmSync(dir, { recursive: true, force: true }) })
  assert.deepEqual(relay.addresses, [`${ANNOUNCED}/p2p/${relay.peerId}`])
  assert.deepEqual(relay.libp2p.getMultiaddrs().map((m) => m.toString()), [`${ANNOUNCED}/p2p/${relay.peerId}`])
})

test('relay --announce: the CLI prints the exact address to hand out, and the metrics address', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), '0m1-announce-cli-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const out: string[] = []
  const err: string[] = []
  let stop = (): void => {}
  const stopped = new Promise<void>((resolve) => { stop = resolve })
  const ready = Promise.withResolvers<Record<string, unknown>>()
  const rt: CliRuntime = {
    ...defaultRuntime(),
    stdout: (s) => { out.push(s) },
    stderr: (s) => { err.push(s) },
    env: {},
    waitForStop: async () => { await stopped },
    onReady: (i) => { ready.resolve(i) }
  }
  const done = main(['relay', '--data', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--announce', ANNOUNCED, '--stun', 'off', '--metrics', '127.0.0.1:0', '--log-level', 'silent'], rt)
  const info = await Promise.race([ready.promise, done.then((code) => { throw new Error(`relay exited ${code}: ${err.join('')}`) })])
  const peerId = String(info.peerId)
  const text = out.join('')
  const handOut = `${ANNOUNCED}/p2p/${peerId}`
  assert.deepEqual(info.addresses, [handOut])
  assert.ok(text.split('\n').includes(handOut), text)
  assert.ok(!text.includes('127.0.0.1/tcp'), 'the listen address is not what devices are told to dial')
  assert.match(text, /^Metrics: http:\/\/127\.0\.0\.1:\d+\/metrics \(health: http:\/\/127\.0\.0\.1:\d+\/healthz\)$/m)
  const health = await fetch(`${String(info.metrics)}/healthz`)
  assert.equal(health.status, 200)
  stop()
  assert.equal(await done, 0)
})

test('relay --announce and --metrics: wrong values are refused before anything starts', async () => {
  for (const bad of ['/ip4/0.0.0.0/tcp/4001', '/ip4/1.2.3.4', `${ANNOUNCED}/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo`, '/ip4/1.2.3.4/tcp/1/p2p-circuit', 'relay.example.org:4001', '/unix/tmp/x']) {
    assert.throws(() => announceAddresses([bad]), (e) => CliError.is(e, 'USAGE'), bad)
  }
  assert.deepEqual(announceAddresses(['/dns4/relay.example.org/tcp/4001', '/ip6/2001:db8::1/tcp/4002/ws']), ['/dns4/relay.example.org/tcp/4001', '/ip6/2001:db8::1/tcp/4002/ws'])
  const err: string[] = []
  const rt: CliRuntime = { ...defaultRuntime(), stdout: () => {}, stderr: (s) => { err.push(s) }, env: {}, startRelay: async () => { throw new Error('must not start') } }
  assert.equal(await main(['relay', '--metrics', '0.0.0.0:9464'], rt), 2)
  assert.match(err.join(''), /loopback only/)
  assert.equal(await main(['relay', '--announce', '/ip4/0.0.0.0/tcp/1'], rt), 2)
})
