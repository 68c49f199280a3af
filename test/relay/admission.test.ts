// Admission policy units (issue 14.2) with injected addresses and clocks: address prefixes, the reservation gate,
// owner memory in a real SQLCipher relay db, guest quota in both stores, new-owner rate per prefix.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { openDatabase, resolveDatabaseKey, type Database } from '../../src/store/db.ts'
import { MemoryMailboxStore, RELAY_MIGRATIONS, SqliteMailboxStore, type MailboxStore } from '../../src/relay/store.ts'
import { Admission, ipPrefix, reservationGate } from '../../src/relay/admission.ts'
import { resolveLimits } from '../../src/relay/limits.ts'

const DAY = 24 * 3600_000
const mb = (v: number): Uint8Array => new Uint8Array(32).fill(v)

function relayDb (t: { after: (fn: () => void) => void }, dir = mkdtempSync(join(tmpdir(), '0m1-admission-'))): { db: Database, dir: string } {
  const db = openDatabase({ path: join(dir, 'relay.db'), key: resolveDatabaseKey(dir, { create: true }), migrations: RELAY_MIGRATIONS, synchronous: 'FULL' })
  t.after(() => { try { db.close() } catch { /* already closed by the test */ } rmSync(dir, { recursive: true, force: true }) })
  return { db, dir }
}

test('ipPrefix: IPv4 /24, IPv6 /48 (compressed, mapped, zoned), never a shared bucket for other addresses', () => {
  assert.equal(ipPrefix('/ip4/203.0.113.7/tcp/4001'), 'ip4:203.0.113')
  assert.equal(ipPrefix('/ip4/203.0.113.200/tcp/1/ws'), 'ip4:203.0.113')
  assert.notEqual(ipPrefix('/ip4/203.0.114.7/tcp/1'), ipPrefix('/ip4/203.0.113.7/tcp/1'))
  assert.equal(ipPrefix('198.51.100.9'), 'ip4:198.51.100')
  assert.equal(ipPrefix('/ip6/2001:db8:abcd:12::1/tcp/4001'), 'ip6:2001:db8:abcd')
  assert.equal(ipPrefix('/ip6/2001:db8:abcd:ffff:1:2:3:4/tcp/1'), 'ip6:2001:db8:abcd')
  assert.notEqual(ipPrefix('/ip6/2001:db8:abce::1/tcp/1'), ipPrefix('/ip6/2001:db8:abcd::1/tcp/1'))
  assert.equal(ipPrefix('/ip6/::ffff:203.0.113.7/tcp/1'), 'ip4:203.0.113', 'an IPv4-mapped address counts as IPv4')
  assert.equal(ipPrefix('/ip6/::1/tcp/1'), 'ip6:0:0:0')
  assert.equal(ipPrefix('fe80::1%eth0'), 'ip6:fe80:0:0')
  assert.equal(ipPrefix('/dns4/relay.example/tcp/1'), 'other:/dns4/relay.example')
  assert.match(ipPrefix('not an address'), /^other:/)
})

test('reservation gate: refuses a new peer once its prefix holds the bound, never a peer refreshing its own slot', async () => {
  const peers: PeerId[] = await Promise.all(Array.from({ length: 5 }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))))
  const [a, b, c, d, e] = peers as [PeerId, PeerId, PeerId, PeerId, PeerId]
  const addrs = new Map<PeerId, string>([[a, '/ip4/203.0.113.1/tcp/1'], [b, '/ip4/203.0.113.2/tcp/1'], [c, '/ip4/203.0.113.3/tcp/1'], [d, '/ip6/2001:db8:1::5/tcp/1']])
  const held: Array<[PeerId, { addr: string }]> = [[a, { addr: addrs.get(a) as string }], [b, { addr: addrs.get(b) as string }]]
  const deny = reservationGate({ maxPerPrefix: 2, addrOf: (p) => addrs.get(p), reservations: () => held })
  assert.equal(deny(c), true, 'a third peer from 203.0.113.0/24 is refused')
  assert.equal(deny(a), false, 'a peer refreshing its reservation is not')
  assert.equal(deny(d), false, 'another prefix is served')
  assert.equal(deny(e), true, 'a peer with no direct connection (unknown address) is refused')

  // Requests racing each other: an allowed one counts until the store holds it.
  let clock = 0
  const racing: Array<[PeerId, { addr: string }]> = []
  const gate = reservationGate({ maxPerPrefix: 2, addrOf: () => '/ip4/198.51.100.1/tcp/1', reservations: () => racing, now: () => clock })
  assert.equal(gate(a), false)
  assert.equal(gate(b), false)
  assert.equal(gate(c), true, 'two allowed and not yet recorded fill the prefix')
  assert.equal(gate(a), false, 'the same peer asking again is not counted twice')
  clock += 10_000
  assert.equal(gate(c), false, 'an allowance the store never recorded lapses')
})

const kinds: Array<[string, (t: { after: (fn: () => void) => void }) => MailboxStore]> = [
  ['memory', () => new MemoryMailboxStore()],
  ['sqlcipher', (t) => new SqliteMailboxStore(relayDb(t).db)]
]
for (const [kind, make] of kinds) {
  test(`${kind} store: guest envelopes have their own mailbox quota, relay-wide share and lifetime; promotion lifts them`, (t) => {
    const s = make(t)
    const q = { maxCount: 100, maxBytes: 10_000, maxTotalBytes: 10_000, expiryMs: 30 * DAY, guest: { maxCount: 2, maxBytes: 1000, expiryMs: 2 * DAY, maxTotalBytes: 250 } }
    const g = (box: number): { mailboxId: Uint8Array, envelope: Uint8Array, guest: boolean } => ({ mailboxId: mb(box), envelope: new Uint8Array(50), guest: true })
    const r = s.depositMany([g(1), g(1), g(1), g(2), g(3), g(4), g(5), { mailboxId: mb(9), envelope: new Uint8Array(50) }], 0, q)
    assert.deepEqual(r.map((x) => x.ok ? 'ok' : x.reason), ['ok', 'ok', 'QUOTA_COUNT', 'ok', 'ok', 'ok', 'QUOTA_BYTES', 'ok'])
    assert.equal(s.guestBytes(), 250)
    assert.equal(s.promote(mb(1), q.expiryMs), 2)
    assert.equal(s.guestBytes(), 150)
    assert.equal(s.sweep(2 * DAY), 3, 'guest envelopes of mailboxes 2..4 expire after the guest lifetime')
    assert.equal(s.usage(mb(1)).count, 2)
    assert.equal(s.usage(mb(9)).count, 1)
    assert.equal(s.guestBytes(), 0)
  })
}

test('owner memory: durable across reopen, day-granular, forgotten after the window; new owners per prefix are rate limited', (t) => {
  const { db, dir } = relayDb(t)
  const limits = resolveLimits({ ownerWindowMs: 30 * DAY, newOwnersPerHourPerPrefix: 2 })
  const store = new SqliteMailboxStore(db)
  const a = new Admission({ db, store, limits })
  const t0 = 1000 * DAY + 5 * 3600_000
  assert.equal(a.isGuest(mb(1), t0), true)
  assert.equal(a.ownerAuthenticated(mb(1), 'p', t0), true)
  assert.equal(a.ownerAuthenticated(mb(2), 'p', t0), true)
  assert.equal(a.ownerAuthenticated(mb(3), 'p', t0), false, 'a third new owner from one prefix within the hour is not recorded')
  assert.equal(a.isGuest(mb(3), t0), true)
  assert.equal(a.ownerAuthenticated(mb(1), 'p', t0 + 1000), true, 'a known owner authenticating again is not a new one')
  assert.equal(a.ownerAuthenticated(mb(3), 'q', t0), true, 'another prefix has its own allowance')
  assert.equal(a.isGuest(mb(1), t0 + 29 * DAY), false)
  const rows = db.prepare('SELECT authed_day FROM mailbox_owners').all() as Array<{ authed_day: number }>
  assert.deepEqual(rows.map((r) => Number(r.authed_day)), [1000, 1000, 1000], 'only the day is stored')
  db.close()
  const { db: db2 } = relayDb(t, dir)
  const b = new Admission({ db: db2, store: new SqliteMailboxStore(db2), limits })
  assert.equal(b.isGuest(mb(1), t0 + DAY), false, 'remembered after reopening the db')
  assert.equal(b.isGuest(mb(1), t0 + 32 * DAY), true, 'forgotten once the window has passed')
  b.sweep(t0 + 32 * DAY)
  assert.equal(b.owners.size(), 0)
  assert.equal((db2.prepare('SELECT count(*) AS n FROM mailbox_owners').get() as { n: number }).n, 0)
})

test('prefix share: counted at admission, refunded when the store refuses, per prefix, sliding with the window', (t) => {
  const { db } = relayDb(t)
  const limits = resolveLimits({ maxTotalBytes: 1000, prefixSharePercent: 10, prefixWindowMs: 30 * DAY, depositsPerMinutePerPrefix: 1_000_000 })
  const a = new Admission({ db, store: new SqliteMailboxStore(db), limits })
  assert.equal(a.admit('p', 60, 0), undefined)
  assert.equal(a.admit('p', 60, 0), 'QUOTA_BYTES')
  a.refund('p', 60, 0) // the store refused the admitted one: its bytes come back
  assert.equal(a.admit('p', 100, 0), undefined)
  assert.equal(a.admit('p', 1, 0), 'QUOTA_BYTES')
  assert.equal(a.admit('q', 100, 0), undefined, 'another prefix has its own share')
  assert.equal(a.admit('p', 100, 31 * DAY), undefined, 'the share frees as the window slides')
})

test('upgrade: mailboxes already holding mail when the relay gains admission count as owned, others do not', (t) => {
  const dir = mkdtempSync(join(tmpdir(), '0m1-admission-upgrade-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const key = resolveDatabaseKey(dir, { create: true })
  const old = openDatabase({ path: join(dir, 'relay.db'), key, migrations: RELAY_MIGRATIONS.slice(0, 1), synchronous: 'FULL' })
  old.prepare('INSERT INTO envelopes (id, mailbox, envelope, size, received_at, expires_at) VALUES (?, ?, ?, 3, 0, ?)').run([Buffer.alloc(16, 1), Buffer.from(mb(7)), Buffer.alloc(3), Date.now() + DAY])
  old.close()
  const db = openDatabase({ path: join(dir, 'relay.db'), key, migrations: RELAY_MIGRATIONS, synchronous: 'FULL' })
  t.after(() => { db.close() })
  const a = new Admission({ db, store: new SqliteMailboxStore(db), limits: resolveLimits({}) })
  assert.equal(a.isGuest(mb(7), Date.now()), false)
  assert.equal(a.isGuest(mb(8), Date.now()), true)
})
