// `0message1 start` (issue 13.1): listens on every interface unless --listen says otherwise, and --lan turns
// LAN discovery on. The host is the in-memory double; what the real node does with these options is proven in
// namespaces by test/nat/lan.test.ts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { main } from '../../src/cli/main.ts'
import type { CliRuntime, HostFactoryOptions } from '../../src/cli/runtime.ts'
import { FakeHost, FakeNetwork } from '../helpers/fake-host.ts'
import { ALL_INTERFACES_LISTEN } from '../../src/net/addresses.ts'

async function startWith (t: { after: (fn: () => void) => void }, ...extra: string[]): Promise<HostFactoryOptions> {
  const dir = mkdtempSync(join(tmpdir(), '0m1-listen-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  let seen: HostFactoryOptions | undefined
  const rt: CliRuntime = {
    stdout: () => {},
    stderr: () => {},
    env: { ZEROM1_LOG: 'silent' },
    createDeviceHost: async (o) => { seen = o; return new FakeHost(new FakeNetwork()) },
    initAccount: async () => { throw new Error('unused') },
    startRelay: async () => { throw new Error('unused') },
    waitForStop: async () => {} // stop at once: only the options matter here
  }
  assert.equal(await main(['start', '--data', dir, '--api', '127.0.0.1:0', ...extra], rt), 0)
  assert.ok(seen !== undefined)
  return seen
}

test('start: every interface by default (IPv4 and IPv6, system-chosen ports); LAN discovery left as saved', async (t) => {
  const o = await startWith(t)
  assert.deepEqual(o.listen, ['/ip4/0.0.0.0/tcp/0', '/ip6/::/tcp/0'])
  assert.deepEqual(o.listen, [...ALL_INTERFACES_LISTEN])
  assert.equal(o.lanDiscovery, undefined)
})

test('start: --listen replaces the default; --lan turns LAN discovery on', async (t) => {
  const o = await startWith(t, '--listen', '/ip4/127.0.0.1/tcp/0', '--lan')
  assert.deepEqual(o.listen, ['/ip4/127.0.0.1/tcp/0'])
  assert.equal(o.lanDiscovery, true)
})
