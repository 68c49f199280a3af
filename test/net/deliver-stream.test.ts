// /0m1/deliver/2.0.0 on real libp2p over loopback: one long-lived stream per connection and direction, pipelined
// envelopes with ids, per-envelope acks, the window, and a dead or refused stream costing only what was on it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Connection, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import type { Uint8ArrayList } from 'uint8arraylist'
import { createTestnet } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'
import { NetError } from '../../src/net/errors.ts'
import { ACK_DEADLINE_MS, outboundState, sendOnConnection } from '../../src/net/deliver-outbound.ts'
import type { DeviceNode } from '../../src/net/node.ts'
import { deliverHandler, InboundBudget } from '../../src/net/deliver-inbound.ts'
import { DELIVER_MAX_INBOUND_STREAMS } from '../../src/net/deliver.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { decodeDeliverFrame, DELIVER_PROTOCOL, DELIVER_PROTOCOL_2_0, DELIVER_WINDOW, encodeDeliverFrame, type DeliverAck } from '../../src/wire/deliver.ts'

/** An envelope whose first 4 bytes say which one it is. */
function env (i: number, size = 200): Uint8Array {
  const e = new Uint8Array(size).fill(0xee)
  new DataView(e.buffer).setUint32(0, i)
  return e
}
const indexOf = (e: Uint8Array): number => new DataView(e.buffer, e.byteOffset).getUint32(0)

function connsBetween (x: DeviceNode, y: DeviceNode): Connection[] {
  return x.libp2p.getConnections().filter((c) => c.remotePeer.toString() === y.peerId)
}
function deliverStreams (x: DeviceNode, y: DeviceNode, direction: 'inbound' | 'outbound'): Stream[] {
  return connsBetween(x, y).flatMap((c) => c.streams).filter((s) => s.protocol === DELIVER_PROTOCOL && s.direction === direction)
}
/** The one connection the two share (the tests dial once, then only reuse it). */
function onlyConn (x: DeviceNode, y: DeviceNode): Connection {
  const cs = connsBetween(x, y)
  assert.equal(cs.length, 1, 'one connection between the two devices')
  return cs[0] as Connection
}

/** A gate that holds handlers until opened. */
function gate (): { wait: () => Promise<void>, open: () => void } {
  let open!: () => void
  const p = new Promise<void>((resolve) => { open = resolve })
  return { wait: async () => { await p }, open }
}

async function twoDevices (t: Parameters<typeof createTestnet>[0]): Promise<{ a: DeviceNode, b: DeviceNode, toB: { peerId: string, addresses: string[] }, onlyConnToB: { peerId: string, addresses: string[] } }> {
  const net = await createTestnet(t, { relays: 0, devices: 2 })
  const [a, b] = net.devices
  assert.ok(a !== undefined && b !== undefined)
  // b dials a once: after that both send over that one connection, and a's first sends must open one stream together.
  a.onEnvelope(async () => false)
  assert.equal((await b.deliver({ peerId: a.peerId, addresses: a.addresses() }, env(0), {})).path, 'direct')
  return { a, b, toB: { peerId: b.peerId, addresses: b.addresses() }, onlyConnToB: { peerId: b.peerId, addresses: [] } }
}

test('pipelined: many envelopes on one stream per direction, handlers in send order, each acked by id', async (t) => {
  const { a, b, toB } = await twoDevices(t)
  const N = 300
  const order: number[] = []
  let running = 0
  let maxRunning = 0
  b.onEnvelope(async (e, info) => {
    assert.equal(info.path, 'direct')
    order.push(indexOf(e))
    running++
    maxRunning = Math.max(maxRunning, running)
    // Resolve out of order: odd envelopes a turn later than even ones, so acks come back in another order than sent.
    await new Promise((resolve) => setImmediate(resolve))
    if (indexOf(e) % 2 === 1) await new Promise((resolve) => setImmediate(resolve))
    running--
    return false
  })
  const paths = await Promise.all(Array.from({ length: N }, async (_, i) => await a.deliver(toB, env(i + 1), {})))
  assert.ok(paths.every((p) => p.path === 'direct'))
  assert.deepEqual(order, Array.from({ length: N }, (_, i) => i + 1), 'frames arrive and start their handler in send order')
  assert.ok(maxRunning > 1, 'the receiver runs handlers concurrently')
  assert.ok(maxRunning <= DELIVER_WINDOW, `at most a window in the handler (${maxRunning})`)
  const conn = onlyConn(a, b)
  assert.equal(deliverStreams(a, b, 'outbound').length, 1, 'one outbound deliver stream for all sends')
  assert.equal(deliverStreams(b, a, 'inbound').length, 1, 'one inbound deliver stream at the receiver')
  const first = outboundState(conn)?.streamId
  assert.ok(first !== undefined)
  for (let i = 0; i < 20; i++) await a.deliver(toB, env(N + i + 1), {})
  assert.equal(outboundState(conn)?.streamId, first, 'later sends reuse the same stream')
  assert.equal(deliverStreams(a, b, 'outbound').length, 1)
  // the other direction has its own stream on the same connection
  assert.equal(deliverStreams(b, a, 'outbound').length, 1)
})

test('concurrent first sends to a peer not yet connected end up on one connection and one stream', async (t) => {
  const net = await createTestnet(t, { relays: 0, devices: 2 })
  const [a, b] = net.devices
  assert.ok(a !== undefined && b !== undefined)
  let got = 0
  b.onEnvelope(async () => { got++; return false })
  assert.equal(connsBetween(a, b).length, 0)
  // Each send dials (forced); libp2p's dial queue joins concurrent dials to one peer, and the sends share the
  // stream that the first of them opens.
  const paths = await Promise.all(Array.from({ length: 50 }, async (_, i) => await a.deliver({ peerId: b.peerId, addresses: b.addresses() }, env(i + 1), {})))
  assert.ok(paths.every((p) => p.path === 'direct'))
  assert.equal(got, 50)
  assert.equal(connsBetween(a, b).length, 1, 'one connection')
  assert.equal(deliverStreams(a, b, 'outbound').length, 1, 'one stream')
})

test('a rejected envelope fails alone: the others on the stream are accepted and the stream stays', async (t) => {
  const { a, b, toB } = await twoDevices(t)
  const got: number[] = []
  b.onEnvelope(async (e) => {
    await new Promise((resolve) => setImmediate(resolve))
    if (indexOf(e) === 7) throw new Error('cannot decrypt')
    got.push(indexOf(e))
    return false
  })
  const results = await Promise.allSettled(Array.from({ length: 20 }, async (_, i) => await a.deliver(toB, env(i + 1), {})))
  results.forEach((r, i) => {
    if (i + 1 === 7) assert.ok(r.status === 'rejected' && NetError.is(r.reason, 'REJECTED'), 'the refused one is REJECTED')
    else assert.deepEqual(r, { status: 'fulfilled', value: { path: 'direct', delivered: false } })
  })
  assert.equal(got.length, 19)
  assert.equal(deliverStreams(a, b, 'outbound').length, 1, 'a rejection does not cost the stream')
  assert.equal((await a.deliver(toB, env(99), {})).path, 'direct')
})

test('a stream reset mid-flight fails only what was pending on it; the next send opens a new stream on the same connection', async (t) => {
  const { a, b, toB, onlyConnToB } = await twoDevices(t)
  const hold = gate()
  let calls = 0
  b.onEnvelope(async (e) => { calls++; if (indexOf(e) >= 100) await hold.wait(); return false })
  t.after(hold.open)
  assert.equal((await a.deliver(toB, env(1), {})).path, 'direct')
  const conn = onlyConn(a, b)
  const firstStream = outboundState(conn)?.streamId
  const backStream = deliverStreams(b, a, 'outbound')[0]
  assert.ok(firstStream !== undefined && backStream !== undefined)

  // Five envelopes held in b's handler; only the open connection is offered, so a dead stream has no fallback.
  const pending = Array.from({ length: 5 }, async (_, i) => await a.deliver(onlyConnToB, env(100 + i), {}))
  await waitFor(() => calls === 6, 'five envelopes in the receiver\'s handler')
  assert.equal(outboundState(conn)?.pending, 5)
  const inbound = deliverStreams(b, a, 'inbound')
  assert.equal(inbound.length, 1)
  inbound[0]?.abort(new Error('reset by the test'))

  const results = await Promise.allSettled(pending)
  for (const r of results) {
    assert.ok(r.status === 'rejected' && NetError.is(r.reason, 'UNREACHABLE'), String((r as PromiseRejectedResult).reason))
    const causes = ((r.reason as Error).cause as AggregateError).errors
    assert.ok(causes.some((c) => NetError.is(c, 'CLOSED')), 'failed because its stream closed')
  }
  // the connection and the other direction's stream are untouched
  assert.equal(conn.status, 'open')
  assert.equal(onlyConn(a, b), conn)
  assert.equal(backStream.status, 'open')
  assert.equal((await b.deliver({ peerId: a.peerId, addresses: [] }, env(2), {})).path, 'direct')
  assert.equal(deliverStreams(b, a, 'outbound')[0], backStream)

  // the next send works, on a fresh stream of the same connection
  assert.equal((await a.deliver(onlyConnToB, env(3), {})).path, 'direct')
  assert.equal(onlyConn(a, b), conn)
  const second = outboundState(conn)?.streamId
  assert.ok(second !== undefined && second !== firstStream, 'a new stream')
  assert.equal(deliverStreams(a, b, 'outbound').length, 1)
})

test('a stalled receiver backpressures: the sender keeps at most a window in flight, the rest wait, nothing is lost', async (t) => {
  const { a, b, onlyConnToB } = await twoDevices(t)
  b.onEnvelope(async () => false)
  await a.deliver(onlyConnToB, env(1), {}) // opens the stream
  const conn = onlyConn(a, b)
  const hold = gate()
  t.after(hold.open)
  const seen: number[] = []
  let maxPending = 0
  b.onEnvelope(async (e) => {
    seen.push(indexOf(e))
    maxPending = Math.max(maxPending, outboundState(conn)?.pending ?? 0)
    await hold.wait()
    return false
  })
  const N = 3 * DELIVER_WINDOW
  const sends = Array.from({ length: N }, async (_, i) => await a.deliver(onlyConnToB, env(10 + i), {}))
  await waitFor(() => seen.length === DELIVER_WINDOW, 'a window of envelopes in the receiver\'s handler')
  const streamId = outboundState(conn)?.streamId
  assert.ok(streamId !== undefined)
  assert.deepEqual(outboundState(conn), { pending: DELIVER_WINDOW, waiting: N - DELIVER_WINDOW, streamId })
  assert.equal(seen.length, DELIVER_WINDOW)
  hold.open()
  const paths = await Promise.all(sends)
  assert.ok(paths.every((p) => p.path === 'direct'))
  assert.deepEqual(seen, Array.from({ length: N }, (_, i) => 10 + i))
  assert.ok(maxPending <= DELIVER_WINDOW, `sender's pending never over the window (${maxPending})`)
  assert.deepEqual(outboundState(conn), { pending: 0, waiting: 0, streamId }, 'the same stream carried all of them')
})

/** A raw deliver stream from x to y on their connection, with a reader of its ack frames. */
async function rawStream (x: DeviceNode, y: DeviceNode): Promise<{ stream: Stream, send: (frame: Uint8Array) => void, ack: () => Promise<DeliverAck[] | undefined> }> {
  const stream = await x.libp2p.dialProtocol(multiaddr(y.addresses()[0] ?? ''), DELIVER_PROTOCOL)
  const lp = lpStream(stream)
  return {
    stream,
    send: (frame) => { void lp.write(frame) },
    ack: async () => {
      try {
        const f = decodeDeliverFrame((await lp.read({ signal: AbortSignal.timeout(10_000) })).subarray())
        assert.equal(f.type, 'acks')
        return f.type === 'acks' ? [...f.acks] : undefined
      } catch (err) {
        if ((err as Error).name === 'UnexpectedEOFError') return undefined
        throw err
      }
    }
  }
}

test('the receiver reads only while it has room: a sender over the window is paused, then served in full', async (t) => {
  const { a, b } = await twoDevices(t)
  const hold = gate()
  t.after(hold.open)
  let calls = 0
  b.onEnvelope(async () => { calls++; await hold.wait(); return false })
  const raw = await rawStream(a, b)
  const N = 2 * DELIVER_WINDOW
  for (let i = 1; i <= N; i++) raw.send(encodeDeliverFrame({ type: 'deliver', id: i, envelope: env(i) }))
  const inbound = await waitFor(() => deliverStreams(b, a, 'inbound').find((s) => s.readStatus === 'paused'), 'the receiver pauses the stream')
  assert.ok(inbound !== undefined)
  await waitFor(() => calls === DELIVER_WINDOW, 'a window of handlers')
  assert.equal(calls, DELIVER_WINDOW, 'no handler beyond the window while the window is full')
  hold.open()
  const acked = new Map<number, string>()
  const frames: number[] = []
  while (acked.size < N) {
    const acks = await raw.ack()
    assert.ok(acks !== undefined, 'acks for every envelope')
    frames.push(acks.length)
    for (const x of acks) acked.set(x.id, x.status)
  }
  // The window's handlers resolved together: their acks went out in one frame, on the next turn.
  assert.equal(frames[0], DELIVER_WINDOW)
  assert.equal(calls, N)
  assert.ok([...acked.values()].every((s) => s === 'accepted'))
  assert.deepEqual([...acked.keys()].sort((x, y) => x - y), Array.from({ length: N }, (_, i) => i + 1))
})

test('an oversized or unreadable frame refuses that stream only (ack id 0), and delivery goes on', async (t) => {
  const { a, b, toB } = await twoDevices(t)
  b.onEnvelope(async () => false)
  assert.equal((await a.deliver(toB, env(1), {})).path, 'direct')
  const conn = onlyConn(a, b)
  const stream = outboundState(conn)?.streamId

  // a length prefix announcing 16 MiB: refused on the prefix, before any body is buffered
  const big = await rawStream(a, b)
  big.stream.send(Uint8Array.of(0x80, 0x80, 0x80, 0x08, 1, 1, 0, 0))
  assert.deepEqual(await big.ack(), [{ id: 0, status: 'too-large' }])
  assert.equal(await big.ack(), undefined, 'then the receiver closes that stream')

  // a frame of another version
  const bad = await rawStream(a, b)
  bad.send(Uint8Array.of(1, 1, 0, 0, 0, 1, 9))
  assert.deepEqual(await bad.ack(), [{ id: 0, status: 'bad-frame' }])

  // the device's own stream and the connection carry on
  assert.equal(conn.status, 'open')
  assert.equal((await a.deliver(toB, env(2), {})).path, 'direct')
  assert.equal(outboundState(conn)?.streamId, stream)
})

test('an envelope unacknowledged past the ack deadline resets its stream (TIMEOUT), and the next send opens a new one', { timeout: ACK_DEADLINE_MS + 30_000 }, async (t) => {
  const { a, b, onlyConnToB } = await twoDevices(t)
  const hold = gate()
  t.after(hold.open)
  let stuck = true
  b.onEnvelope(async () => { if (stuck) await hold.wait(); return false })
  stuck = false
  assert.equal((await a.deliver(onlyConnToB, env(1), {})).path, 'direct')
  const conn = onlyConn(a, b)
  const first = outboundState(conn)?.streamId
  stuck = true
  // No caller signal: only the stream's own deadline ends this wait.
  const started = Date.now()
  const err: unknown = await a.deliver(onlyConnToB, env(2), {}).then(() => undefined, (e: unknown) => e)
  assert.ok(NetError.is(err, 'UNREACHABLE'))
  assert.ok(((err as Error).cause as AggregateError).errors.some((c) => NetError.is(c, 'TIMEOUT')), 'failed on the ack deadline')
  assert.ok(Date.now() - started >= ACK_DEADLINE_MS - 50, 'not before the deadline')
  stuck = false
  assert.equal((await a.deliver(onlyConnToB, env(3), {})).path, 'direct')
  assert.equal(onlyConn(a, b), conn, 'same connection')
  assert.notEqual(outboundState(conn)?.streamId, first, 'a fresh stream')
})

test('the node-wide budget bounds envelopes in handlers across streams; paused streams are served when room comes back', async (t) => {
  const { a, b } = await twoDevices(t)
  const hold = gate()
  t.after(hold.open)
  let calls = 0
  const budget = new InboundBudget(40)
  // b's deliver protocol with a small node-wide budget (the default is NODE_INBOUND_ENVELOPES).
  await b.libp2p.unhandle(DELIVER_PROTOCOL)
  await b.libp2p.handle(DELIVER_PROTOCOL, deliverHandler(() => async () => { calls++; await hold.wait(); return false }, silentLogger, budget), {
    runOnLimitedConnection: true, maxInboundStreams: DELIVER_MAX_INBOUND_STREAMS
  })
  const streams = [await rawStream(a, b), await rawStream(a, b), await rawStream(a, b)]
  const N = streams.length * DELIVER_WINDOW // 96: each stream keeps to its window, together they are over the budget
  streams.forEach((raw, s) => { for (let i = 1; i <= DELIVER_WINDOW; i++) raw.send(encodeDeliverFrame({ type: 'deliver', id: i, envelope: env(s * 1000 + i) })) })
  await waitFor(() => calls === budget.size, 'the budget\'s worth of handlers')
  await waitFor(() => deliverStreams(b, a, 'inbound').filter((s) => s.readStatus === 'paused').length >= 2, 'the starved streams paused')
  assert.equal(calls, budget.size, 'no handler beyond the node-wide budget, whatever the streams\' windows allow')
  assert.equal(budget.inUse, budget.size)
  hold.open()
  const acked = await Promise.all(streams.map(async (raw) => {
    const ids = new Set<number>()
    while (ids.size < DELIVER_WINDOW) {
      const acks = await raw.ack()
      assert.ok(acks !== undefined, 'acks for every envelope')
      for (const x of acks) { assert.equal(x.status, 'accepted'); ids.add(x.id) }
    }
    return ids.size
  }))
  assert.deepEqual(acked, streams.map(() => DELIVER_WINDOW))
  assert.equal(calls, N)
  assert.equal(budget.inUse, 0, 'every envelope gave its room back')
})

test('a reply the handler sends before it resolves (a receipt) and the ack of its envelope leave in one socket write', async (t) => {
  const { a, b, toB } = await twoDevices(t)
  const toA = { peerId: a.peerId, addresses: [] }
  // Both directions' deliver streams are open (twoDevices sent b -> a; this sends a -> b).
  b.onEnvelope(async () => false)
  assert.equal((await a.deliver(toB, env(1), {})).path, 'direct')
  // As the messenger does: the receipt is handed to the connection in the commit's turn, then the handler resolves.
  let reply: Promise<unknown> | undefined
  b.onEnvelope(async () => { reply = b.deliver(toA, env(3), {}); return false })
  // b's writes to the encrypted connection (each one Noise encryption and one socket write), read as the yamux
  // frames they carry: only those with the deliver streams' data count, so a ping, identify or DHT frame that b
  // happens to send to a meanwhile (on streams of their own, or yamux's stream 0) does not.
  const conn = onlyConn(b, a)
  const maConn = (conn as unknown as { muxer?: { maConn?: { send: (data: Uint8Array | Uint8ArrayList) => boolean } } }).muxer?.maConn
  assert.ok(maConn !== undefined, 'the connection\'s muxer writes to maConn (libp2p 3)')
  const send = maConn.send
  const writes: Array<Set<number>> = []
  maConn.send = function (this: unknown, data: Uint8Array | Uint8ArrayList) {
    writes.push(dataFrameStreams(data instanceof Uint8Array ? data : data.subarray()))
    return send.call(this, data)
  }
  try {
    assert.equal((await a.deliver(toB, env(2), {})).path, 'direct')
    assert.ok(reply !== undefined)
    await reply
  } finally {
    maConn.send = send
  }
  const deliver = new Set(conn.streams.filter((s) => s.protocol === DELIVER_PROTOCOL).map((s) => Number(s.id)))
  assert.equal(deliver.size, 2, 'b\'s inbound deliver stream (the ack) and its outbound one (the reply)')
  const deliverWrites = writes.filter((w) => [...w].some((id) => deliver.has(id)))
  // Acked on the next turn instead, it was a second write here, and a second wake-up, read and decryption on a.
  assert.equal(deliverWrites.length, 1, 'the reply and the ack in one write')
  assert.deepEqual([...(deliverWrites[0] ?? [])].filter((id) => deliver.has(id)).sort(), [...deliver].sort())
})

/** The stream ids of the yamux data frames in `bytes` (whole frames: 12-byte header, then `length` bytes of data). */
function dataFrameStreams (bytes: Uint8Array): Set<number> {
  const ids = new Set<number>()
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  for (let at = 0; at + 12 <= bytes.length;) {
    const type = view.getUint8(at + 1)
    const length = view.getUint32(at + 8)
    if (type === 0) ids.add(view.getUint32(at + 4))
    at += 12 + (type === 0 ? length : 0)
  }
  return ids
}

test('a delivered ack on a 2.0.0 stream is a broken receiver: the send fails with BAD_FRAME', async (t) => {
  const { a, b } = await twoDevices(t)
  // A receiver that speaks only 2.0.0 and still answers 'delivered' (a 2.1.0 status).
  await b.libp2p.unhandle([DELIVER_PROTOCOL, DELIVER_PROTOCOL_2_0])
  await b.libp2p.handle(DELIVER_PROTOCOL_2_0, (stream: Stream) => {
    void (async () => {
      const lp = lpStream(stream)
      const f = decodeDeliverFrame((await lp.read()).subarray())
      if (f.type === 'deliver') await lp.write(encodeDeliverFrame({ type: 'acks', acks: [{ id: f.id, status: 'delivered' }] }))
    })().catch(() => {})
  }, { runOnLimitedConnection: true })
  const conn = onlyConn(a, b)
  await assert.rejects(sendOnConnection(conn, env(1), undefined), (err) => NetError.is(err, 'BAD_FRAME'))
})
