// Bad input on the WebRTC signalling protocol (/webrtc-signaling/0.0.1, carried over any connection,
// normally a relay circuit): garbage, an oversized length prefix, a candidate before any offer, an offer
// whose SDP is nonsense, a real offer followed by nonsense candidates, a dialler that vanishes mid-ICE.
// Each is dropped (the stream is closed; @libp2p/webrtc logs it under libp2p:webrtc:error, our side
// logs dead links at debug), the process never crashes, no usable WebRTC link appears, and the target
// device keeps delivering.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { lpStream } from '@libp2p/utils'
import { createTestnet } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'
import { WEBRTC_SIGNALING_PROTOCOL } from '../../src/net/holepunch.ts'
import type { DeviceNode } from '../../src/net/node.ts'
import { ICE_CANDIDATE, SDP_OFFER, message, realOffer } from '../helpers/signalling.ts'

async function stillDelivers (from: DeviceNode, to: DeviceNode): Promise<void> {
  assert.equal((await from.deliver({ peerId: to.peerId, addresses: to.addresses() }, new Uint8Array(1024), {})).path, 'direct')
}

test('signalling: malformed, oversized and unsolicited messages are dropped; no crash, no link, delivery goes on', { timeout: 90_000 }, async (t) => {
  const net = await createTestnet(t, { relays: 1, devices: 2 })
  const [attacker, target] = net.devices
  assert.ok(attacker !== undefined && target !== undefined)
  target.onEnvelope(async () => false)
  attacker.onEnvelope(async () => false)
  await stillDelivers(attacker, target)

  const send = async (frames: Uint8Array[], raw?: Uint8Array): Promise<void> => {
    const stream = await attacker.libp2p.dialProtocol(target.libp2p.peerId, WEBRTC_SIGNALING_PROTOCOL, { signal: AbortSignal.timeout(5_000) })
    if (raw !== undefined) {
      stream.send(raw)
    } else {
      const lp = lpStream(stream)
      for (const f of frames) await lp.write(f, { signal: AbortSignal.timeout(5_000) })
    }
    // Whatever the target does with it, the stream ends (answered, reset or closed) or we give up.
    await new Promise((resolve) => setTimeout(resolve, 300))
    stream.abort(new Error('attacker done'))
  }
  const offer = await realOffer()
  const cases: Array<[string, () => Promise<void>]> = [
    ['garbage bytes', async () => { await send([], new Uint8Array(Buffer.from('\xff\xff\xff\xff\x0fnot protobuf at all', 'latin1'))) }],
    ['oversized length prefix', async () => { await send([], Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3)) }],
    ['not a protobuf message', async () => { await send([new Uint8Array(Buffer.from('\x08\x09\x12\xff\xff\xff', 'latin1'))]) }],
    ['candidate before any offer', async () => { await send([message(ICE_CANDIDATE, '{"candidate":"candidate:1 1 UDP 1 10.0.0.1 9 typ host","sdpMid":"0"}')]) }],
    ['nonsense SDP offer', async () => { await send([message(SDP_OFFER, 'v=0\r\nbanana\r\n')]) }],
    ['empty SDP offer', async () => { await send([message(SDP_OFFER, '')]) }],
    ['real offer, nonsense candidates, then gone', async () => {
      await send([
        message(SDP_OFFER, offer),
        message(ICE_CANDIDATE, 'not json'),
        message(ICE_CANDIDATE, '{"candidate":"candidate:garbage","sdpMid":"0"}'),
        message(ICE_CANDIDATE, '{"candidate":"candidate:1 1 UDP 2122260223 999.1.1.1 99999 typ host","sdpMid":"nope"}'),
        message(ICE_CANDIDATE, JSON.stringify({ candidate: 'candidate:' + 'x'.repeat(60_000), sdpMid: '0' }))
      ])
    }]
  ]
  for (const [name, run] of cases) {
    await run().catch(() => {}) // the target may reset the stream under us: that is the point
    await stillDelivers(attacker, target).catch((err: unknown) => { throw new Error(`after "${name}" the target no longer delivers`, { cause: err }) })
  }
  // A half-made WebRTC connection (the dialler vanished mid-ICE) never counts and is closed.
  await waitFor(() => target.libp2p.getConnections().every((c) => !c.remoteAddr.toString().includes('/webrtc')) ? true : undefined, 'no WebRTC connection left', 15_000)
  assert.equal(target.linkTo(attacker.peerId), 'direct')
  await stillDelivers(target, attacker)
})
