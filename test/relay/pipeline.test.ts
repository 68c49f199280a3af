// Mailbox protocol v2 against a real relay on loopback: pipelined deposits on one stream sharing group commits,
// 256-item pages, bounded push to paused owner sessions (issue 14.1), and a reset stream that leaves the
// connection and the owner's session alive.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { Libp2p, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createTestnet, startTestRelay } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'
import { makeMailboxKey, type TestBox } from '../helpers/mailbox-key.ts'
import { bareNode } from '../abuse/client.ts'
import { depositTo, openMailboxSession } from '../../src/net/mailbox-client.ts'
import { NOTICE_FRAME_BYTES } from '../../src/relay/mailbox-service.ts'
import { createLogger } from '../../src/platform/logger.ts'
import {
  authMessage, decodeRelayFrame, encodeClientFrame, MAILBOX_PROTOCOL, MAX_FETCH_ITEMS, MAX_RELAY_FRAME_BYTES
} from '../../src/wire/mailbox.ts'
import { peerIdFromString } from '@libp2p/peer-id'
import type { RelayHandle } from '../../src/relay/service.ts'

const env = (n: number): Uint8Array => new Uint8Array(randomBytes(n))
const quiet = createLogger({ level: 'error' })

/** Mailbox streams the relay holds now, over all its connections. */
function mailboxStreams (relay: RelayHandle): Stream[] {
  return relay.libp2p.getConnections().flatMap((c) => c.streams).filter((s) => s.protocol === MAILBOX_PROTOCOL)
}

/** The owner opens (and closes) a session, as its device does whenever online: the relay then takes bulk deposits
 * into the mailbox (issue 14.2; a mailbox no owner has opened gets the small guest quota). */
async function ownerSeen (n: Libp2p, relayAddr: string, box: TestBox): Promise<void> {
  const s = await openMailboxSession(n, relayAddr, box, quiet)
  await s.close()
}

async function node (t: { after: (fn: () => unknown) => void }): Promise<Libp2p> {
  const n = await bareNode()
  t.after(async () => { await n.stop() })
  return n
}

test('pipelined deposits: 3,000 concurrent deposits travel on one stream, in frames, and share group commits', { timeout: 60_000 }, async (t) => {
  const relay = await startTestRelay(t, { limits: { depositsPerMinutePerConnection: 1_000_000 } })
  const n = await node(t)
  const boxes = [makeMailboxKey(), makeMailboxKey(), makeMailboxKey()]
  for (const b of boxes) await ownerSeen(n, relay.addr, b)
  const opened: string[] = []
  relay.handle.libp2p.addEventListener('connection:open', () => { opened.push('c') })
  const count = 3000
  const before = { ...relay.handle.mailboxes.commits }
  let maxStreams = 0
  const probe = setInterval(() => { maxStreams = Math.max(maxStreams, mailboxStreams(relay.handle).length) }, 5)
  await Promise.all(Array.from({ length: count }, async (_, i) => {
    await depositTo(n, relay.addr, (boxes[i % 3] as TestBox).mailboxId, env(200 + (i % 50)))
  }))
  clearInterval(probe)
  const commits = relay.handle.mailboxes.commits
  assert.equal(commits.envelopes - before.envelopes, count, 'every envelope committed once')
  const txs = commits.transactions - before.transactions
  assert.ok(txs <= count / 20, `${count} deposits in ${txs} transactions: frames and group commit, not one commit each`)
  assert.equal(mailboxStreams(relay.handle).length, 1, 'the deposit stream stays open for the next deposits')
  assert.ok(maxStreams <= 1, `at most one mailbox stream at any time (saw ${maxStreams})`)
  assert.equal(n.getConnections().length, 1)
  for (const b of boxes) assert.equal(relay.handle.store.usage(b.mailboxId).count, count / 3)
  // The stream is reused by later deposits.
  await depositTo(n, relay.addr, (boxes[0] as TestBox).mailboxId, env(10))
  assert.equal(mailboxStreams(relay.handle).length, 1)
})

test('pipelined deposits: per-envelope answers: refused envelopes fail with their reason, the others in the same frame are stored', async (t) => {
  const relay = await startTestRelay(t, { limits: { maxMailboxCount: 5, depositsPerMinutePerConnection: 1_000_000 } })
  const n = await node(t)
  const full = makeMailboxKey()
  const other = makeMailboxKey()
  const results = await Promise.allSettled([
    ...Array.from({ length: 8 }, async () => { await depositTo(n, relay.addr, full.mailboxId, env(100)) }),
    ...Array.from({ length: 4 }, async () => { await depositTo(n, relay.addr, other.mailboxId, env(100)) })
  ])
  const refused = results.filter((r) => r.status === 'rejected')
  assert.equal(refused.length, 3)
  for (const r of refused) assert.equal((r.reason as { reason?: string }).reason, 'QUOTA_COUNT')
  assert.ok(results.slice(8).every((r) => r.status === 'fulfilled'))
  assert.deepEqual(relay.handle.store.usage(full.mailboxId).count, 5)
  assert.deepEqual(relay.handle.store.usage(other.mailboxId).count, 4)
})

test('drain pages: a 600-item backlog comes in pages of MAX_FETCH_ITEMS, acked in batches', { timeout: 60_000 }, async (t) => {
  const relay = await startTestRelay(t, { limits: { depositsPerMinutePerConnection: 1_000_000 } })
  const n = await node(t)
  const box = makeMailboxKey()
  await ownerSeen(n, relay.addr, box)
  await Promise.all(Array.from({ length: 600 }, async () => { await depositTo(n, relay.addr, box.mailboxId, env(300)) }))
  const owner = await node(t)
  const s = await openMailboxSession(owner, relay.addr, box, quiet)
  const sizes: number[] = []
  for (;;) {
    const page = await s.fetch()
    if (page.length === 0) break
    sizes.push(page.length)
    assert.equal(await s.ack(page.map((i) => i.id)), page.length)
  }
  assert.equal(MAX_FETCH_ITEMS, 256)
  assert.deepEqual(sizes, [256, 256, 88])
  assert.equal(relay.handle.store.usage(box.mailboxId).count, 0)
  await s.close()
})

/** An owner session that authenticates and then never reads again (a paused or hostile reader). */
async function pausedSession (n: Libp2p, relayAddr: string, relayPeerId: string, box: TestBox): Promise<Stream> {
  const stream = await n.dialProtocol(multiaddr(relayAddr), MAILBOX_PROTOCOL)
  const lp = lpStream(stream, { maxDataLength: MAX_RELAY_FRAME_BYTES })
  await lp.write(encodeClientFrame({ type: 'auth-begin', reqId: 1, mailboxId: box.mailboxId }))
  const ch = decodeRelayFrame((await lp.read()).subarray())
  assert.ok(ch.type === 'challenge')
  const signature = box.sign(authMessage(peerIdFromString(relayPeerId).toMultihash().bytes, ch.challenge, box.mailboxId))
  await lp.write(encodeClientFrame({ type: 'auth-prove', reqId: 2, publicKey: box.publicKey, signature }))
  assert.equal(decodeRelayFrame((await lp.read()).subarray()).type, 'ok')
  return stream // never read from again
}

test('push backpressure (issue 14.1): 4 paused sessions and a 24 MiB deposit flood hold the relay to one notice per session; stalled sessions are closed', { timeout: 120_000 }, async (t) => {
  const deadlineMs = 3000
  const relay = await startTestRelay(t, { limits: { depositsPerMinutePerConnection: 1_000_000, maxMailboxCount: 100_000, sessionNoticeDeadlineMs: deadlineMs } })
  const box = makeMailboxKey()
  const sessions = 4
  for (let i = 0; i < sessions; i++) await pausedSession(await node(t), relay.addr, relay.handle.peerId, box)
  await waitFor(() => relay.handle.mailboxes.sessionCount() === sessions, 'sessions registered', 5000)
  const sender = await node(t)
  // Bound: one notice per session outstanding, and the relay's write buffers of all mailbox streams stay small.
  const pushBound = sessions * NOTICE_FRAME_BYTES
  const bufferBound = 64 * 1024
  let maxPush = 0
  let maxBuffered = 0
  const sample = (): void => {
    maxPush = Math.max(maxPush, relay.handle.mailboxes.pushBytesOutstanding())
    maxBuffered = Math.max(maxBuffered, mailboxStreams(relay.handle).reduce((a, s) => a + s.writeBufferLength, 0))
  }
  const probe = setInterval(sample, 5)
  const rssBefore = process.memoryUsage().rss
  const flood = 6000
  const envelopeBytes = 4096
  for (let i = 0; i < flood; i += 500) {
    await Promise.all(Array.from({ length: 500 }, async () => { await depositTo(sender, relay.addr, box.mailboxId, env(envelopeBytes)) }))
    sample()
  }
  clearInterval(probe)
  const rssGrowth = process.memoryUsage().rss - rssBefore
  console.log(`push bound: ${flood} x ${envelopeBytes} B deposited with ${sessions} paused sessions; push bytes outstanding max ${maxPush} (bound ${pushBound}), relay mailbox write buffers max ${maxBuffered} B, process RSS growth ${(rssGrowth / 1048576).toFixed(1)} MiB`)
  assert.equal(relay.handle.store.usage(box.mailboxId).count, flood)
  assert.ok(maxPush <= pushBound, `push bytes outstanding ${maxPush} <= ${pushBound}`)
  assert.ok(maxBuffered <= bufferBound, `relay write buffers ${maxBuffered} <= ${bufferBound} (the flood was ${flood * envelopeBytes} bytes; pushing envelopes would queue it ${sessions} times)`)
  // Nobody answered the notices: the sessions are closed within the deadline.
  await waitFor(() => relay.handle.mailboxes.sessionCount() === 0, 'stalled sessions closed', deadlineMs + 5000)
  assert.equal(relay.handle.mailboxes.pushBytesOutstanding(), 0)
})

test('acks asked for together share a frame; each caller gets the count of its own ids', { timeout: 30_000 }, async (t) => {
  const lines: string[] = []
  const logger = createLogger({ level: 'debug', sink: (line) => { lines.push(line) } })
  const relay = await startTestRelay(t, { logger, limits: { depositsPerMinutePerConnection: 1_000_000 } })
  const box = makeMailboxKey()
  const n = await node(t)
  await ownerSeen(n, relay.addr, box)
  await Promise.all(Array.from({ length: 300 }, async () => { await depositTo(n, relay.addr, box.mailboxId, env(100)) }))
  const s = await openMailboxSession(n, relay.addr, box, quiet)
  const items = [...await s.fetch(), ...await s.fetch()]
  assert.equal(items.length, 300)
  const before = lines.filter((l) => l.includes('mailbox-ack')).length
  // 300 one-id acks (as pushed items are acked) plus one repeated id: the repeat deletes nothing.
  const first = items[0] as { id: Uint8Array }
  const counts = await Promise.all([...items.map(async (i) => await s.ack([i.id])), s.ack([first.id])])
  assert.equal(counts.filter((c) => c === 1).length, 300)
  assert.equal(counts.at(-1), 0)
  const frames = lines.filter((l) => l.includes('mailbox-ack')).length - before
  assert.ok(frames <= 2, `301 acks in ${frames} frames`)
  assert.equal(relay.handle.store.usage(box.mailboxId).count, 0)
  await s.close()
})

test('push: an owner session that reads gets every new item by notice and fetch, and is not closed', { timeout: 30_000 }, async (t) => {
  const relay = await startTestRelay(t, { limits: { depositsPerMinutePerConnection: 1_000_000, sessionNoticeDeadlineMs: 2000 } })
  const box = makeMailboxKey()
  const owner = await node(t)
  const s = await openMailboxSession(owner, relay.addr, box, quiet)
  const got: Uint8Array[] = []
  const ids: Uint8Array[] = []
  s.onPush(async (item) => { got.push(item.envelope); ids.push(item.id); await s.ack([item.id]) })
  const sender = await node(t)
  const sent = Array.from({ length: 700 }, () => env(500))
  await Promise.all(sent.map(async (e) => { await depositTo(sender, relay.addr, box.mailboxId, e) }))
  await waitFor(() => got.length === sent.length, 'all pushed', 20_000)
  assert.deepEqual(new Set(got.map((g) => Buffer.from(g).toString('hex'))), new Set(sent.map((g) => Buffer.from(g).toString('hex'))))
  await waitFor(() => relay.handle.store.usage(box.mailboxId).count === 0, 'all acked (one by one, in shared frames)', 10_000)
  await new Promise((resolve) => setTimeout(resolve, 2500)) // longer than the notice deadline: an answering session stays open
  assert.equal(s.closed, false)
  assert.equal(relay.handle.mailboxes.sessionCount(), 1)
  await s.close()
})

test('a reset deposit stream never tears down the connection: the owner session on it stays open, deposits retry on a new stream', { timeout: 30_000 }, async (t) => {
  const relay = await startTestRelay(t, { limits: { depositsPerMinutePerConnection: 1_000_000 } })
  const box = makeMailboxKey()
  const n = await node(t)
  const s = await openMailboxSession(n, relay.addr, box, quiet)
  let closed = false
  s.onClose(() => { closed = true })
  await depositTo(n, relay.addr, box.mailboxId, env(100))
  const [conn] = n.getConnections()
  assert.ok(conn !== undefined)
  // The relay resets the deposit stream while deposits are in flight.
  const inFlight = Array.from({ length: 200 }, async () => { await depositTo(n, relay.addr, box.mailboxId, env(100)) })
  // The session stream was opened first; the deposit stream after it.
  const [session, deposit] = mailboxStreams(relay.handle).sort((x, y) => x.timeline.open - y.timeline.open)
  assert.ok(session !== undefined && deposit !== undefined, 'the relay holds a session and a deposit stream')
  deposit.abort(new Error('reset by test'))
  await Promise.all(inFlight)
  assert.equal(closed, false, 'the owner session survived the reset deposit stream')
  assert.equal(s.closed, false)
  assert.equal(n.getConnections().length, 1)
  assert.equal(n.getConnections()[0]?.id, conn.id, 'the same connection')
  const page = await s.fetch()
  assert.equal(page.length, relay.handle.store.usage(box.mailboxId).count)
  assert.ok(page.length >= 201)
  await s.close()
})

test('a refused stream (over the per-connection limit) leaves the owner session and the connection alive', { timeout: 60_000 }, async (t) => {
  const relay = await startTestRelay(t)
  const box = makeMailboxKey()
  const n = await node(t)
  const s = await openMailboxSession(n, relay.addr, box, quiet)
  const [conn] = n.getConnections()
  assert.ok(conn !== undefined)
  const { MAILBOX_MAX_STREAMS_PER_CONNECTION } = await import('../../src/wire/mailbox.ts')
  const extra: Stream[] = []
  let refused = 0
  for (let i = 0; i < MAILBOX_MAX_STREAMS_PER_CONNECTION + 4; i++) {
    try {
      extra.push(await conn.newStream(MAILBOX_PROTOCOL, { maxOutboundStreams: 10_000 }))
    } catch {
      refused++
    }
  }
  // The limit counts on the relay; streams past it are reset there (the dialer may only see it on first read).
  await waitFor(() => mailboxStreams(relay.handle).length <= MAILBOX_MAX_STREAMS_PER_CONNECTION, 'relay holds at most the limit')
  console.log(`stream limit: ${extra.length} opened, ${refused} refused at open, relay holds ${mailboxStreams(relay.handle).length}`)
  for (const st of extra) st.abort(new Error('done'))
  assert.equal(s.closed, false)
  assert.equal(n.getConnections()[0]?.id, conn.id)
  await depositTo(n, relay.addr, box.mailboxId, env(100))
  assert.equal((await s.fetch()).length, 1)
  await s.close()
})

test('expired or acknowledged envelopes leave the usage counters exact across a relay restart', async (t) => {
  let clock = Date.now()
  const net = await createTestnet(t, { relays: 1, devices: 1, waitForReservations: false, now: () => clock, relayLimits: { expiryMs: 10_000 } })
  const [d] = net.devices
  const relay = net.relays[0]
  assert.ok(d !== undefined && relay !== undefined)
  const a = makeMailboxKey()
  const b = makeMailboxKey()
  for (let i = 0; i < 5; i++) await d.deposit(relay.addr, a.mailboxId, env(100 + i))
  clock += 6000
  for (let i = 0; i < 3; i++) await d.deposit(relay.addr, b.mailboxId, env(1000))
  const s = await d.openMailbox(relay.addr, a)
  const items = await s.fetch()
  await s.ack(items.slice(0, 2).map((i) => i.id))
  await s.close()
  const truth = (box: TestBox): { count: number, bytes: number } => {
    const row = relay.handle.db.prepare('SELECT count(*) AS n, coalesce(sum(size), 0) AS b FROM envelopes WHERE mailbox = ?').get([Buffer.from(box.mailboxId)]) as { n: number, b: number }
    return { count: Number(row.n), bytes: Number(row.b) }
  }
  assert.deepEqual(relay.handle.store.usage(a.mailboxId), { count: 3, bytes: 102 + 103 + 104 })
  assert.deepEqual(relay.handle.store.usage(a.mailboxId), truth(a))
  clock += 5000 // a's envelopes expire, b's do not
  assert.equal(relay.handle.sweep(), 3)
  assert.deepEqual(relay.handle.store.usage(a.mailboxId), { count: 0, bytes: 0 })
  assert.deepEqual(relay.handle.store.usage(b.mailboxId), { count: 3, bytes: 3000 })
  await relay.restart()
  assert.deepEqual(relay.handle.store.usage(b.mailboxId), { count: 3, bytes: 3000 })
  assert.deepEqual(relay.handle.store.usage(b.mailboxId), truth(b))
  assert.deepEqual(relay.handle.store.usage(a.mailboxId), truth(a))
})

test('rewind: items fetched and left unacked come back on the same session (a copy kept after a store failure)', { timeout: 30_000 }, async (t) => {
  const relay = await startTestRelay(t)
  const box = makeMailboxKey()
  const n = await node(t)
  const s = await openMailboxSession(n, relay.addr, box, quiet)
  for (let i = 0; i < 3; i++) await depositTo(n, relay.addr, box.mailboxId, env(100 + i))
  const items = await s.fetch()
  assert.equal(items.length, 3)
  assert.equal(await s.ack([(items[0] as { id: Uint8Array }).id]), 1)
  assert.deepEqual(await s.fetch(), [], 'the position is past every item: without a rewind the two kept ones are never fetched again')
  s.rewind()
  const again = await s.fetch()
  assert.deepEqual(again.map((i) => Buffer.from(i.id).toString('hex')), items.slice(1).map((i) => Buffer.from(i.id).toString('hex')))
  await s.close()
})
