import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { multiaddr } from '@multiformats/multiaddr'
import { lpStream } from '@libp2p/utils'
import { createTestnet } from '../helpers/testnet.ts'
import { makeMailboxKey } from '../helpers/mailbox-key.ts'
import { NetError } from '../../src/net/errors.ts'
import { MAILBOX_PROTOCOL, MAX_RELAY_FRAME_BYTES, decodeRelayFrame } from '../../src/wire/mailbox.ts'
import { DELIVER_PROTOCOL, decodeDeliverFrame } from '../../src/wire/deliver.ts'
import { MAX_ENVELOPE_BYTES } from '../../src/wire/envelope.ts'

const env = (n: number): Uint8Array => new Uint8Array(randomBytes(n))

/** Writes only a varint length prefix announcing `announced` bytes plus a little data: the peer must refuse on the prefix. */
function prefix (announced: number): Uint8Array {
  const out: number[] = []
  let v = announced
  while (v >= 0x80) { out.push((v & 0x7f) | 0x80); v = Math.floor(v / 128) }
  out.push(v)
  return Uint8Array.from([...out, 1, 1, 0, 0])
}

test('oversized: envelope over the relay maximum refused with a reason; over the wire maximum refused before dialing', async (t) => {
  const net = await createTestnet(t, { relays: 1, devices: 1, waitForReservations: false, relayLimits: { maxEnvelopeBytes: 4096 } })
  const [d] = net.devices
  const relay = net.relays[0]
  assert.ok(d !== undefined && relay !== undefined)
  const box = makeMailboxKey()
  await assert.rejects(d.deposit(relay.addr, box.mailboxId, env(16384)),
    (err) => NetError.is(err, 'REFUSED') && err.reason === 'TOO_LARGE' && /size limit/.test(err.message))
  await assert.rejects(d.deposit(relay.addr, box.mailboxId, env(MAX_ENVELOPE_BYTES + 1)), (err) => NetError.is(err, 'TOO_LARGE'))
  await d.deposit(relay.addr, box.mailboxId, env(4096))
})

test('oversized: a raw frame announcing 16 MiB is refused on its length prefix, by the relay and by a device', async (t) => {
  const net = await createTestnet(t, { relays: 1, devices: 2, waitForReservations: false })
  const [a, b] = net.devices
  const relay = net.relays[0]
  assert.ok(a !== undefined && b !== undefined && relay !== undefined)
  b.onEnvelope(async () => { assert.fail('an oversized frame must never reach the handler') })

  const ms = await a.libp2p.dialProtocol(multiaddr(relay.addr), MAILBOX_PROTOCOL)
  ms.send(prefix(16 * 1024 * 1024))
  const reply = decodeRelayFrame((await lpStream(ms, { maxDataLength: MAX_RELAY_FRAME_BYTES }).read({ signal: AbortSignal.timeout(5000) })).subarray())
  assert.equal(reply.type, 'error')
  assert.ok(reply.type === 'error' && reply.reason === 'TOO_LARGE')

  const ds = await a.libp2p.dialProtocol(multiaddr(b.addresses()[0] ?? ''), DELIVER_PROTOCOL)
  ds.send(prefix(16 * 1024 * 1024))
  const ack = decodeDeliverFrame((await lpStream(ds).read({ signal: AbortSignal.timeout(5000) })).subarray())
  assert.deepEqual(ack, { type: 'acks', acks: [{ id: 0, status: 'too-large' }] }) // id 0: the stream itself
})
