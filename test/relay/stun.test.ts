// The relay's STUN responder: answers a Binding Request with the address it sees; drops everything
// else (garbage, oversized, truncated, malformed attributes, unsolicited responses) with a debug line
// and keeps answering. Loopback, ephemeral port.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createSocket, type Socket } from 'node:dgram'
import { randomBytes } from 'node:crypto'
import stun from '@msimerson/stun'
import { createLogger } from '../../src/platform/logger.ts'
import { startStunServer, STUN_MAX_ANSWERS_PER_SECOND, STUN_MAX_PACKET_BYTES, STUN_SOURCE_BURST, STUN_SOURCE_PER_SECOND } from '../../src/relay/stun.ts'
import { waitFor } from '../helpers/wait.ts'

async function client (host = '127.0.0.1'): Promise<{ socket: Socket, port: number, replies: Buffer[] }> {
  const socket = createSocket('udp4')
  const replies: Buffer[] = []
  socket.on('message', (m) => { replies.push(m) })
  await new Promise<void>((resolve) => { socket.bind(0, host, () => { resolve() }) })
  return { socket, port: socket.address().port, replies }
}

test('stun: a Binding Request gets the mapped address back; garbage is dropped with a debug line, never a crash', async (t) => {
  const lines: string[] = []
  const server = await startStunServer({ port: 0, host: '127.0.0.1', logger: createLogger({ level: 'debug', sink: (l) => { lines.push(l) } }) })
  t.after(async () => { await server.close() })
  assert.ok(server.port > 0)
  const c = await client()
  t.after(() => { c.socket.close() })
  const send = (b: Buffer): void => { c.socket.send(b, server.port, '127.0.0.1') }

  const ask = async (): Promise<void> => {
    const req = stun.createMessage(stun.constants.STUN_BINDING_REQUEST)
    const before = c.replies.length
    send(req.toBuffer())
    await waitFor(() => c.replies.length > before, 'a binding response')
    const res = stun.decode(c.replies[c.replies.length - 1] as Buffer)
    assert.equal(res.type, stun.constants.STUN_BINDING_RESPONSE)
    assert.deepEqual(res.transactionId, req.transactionId)
    assert.deepEqual(res.getXorAddress(), { address: '127.0.0.1', port: c.port, family: 'IPv4' })
  }
  await ask()

  const header = (type: number, length: number): Buffer => {
    const b = Buffer.alloc(20)
    b.writeUInt16BE(type, 0); b.writeUInt16BE(length, 2); b.writeUInt32BE(0x2112a442, 4); randomBytes(12).copy(b, 8)
    return b
  }
  const badAttr = Buffer.concat([header(0x0001, 8), Buffer.from([0x00, 0x20, 0x00, 0x40, 1, 2, 3, 4])]) // attribute claims 64 bytes, has 4
  const response = stun.createMessage(stun.constants.STUN_BINDING_RESPONSE)
  response.addXorAddress('1.2.3.4', 5)
  const garbage: Array<[string, Buffer]> = [
    ['random', randomBytes(100)],
    ['empty', Buffer.alloc(0)],
    ['oversized', Buffer.concat([header(0x0001, STUN_MAX_PACKET_BYTES), Buffer.alloc(STUN_MAX_PACKET_BYTES)])],
    ['jumbo', randomBytes(60_000)],
    ['truncated header', header(0x0001, 0).subarray(0, 12)],
    ['length beyond the packet', header(0x0001, 400)],
    ['bad attribute', badAttr],
    ['unsolicited response', response.toBuffer()],
    ['indication', header(0x0011, 0)]
  ]
  // One at a time, each waited for: a burst could overflow the socket buffer, and UDP loses silently.
  const total = (): number => Object.values(server.dropped).reduce((x, y) => x + y, 0)
  const random = Array.from({ length: 40 }, (_, i) => randomBytes(1 + ((i * 37) % 600)))
  for (const b of [...garbage.map(([, x]) => x), ...random]) {
    const before = total()
    send(b)
    await waitFor(() => total() > before, 'the bad packet is dropped', 5_000)
  }
  assert.ok(server.dropped.oversized >= 2, JSON.stringify(server.dropped))
  assert.ok(server.dropped['not-stun'] >= 40, JSON.stringify(server.dropped))
  assert.ok(server.dropped.unsolicited >= 2, JSON.stringify(server.dropped))
  assert.ok(server.dropped.malformed >= 1, JSON.stringify(server.dropped))
  assert.ok(lines.some((l) => / debug .*stun-dropped reason=oversized/.test(l)))
  assert.ok(!lines.some((l) => l.includes('127.0.0.1')), 'no client address in the log')
  // Nothing was answered but the requests, and the responder still works.
  assert.equal(server.answered, 1)
  await ask()
  assert.equal(server.answered, 2)
})

test('stun: a port already in use is an error at start, not a crash later', async (t) => {
  const a = await startStunServer({ port: 0, host: '127.0.0.1', logger: createLogger({ level: 'silent' }) })
  t.after(async () => { await a.close() })
  await assert.rejects(startStunServer({ port: a.port, host: '127.0.0.1', logger: createLogger({ level: 'silent' }) }), /EADDRINUSE/)
})

test('stun: one flooding source is held to its own bucket; another source still gets answers', { timeout: 30_000 }, async (t) => {
  const server = await startStunServer({ port: 0, host: '127.0.0.1', logger: createLogger({ level: 'silent' }) })
  t.after(async () => { await server.close() })
  const flooder = await client('127.0.0.1')
  const other = await client('127.0.0.2') // another source address (all of 127/8 is loopback on Linux)
  t.after(() => { flooder.socket.close(); other.socket.close() })
  const request = (): Buffer => stun.createMessage(stun.constants.STUN_BINDING_REQUEST).toBuffer()
  const processed = (): number => server.answered + Object.values(server.dropped).reduce((x, y) => x + y, 0)

  // More than the global cap, in small batches each read by the server before the next (UDP loses silently
  // when a socket buffer overflows): without a per-source bucket this one source would take every answer.
  const started = Date.now()
  let sent = 0
  while (sent < STUN_MAX_ANSWERS_PER_SECOND + 200) {
    for (let i = 0; i < 50; i++, sent++) flooder.socket.send(request(), server.port, '127.0.0.1')
    const deadline = Date.now() + 2_000
    while (processed() < sent && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve))
  }
  const elapsedS = (Date.now() - started) / 1000
  const floodAnswers = server.answered
  assert.ok(floodAnswers <= STUN_SOURCE_BURST + Math.ceil(elapsedS * STUN_SOURCE_PER_SECOND) + 1, `the flooder got ${floodAnswers} answers in ${elapsedS} s`)
  assert.ok(server.dropped['source-limited'] >= sent - floodAnswers - 50, JSON.stringify(server.dropped))

  // Right after the flood, a request from elsewhere is answered (its bucket is its own, and the global cap was
  // not used up by the flooder).
  const req = stun.createMessage(stun.constants.STUN_BINDING_REQUEST)
  other.socket.send(req.toBuffer(), server.port, '127.0.0.1')
  await waitFor(() => other.replies.length > 0, 'an answer for the other source', 5_000)
  const res = stun.decode(other.replies[0] as Buffer)
  assert.deepEqual(res.transactionId, req.transactionId)
  assert.deepEqual(res.getXorAddress(), { address: '127.0.0.2', port: other.port, family: 'IPv4' })
  assert.equal(server.dropped['rate-limited'], 0, 'the global cap was never reached')
})
