// WebRTC is only for contacts: its ICE candidates carry the device's LAN and public addresses. A stranger
// who knows a device's peer id and one of its relays can open a circuit to it; that must get them no
// WebRTC connection in either direction and no SDP answer or ICE candidate. The same two devices upgrade
// as soon as the predicate allows them (so the refusals above are the predicate's doing, nothing else).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createTestnet, waitForReservations } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'
import { HOLEPUNCH_ATTEMPT_MS, HOLEPUNCH_RETRY_MIN_MS, HOLEPUNCH_TICK_MS, WEBRTC_SIGNALING_PROTOCOL } from '../../src/net/holepunch.ts'
import { isWebRTC } from '../../src/net/path.ts'
import { createWebRTCGate, WEBRTC_MAX_CONCURRENT, WEBRTC_SIGNALING_MAX_INBOUND_STREAMS } from '../../src/net/webrtc-guard.ts'
import type { DeviceNode } from '../../src/net/node.ts'
import { askStunPort } from '../../src/net/stun-port.ts'
import { NetError } from '../../src/net/errors.ts'
import { STUN_PORT_PROTOCOL, STUN_PORT_VERSION } from '../../src/wire/stun-port.ts'
import { SDP_OFFER, message, realOffer } from '../helpers/signalling.ts'

const webrtcConns = (x: DeviceNode): number => x.libp2p.getConnections().filter((c) => isWebRTC(c.remoteAddr)).length

test('webrtc: a stranger with a circuit gets no WebRTC either way and no ICE candidate; allowed, the same pair upgrades', { timeout: 90_000 }, async (t) => {
  const net = await createTestnet(t, { relays: 1, devices: 0 })
  // Roles are set after the peer ids are known: the target must be the lower id, the side that dials.
  const allowed = new Map<string, Set<string>>()
  const allowOf = (self: () => string) => (peer: string): boolean => allowed.get(self())?.has(peer) ?? false
  const ids: { x?: string, y?: string } = {}
  const x = await net.addDevice({ listen: [], allowWebRTC: allowOf(() => ids.x ?? '') })
  const y = await net.addDevice({ listen: [], allowWebRTC: allowOf(() => ids.y ?? '') })
  ids.x = x.peerId
  ids.y = y.peerId
  const [target, stranger] = x.peerId < y.peerId ? [x, y] : [y, x]
  allowed.set(stranger.peerId, new Set([target.peerId])) // the stranger would take anything; the target allows nobody
  await Promise.all([waitForReservations(target, 1), waitForReservations(stranger, 1)])
  target.onEnvelope(async () => false)
  stranger.onEnvelope(async () => false)

  // (A) The stranger opens a bare circuit; the target (lower id) would dial WebRTC back over it.
  assert.equal((await stranger.deliver({ peerId: target.peerId, addresses: target.addresses() }, new Uint8Array(64), {})).path, 'relayed')
  await waitFor(async () => (await target.libp2p.peerStore.get(stranger.libp2p.peerId)).protocols.includes(WEBRTC_SIGNALING_PROTOCOL), 'the target knows the stranger speaks WebRTC signalling')
  await new Promise((resolve) => setTimeout(resolve, HOLEPUNCH_TICK_MS * 3)) // several upgrade ticks: none may dial
  assert.equal(webrtcConns(target), 0, 'the target dialled no WebRTC to a stranger')
  assert.equal(webrtcConns(stranger), 0)
  assert.ok(!net.logs.some((l) => /holepunch-(direct|failed)/.test(l)), 'no attempt was even started')

  // (B) The stranger sends a real SDP offer over the circuit: the stream is reset before anything comes back.
  const stream = await stranger.libp2p.dialProtocol(target.libp2p.peerId, WEBRTC_SIGNALING_PROTOCOL, { signal: AbortSignal.timeout(5_000) })
  const lp = lpStream(stream)
  await lp.write(message(SDP_OFFER, await realOffer()), { signal: AbortSignal.timeout(5_000) }).catch(() => {}) // may already be reset
  const answer = await lp.read({ signal: AbortSignal.timeout(10_000) }).then((m) => Buffer.from(m.subarray()).toString('latin1'), (err: unknown) => err as Error)
  assert.ok(answer instanceof Error, `the target answered the stranger: ${typeof answer === 'string' ? answer.slice(0, 200) : ''}`)
  assert.notEqual(answer.name, 'TimeoutError', 'the stream was reset, not left hanging')
  assert.notEqual(answer.name, 'AbortError')
  // And the stranger's own explicit WebRTC dial fails: the target refuses it before SDP.
  const circuit = target.addresses().find((a) => a.includes('/p2p-circuit'))
  assert.ok(circuit !== undefined)
  await assert.rejects(stranger.libp2p.dial(multiaddr(circuit.replace('/p2p-circuit', '/p2p-circuit/webrtc')), { signal: AbortSignal.timeout(8_000), force: true }))
  assert.equal(webrtcConns(target), 0)
  assert.equal(webrtcConns(stranger), 0)
  // Delivery over the circuit is unaffected.
  assert.equal((await target.deliver({ peerId: stranger.peerId, addresses: stranger.addresses() }, new Uint8Array(64), {})).path, 'relayed')

  // Once a contact (both allow each other), the very same pair upgrades.
  allowed.set(target.peerId, new Set([stranger.peerId]))
  // The refused attempts above may have put the pair in back-off (HOLEPUNCH_RETRY_MIN_MS, 30 s): the next try
  // comes after it, plus an attempt (HOLEPUNCH_ATTEMPT_MS) that a loaded machine makes slow.
  await waitFor(() => target.linkTo(stranger.peerId) === 'hole-punched' && stranger.linkTo(target.peerId) === 'hole-punched', 'contacts upgrade to WebRTC',
    HOLEPUNCH_RETRY_MIN_MS + 4 * HOLEPUNCH_ATTEMPT_MS + 10_000)
  assert.equal((await stranger.deliver({ peerId: target.peerId, addresses: target.addresses() }, new Uint8Array(64), {})).path, 'direct')
})

test('webrtc gate: at most WEBRTC_MAX_CONCURRENT negotiations in flight; a throwing predicate allows nobody', () => {
  assert.ok(WEBRTC_MAX_CONCURRENT >= 2 && WEBRTC_MAX_CONCURRENT <= 4)
  const gate = createWebRTCGate((p) => { if (p === 'boom') throw new Error('store closed'); return p === 'friend' })
  assert.equal(gate.allows('friend'), true)
  assert.equal(gate.allows('stranger'), false)
  assert.equal(gate.allows('boom'), false)
  for (let i = 0; i < WEBRTC_MAX_CONCURRENT; i++) assert.equal(gate.acquire(), true)
  assert.equal(gate.full(), true)
  assert.equal(gate.acquire(), false)
  gate.release()
  assert.equal(gate.full(), false)
  assert.equal(gate.acquire(), true)
  assert.equal(gate.stats.inFlight, WEBRTC_MAX_CONCURRENT)
})

test('stun-port: a bad answer (port 0, wrong version) is a NetError at the stream, not a raw WireError', { timeout: 60_000 }, async (t) => {
  const net = await createTestnet(t, { relays: 1, devices: 2 })
  const [asker, liar] = net.devices
  assert.ok(asker !== undefined && liar !== undefined)
  liar.onEnvelope(async () => false)
  let frame = Uint8Array.of(STUN_PORT_VERSION, 0, 0)
  await liar.libp2p.handle(STUN_PORT_PROTOCOL, (stream) => {
    const lp = lpStream(stream)
    lp.write(frame).then(async () => { await stream.close() }).catch(() => {})
  })
  assert.equal((await asker.deliver({ peerId: liar.peerId, addresses: liar.addresses() }, new Uint8Array(8), {})).path, 'direct')
  const conn = asker.libp2p.getConnections(liar.libp2p.peerId)[0]
  assert.ok(conn !== undefined)
  for (const [bad, code] of [[Uint8Array.of(STUN_PORT_VERSION, 0, 0), 'BAD_FRAME'], [Uint8Array.of(0x7f, 0, 1), 'UNSUPPORTED_VERSION']] as const) {
    frame = bad
    await assert.rejects(askStunPort(conn), (err: unknown) => NetError.is(err, code))
  }
})

test('webrtc: answers are capped — one signalling stream per connection, WEBRTC_MAX_CONCURRENT negotiations in all', { timeout: 90_000 }, async (t) => {
  const net = await createTestnet(t, { relays: 1, devices: WEBRTC_MAX_CONCURRENT + 2 })
  const [target, ...callers] = net.devices
  assert.ok(target !== undefined && callers.length === WEBRTC_MAX_CONCURRENT + 1)
  target.onEnvelope(async () => false)
  const open = async (from: DeviceNode): Promise<Awaited<ReturnType<DeviceNode['libp2p']['dialProtocol']>>> => {
    assert.equal((await from.deliver({ peerId: target.peerId, addresses: target.addresses() }, new Uint8Array(8), {})).path, 'direct')
    return await from.libp2p.dialProtocol(target.libp2p.peerId, WEBRTC_SIGNALING_PROTOCOL, { signal: AbortSignal.timeout(5_000) })
  }
  const ended = (s: { status: string }): boolean => s.status !== 'open'
  // Each caller (all allowed) opens a signalling stream and sends nothing: each holds a negotiation slot.
  const held = []
  for (const c of callers.slice(0, WEBRTC_MAX_CONCURRENT)) held.push(await open(c))
  // The next caller's stream is reset at once: all slots are taken.
  const extra = await open(callers[WEBRTC_MAX_CONCURRENT] as DeviceNode)
  await waitFor(() => ended(extra), 'the stream beyond the cap is reset', 5_000)
  // A second stream on a connection that already has one is refused by libp2p's per-protocol stream limit.
  assert.equal(WEBRTC_SIGNALING_MAX_INBOUND_STREAMS, 1)
  const second = await (callers[0] as DeviceNode).libp2p.dialProtocol(target.libp2p.peerId, WEBRTC_SIGNALING_PROTOCOL, { signal: AbortSignal.timeout(5_000) })
    .then((s) => s, (err: unknown) => err as Error)
  if (!(second instanceof Error)) await waitFor(() => ended(second), 'the second stream on one connection is reset', 5_000)
  assert.ok(held.every((s) => !ended(s)), 'the streams within the cap are still being served')
  for (const s of held) s.abort(new Error('done'))
})
