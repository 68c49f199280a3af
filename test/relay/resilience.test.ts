import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import { createTestnet, waitForReservations } from '../helpers/testnet.ts'
import { makeMailboxKey } from '../helpers/mailbox-key.ts'
import { NetError } from '../../src/net/errors.ts'

const env = (n: number): Uint8Array => new Uint8Array(randomBytes(n))

test('deposit to two relays with one dead: the other still takes it, the dead one fails fast with a typed error', async (t) => {
  const net = await createTestnet(t, { relays: 2, devices: 2, waitForReservations: false })
  const [sender, owner] = net.devices
  const [r0, r1] = net.relays
  assert.ok(sender !== undefined && owner !== undefined && r0 !== undefined && r1 !== undefined)
  const box = makeMailboxKey()
  await r0.stop()
  const e = env(4096)
  const results = await Promise.allSettled([r0, r1].map(async (r) => { await sender.deposit(r.addr, box.mailboxId, e) }))
  assert.equal(results[0]?.status, 'rejected')
  assert.ok(results[0]?.status === 'rejected' && NetError.is(results[0].reason, 'UNREACHABLE'))
  assert.equal(results[1]?.status, 'fulfilled')
  const s = await owner.openMailbox(r1.addr, box)
  assert.deepEqual((await s.fetchAll()).map((i) => i.envelope), [e])
})

test('relay restart between deposit and fetch loses nothing (same data dir, same peer id)', async (t) => {
  const net = await createTestnet(t, { relays: 1, devices: 2, waitForReservations: false })
  const [sender, owner] = net.devices
  const relay = net.relays[0]
  assert.ok(sender !== undefined && owner !== undefined && relay !== undefined)
  const box = makeMailboxKey()
  const sent = Array.from({ length: 5 }, (_, i) => env(1024 * (i + 1)))
  for (const e of sent) await sender.deposit(relay.addr, box.mailboxId, e)
  const peerId = relay.handle.peerId
  await relay.restart()
  assert.equal(relay.handle.peerId, peerId)
  const s = await owner.openMailbox(relay.addr, box)
  assert.deepEqual((await s.fetchAll()).map((i) => i.envelope), sent)
  // the devices come back to the restarted relay for their circuit reservations on their own
  await Promise.all(net.devices.map(async (d) => { await waitForReservations(d, 1) }))
})

test('the relay stores and logs no peer id (or key) of a depositor', async (t) => {
  const net = await createTestnet(t, { relays: 1, devices: 2, waitForReservations: false, logLevel: 'debug' })
  const [sender, owner] = net.devices
  const relay = net.relays[0]
  assert.ok(sender !== undefined && owner !== undefined && relay !== undefined)
  const box = makeMailboxKey()
  for (let i = 0; i < 3; i++) await sender.deposit(relay.addr, box.mailboxId, env(1024))
  const s = await owner.openMailbox(relay.addr, box)
  await s.ack((await s.fetch({ limit: 1 })).map((i) => i.id))

  const senderId = sender.peerId
  const senderIdBytes = Buffer.from(peerIdFromString(senderId).toMultihash().bytes)
  const senderKey = Buffer.from(peerIdFromString(senderId).publicKey?.raw ?? new Uint8Array())
  assert.ok(senderKey.length === 32)
  const needles = [Buffer.from(senderId), senderIdBytes, senderKey, Buffer.from(owner.peerId)]
  const tables = relay.handle.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>
  let cells = 0
  for (const { name } of tables) {
    const cols: string[] = (relay.handle.db.prepare(`PRAGMA table_info(${name})`).all() as Array<{ name: string }>).map((c) => c.name)
    if (name === 'envelopes') assert.deepEqual(cols.sort(), ['envelope', 'expires_at', 'guest', 'id', 'mailbox', 'received_at', 'seq', 'size'])
    // Issue 14.2: the owner memory is the mailbox id and the day of its last authentication, nothing of the device.
    if (name === 'mailbox_owners') assert.deepEqual(cols.sort(), ['authed_day', 'mailbox'])
    for (const row of relay.handle.db.prepare(`SELECT * FROM ${name}`).all() as Array<Record<string, unknown>>) {
      for (const v of Object.values(row)) {
        cells++
        const b = Buffer.isBuffer(v) || v instanceof Uint8Array ? Buffer.from(v) : Buffer.from(String(v))
        for (const n of needles) assert.ok(!b.includes(n), `table ${name} holds a peer id or key of a device`)
      }
    }
  }
  assert.ok(cells > 0)
  const relayLogs = net.logs.filter((l) => l.includes(' 0m1:relay0'))
  assert.ok(relayLogs.some((l) => l.includes('mailbox-deposit')), 'deposits are logged (as events)')
  const mailboxHex = Buffer.from(box.mailboxId).toString('hex')
  for (const l of net.logs) {
    assert.ok(!l.includes(senderId) && !l.includes(owner.peerId), 'no log line holds a device peer id')
    assert.ok(!l.includes(mailboxHex), 'no log line holds a mailbox id')
  }
})

test('quotas: per-mailbox count and bytes, per-connection rate; refusals carry a reason', async (t) => {
  const net = await createTestnet(t, {
    relays: 1,
    devices: 1,
    waitForReservations: false,
    relayLimits: { maxMailboxCount: 2, maxMailboxBytes: 8192, depositsPerMinutePerConnection: 6 }
  })
  const [d] = net.devices
  const relay = net.relays[0]
  assert.ok(d !== undefined && relay !== undefined)
  const count = makeMailboxKey()
  await d.deposit(relay.addr, count.mailboxId, env(1024))
  await d.deposit(relay.addr, count.mailboxId, env(1024))
  await assert.rejects(d.deposit(relay.addr, count.mailboxId, env(1024)), (err) => NetError.is(err, 'REFUSED') && err.reason === 'QUOTA_COUNT' && /maximum number of envelopes/.test(err.message))
  const bytes = makeMailboxKey()
  await d.deposit(relay.addr, bytes.mailboxId, env(4096))
  await assert.rejects(d.deposit(relay.addr, bytes.mailboxId, env(8192)), (err) => NetError.is(err, 'REFUSED') && err.reason === 'QUOTA_BYTES')
  // 5 deposits so far on this one connection; the 6th passes, the 7th is over the rate
  await d.deposit(relay.addr, makeMailboxKey().mailboxId, env(1024))
  await assert.rejects(d.deposit(relay.addr, makeMailboxKey().mailboxId, env(1024)), (err) => NetError.is(err, 'REFUSED') && err.reason === 'RATE_LIMITED')
})

test('expiry: envelopes older than limits.expiryMs are swept and never fetched', async (t) => {
  let clock = Date.now()
  const net = await createTestnet(t, { relays: 1, devices: 1, waitForReservations: false, now: () => clock })
  const [d] = net.devices
  const relay = net.relays[0]
  assert.ok(d !== undefined && relay !== undefined)
  const box = makeMailboxKey()
  await d.deposit(relay.addr, box.mailboxId, env(1024))
  clock += 29 * 24 * 3600 * 1000
  await d.deposit(relay.addr, box.mailboxId, env(1024))
  clock += 2 * 24 * 3600 * 1000 // the first is now 31 days old (default expiry 30 days)
  const s = await d.openMailbox(relay.addr, box)
  assert.equal((await s.fetchAll()).length, 1, 'an expired envelope is not served even before the sweep')
  assert.equal(relay.handle.sweep(), 1)
  assert.equal(relay.handle.store.usage(box.mailboxId).count, 1)
})
