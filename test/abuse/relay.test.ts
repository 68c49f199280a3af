// Abuse limits of the relay (real startRelay, real libp2p on loopback, hostile clients that build their
// own frames): a deposit flood stops at the mailbox quota with a clear refusal and bounded disk, other
// mailboxes keep working, oversized frames are refused before they are buffered, rates and
// reservations are bounded.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, statSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { TestContext } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { lpStream } from '@libp2p/utils'
import { startRelay, RELAY_DATABASE_FILE, type RelayHandle, type RelayLimits, type RelayOptions } from '../../src/relay/service.ts'
import { sealEnvelope } from '../../src/wire/envelope.ts'
import { MAILBOX_PROTOCOL, MAX_CLIENT_FRAME_BYTES, MAX_RELAY_FRAME_BYTES, decodeRelayFrame } from '../../src/wire/mailbox.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { bareNode, openMailboxStream, REQUEST_TIMEOUT_MS } from './client.ts'
import { makeMailboxKey } from '../helpers/mailbox-key.ts'
import { openMailboxSession } from '../../src/net/mailbox-client.ts'

async function relayFor (t: TestContext, limits: Partial<RelayLimits>, o: Pick<RelayOptions, 'now' | 'prefixOf'> = {}): Promise<{ relay: RelayHandle, addr: string, dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), '0m1-abuse-relay-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const relay = await startRelay({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], logger: silentLogger, limits, ...o })
  t.after(async () => { await relay.stop() })
  const addr = relay.addresses.find((a) => a.includes('/tcp/')) as string
  return { relay, addr, dir }
}

async function client (t: TestContext): Promise<Awaited<ReturnType<typeof bareNode>>> {
  const node = await bareNode()
  t.after(async () => { await node.stop() })
  return node
}

function dbBytes (dir: string): number {
  return ['', '-wal', '-shm'].map((s) => join(dir, RELAY_DATABASE_FILE + s)).filter(existsSync).reduce((n, p) => n + statSync(p).size, 0)
}

/** A mailbox whose owner has opened a session on the relay (as a device does whenever online). */
async function ownedMailbox (node: Awaited<ReturnType<typeof bareNode>>, addr: string): Promise<Uint8Array> {
  const box = makeMailboxKey()
  const s = await openMailboxSession(node, addr, box, silentLogger)
  await s.close()
  return box.mailboxId
}

const envelopeFor = (mailboxId: Uint8Array, bodyBytes: number): Uint8Array =>
  sealEnvelope({ mailboxId, mailboxKey: randomBytes(32), innerType: 2, body: randomBytes(bodyBytes) })

/** Refused deposits the flood goes on for: ~20 MB offered against a 1 MiB quota. */
const FLOOD_REFUSALS = 5000
/** SQLite's default wal_autocheckpoint (1000 pages of 4 KiB): the WAL file reaches it before it is reused. */
const WAL_CHECKPOINT_BYTES = 1000 * 4096 + 64 * 1024

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? NaN }

test('abuse: a deposit flood into one mailbox stops at its quota, disk stays bounded, other mailboxes barely slowed', { timeout: 180_000 }, async (t) => {
  /** 256 envelopes of 4 KiB fill the byte quota; the count quota is out of the way. */
  const maxMailboxBytes = 1024 * 1024
  const { addr, dir } = await relayFor(t, { maxMailboxBytes, maxMailboxCount: 100_000, depositsPerMinutePerConnection: 1_000_000 })
  const flooder = await client(t)
  const honest = await client(t)
  // Both mailboxes have owners who connected (issue 14.2: only those take bulk deposits).
  const victim = await ownedMailbox(honest, addr)
  const bystander = await ownedMailbox(honest, addr)
  const honestConn = await openMailboxStream(honest, addr)

  const measure = async (n: number): Promise<number[]> => {
    const out: number[] = []
    for (let i = 0; i < n; i++) {
      const t0 = performance.now()
      const r = await honestConn.deposit(bystander, envelopeFor(bystander, 100))
      out.push(performance.now() - t0)
      assert.equal(r.type, 'ok', 'the bystander mailbox keeps accepting')
    }
    return out
  }
  await measure(20) // warm-up
  const idle = await measure(100)
  const before = dbBytes(dir)

  // The flood: 4 parallel streams pushing 4 KiB envelopes into one mailbox as fast as they can.
  let accepted = 0
  let refused = 0
  const reasons = new Map<string, string>()
  let flooding = true
  const streams = await Promise.all([0, 1, 2, 3].map(async () => await openMailboxStream(flooder, addr)))
  const env = envelopeFor(victim, 3000)
  const flood = Promise.all(streams.map(async (s) => {
    while (flooding) {
      const r = await s.deposit(victim, env)
      if (r.type === 'ok') {
        accepted++
        assert.equal(refused, 0, 'no deposit is accepted after the first refusal')
      } else {
        assert.equal(r.type, 'error')
        if (r.type === 'error') reasons.set(r.reason, r.message)
        refused++
      }
    }
  }))
  const during = await measure(100)
  while (refused < FLOOD_REFUSALS) await new Promise((resolve) => setTimeout(resolve, 50))
  flooding = false
  await flood
  const after = dbBytes(dir)

  const factor = median(during) / median(idle)
  console.log(`abuse flood: accepted ${accepted} (${accepted * 4} KiB), refused ${refused} with ${[...reasons.keys()].join(',')}; ` +
    `relay db +${Math.round((after - before) / 1024)} KiB (quota ${maxMailboxBytes / 1024} KiB); ` +
    `bystander deposit median ${median(idle).toFixed(2)} ms idle vs ${median(during).toFixed(2)} ms under flood (x${factor.toFixed(2)})`)
  assert.equal(accepted, maxMailboxBytes / 4096)
  assert.deepEqual([...reasons.keys()], ['QUOTA_BYTES'])
  assert.match(reasons.get('QUOTA_BYTES') ?? '', /maximum/)
  // Disk: the quota twice over (pages + WAL copies) plus the WAL's auto-checkpoint size, which SQLite
  // keeps on disk whatever the quota; far below the flood's volume (~20 MB offered).
  assert.ok(after - before < 2 * maxMailboxBytes + WAL_CHECKPOINT_BYTES, `relay db grew by ${after - before} bytes`)
  // A generous bound: the bystander is not starved (the figure itself is printed above).
  assert.ok(factor < 25, `bystander slowed by x${factor.toFixed(1)}`)
  await Promise.all(streams.map(async (s) => { await s.close() }))
  await honestConn.close()
})

test('abuse: deposits per connection are rate limited with a clear refusal', { timeout: 60_000 }, async (t) => {
  const { addr } = await relayFor(t, { depositsPerMinutePerConnection: 20 })
  const conn = await openMailboxStream(await client(t), addr)
  const box = randomBytes(32)
  const results = []
  for (let i = 0; i < 25; i++) results.push(await conn.deposit(box, envelopeFor(box, 10)))
  assert.equal(results.filter((r) => r.type === 'ok').length, 20)
  const refusal = results[20]
  assert.ok(refusal?.type === 'error' && refusal.reason === 'RATE_LIMITED', JSON.stringify(refusal?.type))
  assert.match(refusal.type === 'error' ? refusal.message : '', /slow down/)
  await conn.close()
})

test('abuse: oversized frames are refused before they are buffered whole; the relay keeps serving', { timeout: 60_000 }, async (t) => {
  const { addr } = await relayFor(t, { maxEnvelopeBytes: 4096 })
  const node = await client(t)

  // 1. A length prefix announcing 1 GiB, followed by only 256 KiB: a relay that buffered the frame
  //    would wait for the rest; ours must answer (refusal or reset) right after the prefix.
  const stream = await node.dialProtocol(multiaddr(addr), MAILBOX_PROTOCOL, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
  const announced = 1024 * 1024 * 1024
  const varint: number[] = []
  for (let v = announced; ; v = Math.floor(v / 128)) { if (v < 128) { varint.push(v); break } varint.push((v % 128) | 0x80) }
  const t0 = performance.now()
  stream.send(Uint8Array.from(varint))
  for (let i = 0; i < 4; i++) if (!stream.send(new Uint8Array(64 * 1024))) await stream.onDrain({ signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }).catch(() => {})
  const lp = lpStream(stream, { maxDataLength: MAX_RELAY_FRAME_BYTES })
  let answer: string
  try {
    const f = decodeRelayFrame((await lp.read({ signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })).subarray())
    answer = f.type === 'error' ? f.reason : f.type
  } catch (err) {
    answer = `stream ended (${(err as Error).name})`
  }
  const ms = performance.now() - t0
  console.log(`abuse oversize: 1 GiB prefix + 256 KiB sent -> ${answer} after ${ms.toFixed(0)} ms`)
  assert.ok(answer === 'TOO_LARGE' || answer.startsWith('stream ended'), answer)

  // 2. A deposit one byte over the protocol's frame bound, then an envelope over this relay's limit.
  const conn = await openMailboxStream(node, addr)
  const over = new Uint8Array(MAX_CLIENT_FRAME_BYTES + 1); over[0] = 1; over[1] = 1
  const r1 = await conn.request(over).then((f) => f.type === 'error' ? f.reason : f.type, (err: unknown) => `ended ${err instanceof Error ? err.name : typeof err}`)
  assert.ok(r1 === 'TOO_LARGE' || r1.startsWith('ended'), r1)
  const conn2 = await openMailboxStream(node, addr)
  const box = randomBytes(32)
  const r2 = await conn2.deposit(box, envelopeFor(box, 10_000))
  assert.ok(r2.type === 'error' && r2.reason === 'TOO_LARGE', JSON.stringify(r2.type))

  // 3. Still serving normal deposits.
  const conn3 = await openMailboxStream(node, addr)
  assert.equal((await conn3.deposit(box, envelopeFor(box, 100))).type, 'ok')
  await Promise.all([conn.close(), conn2.close(), conn3.close()])
})

// Issue 14.2: relay-wide denial of service with throwaway peer ids. Every client below is a fresh libp2p identity.

const ENVELOPE_BYTES = envelopeFor(randomBytes(32), 3000).length
/** Limits out of the way of the one a test is about. */
const OPEN = { depositsPerMinutePerConnection: 1_000_000, depositsPerMinutePerPrefix: 1_000_000, prefixSharePercent: 100 }

async function freshClients (t: TestContext, n: number): Promise<Array<Awaited<ReturnType<typeof bareNode>>>> {
  return await Promise.all(Array.from({ length: n }, async () => await client(t)))
}

/** Deposits one 4 KiB envelope per mailbox from the client; returns the status of each ('ok' or the reason). */
async function depositAll (node: Awaited<ReturnType<typeof bareNode>>, addr: string, boxes: Uint8Array[]): Promise<string[]> {
  const conn = await openMailboxStream(node, addr)
  const out: string[] = []
  for (const b of boxes) {
    const r = await conn.deposit(b, envelopeFor(b, 3000))
    out.push(r.type === 'error' ? r.reason : r.type)
  }
  await conn.close()
  return out
}

const tally = (xs: string[]): Record<string, number> => xs.reduce<Record<string, number>>((m, x) => { m[x] = (m[x] ?? 0) + 1; return m }, {})

test('abuse 14.2: fresh peer ids depositing into random mailboxes stop at the guest share; an owner\'s mailbox keeps taking deposits', { timeout: 120_000 }, async (t) => {
  const maxTotalBytes = 4 * 1024 * 1024
  const guestTotalPercent = 10
  const { relay, addr } = await relayFor(t, { ...OPEN, maxTotalBytes, guestTotalPercent })
  const guestMax = Math.floor(maxTotalBytes * guestTotalPercent / 100)
  // 24 throwaway identities, 8 random mailbox ids each: twice the guest share offered.
  const flooders = await freshClients(t, 24)
  const statuses = (await Promise.all(flooders.map(async (f) => await depositAll(f, addr, Array.from({ length: 8 }, () => randomBytes(32)))))).flat()
  const counts = tally(statuses)
  console.log(`abuse 14.2 guest flood: ${statuses.length} deposits from ${flooders.length} fresh peer ids into random mailboxes -> ${JSON.stringify(counts)}; guest bytes held ${relay.store.guestBytes()} of ${guestMax}`)
  assert.equal(counts.ok, Math.floor(guestMax / ENVELOPE_BYTES), 'the flood fills exactly the guest share')
  assert.deepEqual(Object.keys(counts).sort(), ['QUOTA_BYTES', 'ok'])
  assert.ok(relay.store.guestBytes() <= guestMax)

  // The owner of a mailbox (its device connected) deposits far beyond the guest share: all accepted.
  const owner = await client(t)
  const box = await ownedMailbox(owner, addr)
  const ownerStatuses = await depositAll(await client(t), addr, Array.from({ length: 200 }, () => box))
  assert.deepEqual(tally(ownerStatuses), { ok: 200 })
  // ... while the flood is still refused.
  assert.deepEqual(await depositAll(await client(t), addr, [randomBytes(32)]), ['QUOTA_BYTES'])
})

test('abuse 14.2: one prefix cannot take more than its share, even into mailboxes it owns; another prefix is still served', { timeout: 120_000 }, async (t) => {
  const maxTotalBytes = 4 * 1024 * 1024
  const prefixSharePercent = 10
  const flood = new Set<string>()
  // Loopback is one address: the relay's prefix hook plays two networks, keyed by peer id.
  const { addr } = await relayFor(t, { ...OPEN, maxTotalBytes, prefixSharePercent }, { prefixOf: (_addr, peer) => flood.has(peer) ? 'test:flood' : 'test:home' })
  const flooders = await freshClients(t, 8)
  for (const f of flooders) flood.add(f.peerId.toString())
  // Each throwaway identity mints two mailboxes of its own and authenticates on them: owned, so no guest quota.
  const statuses = (await Promise.all(flooders.map(async (f) => {
    const boxes = [await ownedMailbox(f, addr), await ownedMailbox(f, addr)]
    return await depositAll(f, addr, Array.from({ length: 40 }, (_, i) => boxes[i % 2] as Uint8Array))
  }))).flat()
  const counts = tally(statuses)
  const share = Math.floor(maxTotalBytes * prefixSharePercent / 100)
  console.log(`abuse 14.2 prefix share: ${statuses.length} deposits from ${flooders.length} fresh peer ids on one prefix -> ${JSON.stringify(counts)} (share ${share} bytes)`)
  assert.equal(counts.ok, Math.floor(share / ENVELOPE_BYTES))
  assert.deepEqual(Object.keys(counts).sort(), ['QUOTA_BYTES', 'ok'])
  const home = await client(t)
  const box = await ownedMailbox(home, addr)
  assert.deepEqual(tally(await depositAll(home, addr, Array.from({ length: 50 }, () => box))), { ok: 50 })
})

test('abuse 14.2: the deposit rate is per address prefix: fresh peer ids and connections do not multiply it', { timeout: 60_000 }, async (t) => {
  let clock = Date.now()
  const { addr } = await relayFor(t, { ...OPEN, depositsPerMinutePerPrefix: 30 }, { now: () => clock })
  const clients = await freshClients(t, 10)
  const statuses = (await Promise.all(clients.map(async (c) => await depositAll(c, addr, Array.from({ length: 5 }, () => randomBytes(32)))))).flat()
  assert.deepEqual(tally(statuses), { ok: 30, RATE_LIMITED: 20 })
  clock += 60_000
  assert.deepEqual(await depositAll(clients[0] as Awaited<ReturnType<typeof bareNode>>, addr, [randomBytes(32)]), ['ok'], 'a new minute, a new allowance')
})

test('abuse 14.2: guest envelopes expire after the short lifetime unless their owner authenticates in time; owned ones stay', { timeout: 60_000 }, async (t) => {
  let clock = Date.now()
  const guestExpiryMs = 48 * 3600_000
  const { relay, addr } = await relayFor(t, { ...OPEN, guestExpiryMs }, { now: () => clock })
  const n = await client(t)
  const guest = randomBytes(32) // nobody ever authenticates
  const late = makeMailboxKey() // its owner connects after the deposit, within the guest lifetime
  const owned = await ownedMailbox(n, addr)
  assert.deepEqual(await depositAll(n, addr, [guest, late.mailboxId, owned]), ['ok', 'ok', 'ok'])
  assert.equal(relay.store.guestBytes(), 2 * ENVELOPE_BYTES)
  clock += guestExpiryMs - 3600_000
  assert.equal(relay.sweep(), 0, 'nothing expires early')
  await (await openMailboxSession(n, addr, late, silentLogger)).close()
  assert.equal(relay.store.guestBytes(), ENVELOPE_BYTES, 'the owner\'s authentication promoted its envelope')
  clock += 2 * 3600_000
  assert.equal(relay.sweep(), 1)
  assert.equal(relay.store.usage(guest).count, 0, 'the guest envelope expired after the guest lifetime')
  assert.equal(relay.store.usage(late.mailboxId).count, 1, 'the promoted envelope keeps the full lifetime')
  assert.equal(relay.store.usage(owned).count, 1)
  assert.equal(relay.store.guestBytes(), 0)
})

test('abuse 14.2: a restart keeps the owner memory (relay db): an owned mailbox still takes more than the guest quota', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), '0m1-abuse-restart-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const limits = { ...OPEN, guestMaxMailboxCount: 3 }
  const n = await client(t)
  const first = await startRelay({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], logger: silentLogger, limits })
  const tcpAddr = (r: RelayHandle): string => r.addresses.find((a) => a.includes('/tcp/') && !a.includes('/ws')) as string
  const box = await ownedMailbox(n, tcpAddr(first))
  await first.stop()
  const again = await startRelay({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], logger: silentLogger, limits })
  t.after(async () => { await again.stop() })
  const addr = tcpAddr(again)
  assert.ok(again.admission.owners.size() >= 1)
  const m = await client(t) // a new connection to the restarted relay
  assert.deepEqual(tally(await depositAll(m, addr, Array.from({ length: 10 }, () => box))), { ok: 10 })
  const stranger = randomBytes(32)
  assert.deepEqual(tally(await depositAll(m, addr, Array.from({ length: 10 }, () => stranger))), { ok: 3, QUOTA_COUNT: 7 })
})
