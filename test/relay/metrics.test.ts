// The relay's metrics endpoint (`relay --metrics 127.0.0.1:PORT`, issue 13.2): Prometheus text whose counters
// move with a deposit and a fetch, /healthz, loopback only, and nothing in it that names a peer, a mailbox or
// an address.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTestnet } from '../helpers/testnet.ts'
import { makeMailboxKey } from '../helpers/mailbox-key.ts'
import { waitFor } from '../helpers/wait.ts'
import { multiaddr } from '@multiformats/multiaddr'
import { startRelay } from '../../src/relay/service.ts'
import { MetricsError, parseMetricsListen, startMetricsServer } from '../../src/relay/metrics.ts'

/** One sample's value in Prometheus text (name with its labels, exactly as written). */
function sample (text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(name + ' '))
  assert.ok(line !== undefined, `no sample ${name} in\n${text}`)
  return Number(line.slice(name.length + 1))
}

test('metrics: counters move with a deposit and a fetch; /healthz; no ids or addresses in the text', async (t) => {
  const net = await createTestnet(t, { relays: 0, devices: 2 })
  const dir = mkdtempSync(join(tmpdir(), '0m1-metrics-'))
  const relay = await startRelay({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], logger: net.logger, stun: 'off', metrics: '127.0.0.1:0' })
  t.after(async () => { await relay.stop(); rmSync(dir, { recursive: true, force: true }) })
  assert.ok(relay.metricsUrl !== undefined && /^http:\/\/127\.0\.0\.1:\d+$/.test(relay.metricsUrl), relay.metricsUrl)
  const scrape = async (): Promise<string> => {
    const res = await fetch(`${relay.metricsUrl ?? ''}/metrics`)
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
    return await res.text()
  }
  const health = await fetch(`${relay.metricsUrl}/healthz`)
  assert.equal(health.status, 200)
  assert.equal(await health.text(), 'ok\n')

  const before = await scrape()
  assert.match(before, /^# HELP zerom1_relay_deposits_total /m)
  assert.match(before, /^# TYPE zerom1_relay_deposits_total counter$/m)
  assert.equal(sample(before, 'zerom1_relay_deposits_total'), 0)
  assert.equal(sample(before, 'zerom1_relay_fetches_total'), 0)
  assert.equal(sample(before, 'zerom1_relay_mailboxes'), 0)

  const [sender, owner] = net.devices
  assert.ok(sender !== undefined && owner !== undefined)
  const addr = relay.addresses[0] as string
  const box = makeMailboxKey()
  const envelope = new Uint8Array(randomBytes(2000))
  await sender.deposit(addr, box.mailboxId, envelope)
  const afterDeposit = await scrape()
  assert.equal(sample(afterDeposit, 'zerom1_relay_deposits_total'), 1)
  assert.equal(sample(afterDeposit, 'zerom1_relay_deposit_bytes_total'), envelope.length)
  assert.equal(sample(afterDeposit, 'zerom1_relay_mailboxes'), 1)
  assert.equal(sample(afterDeposit, 'zerom1_relay_bytes_stored'), envelope.length)
  assert.ok(sample(afterDeposit, 'zerom1_relay_commits_total') >= 1)
  assert.ok(sample(afterDeposit, 'zerom1_relay_commit_seconds_total') > 0)

  const s = await owner.openMailbox(addr, box)
  const items = await s.fetch()
  assert.equal(items.length, 1)
  const afterFetch = await scrape()
  assert.equal(sample(afterFetch, 'zerom1_relay_fetches_total'), 1)
  assert.equal(sample(afterFetch, 'zerom1_relay_fetched_envelopes_total'), 1)
  assert.equal(sample(afterFetch, 'zerom1_relay_sessions_total'), 1)
  assert.equal(sample(afterFetch, 'zerom1_relay_owner_sessions'), 1)
  assert.ok(sample(afterFetch, 'zerom1_relay_connections') >= 1)
  assert.equal(await s.ack(items.map((i) => i.id)), 1)

  // A refusal is counted under its reason: a session with the wrong key.
  const other = makeMailboxKey()
  await assert.rejects(owner.openMailbox(addr, { mailboxId: box.mailboxId, publicKey: other.publicKey, sign: other.sign }))
  const last = await scrape()
  assert.equal(sample(last, 'zerom1_relay_refusals_total{reason="AUTH_FAILED"}'), 1)
  assert.equal(sample(last, 'zerom1_relay_acks_total'), 1)
  assert.equal(sample(last, 'zerom1_relay_mailboxes'), 0)
  await s.close()

  // Nothing that names anyone: the relay's and both devices' peer ids, the mailbox id in any spelling, any
  // address of the relay or the devices (their IP and ports).
  const secrets = [
    relay.peerId, sender.peerId, owner.peerId,
    Buffer.from(box.mailboxId).toString('hex'), Buffer.from(box.mailboxId).toString('base64'), Buffer.from(box.mailboxId).toString('base64url'),
    '127.0.0.1', ...relay.addresses, ...relay.libp2p.getConnections().map((c) => c.remoteAddr.toString())
  ]
  for (const text of [before, afterDeposit, afterFetch, last]) {
    for (const secret of secrets) assert.ok(!text.includes(secret), `metrics text holds ${secret}`)
    // Every line is a comment or `name{reason="UPPER_CASE"} number`.
    for (const line of text.trimEnd().split('\n')) {
      assert.match(line, /^(# (HELP|TYPE) zerom1_relay_\w+ .+|zerom1_relay_\w+(\{reason="[A-Z_]+"\})? \d+(\.\d+)?)$/, line)
    }
  }
})

test('metrics: the endpoint listens on loopback only', async () => {
  assert.deepEqual(parseMetricsListen('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 })
  assert.deepEqual(parseMetricsListen('[::1]:9464'), { host: '::1', port: 9464 })
  for (const bad of ['0.0.0.0:9464', '192.168.1.2:9464', '[::]:9464', 'example.org:9464']) {
    assert.throws(() => parseMetricsListen(bad), (err) => MetricsError.is(err, 'NOT_LOOPBACK'), bad)
  }
  for (const bad of ['9464', '127.0.0.1', '127.0.0.1:99999', '']) {
    assert.throws(() => parseMetricsListen(bad), (err) => MetricsError.is(err, 'BAD_ADDRESS'), bad)
  }
  await assert.rejects(startMetricsServer({ listen: '0.0.0.0:0', read: () => '', healthy: () => true }), (err) => MetricsError.is(err, 'NOT_LOOPBACK'))
})

test('metrics: reservations and circuits are gauges of the relay\'s state', async (t) => {
  // Both devices reachable only through the relay (no listen address of their own).
  const net = await createTestnet(t, { relays: 1, devices: 0 })
  const relay = net.relays[0]
  assert.ok(relay !== undefined)
  const a = await net.addDevice({ listen: [] })
  const b = await net.addDevice({ listen: [] })
  await waitFor(() => sample(relay.handle.metrics(), 'zerom1_relay_reservations') === 2, 'two reservations', 20_000)
  assert.equal(sample(relay.handle.metrics(), 'zerom1_relay_circuits'), 0)
  const circuit = b.addresses().find((x) => x.includes('/p2p-circuit'))
  assert.ok(circuit !== undefined, JSON.stringify(b.addresses()))
  await a.libp2p.dial(multiaddr(circuit))
  await waitFor(() => sample(relay.handle.metrics(), 'zerom1_relay_circuits') === 1, 'one circuit', 20_000)
  const text = relay.handle.metrics()
  for (const secret of [relay.handle.peerId, a.peerId, b.peerId]) assert.ok(!text.includes(secret), secret)
})
