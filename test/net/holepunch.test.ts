// Hole punching on loopback (no root): two devices that can reach each other only through a relay
// circuit (neither listens on an address of its own) upgrade to a WebRTC connection, and delivery then
// reads `direct`. The NAT version (two real NATs) is test/nat/holepunch.test.ts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createTestnet, waitForReservations } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'
import { stunHostOf, StunDirectory } from '../../src/net/stun-port.ts'
import { isRelayed, isWebRTC, linkOf, pathOf } from '../../src/net/path.ts'
import type { DeviceNode } from '../../src/net/node.ts'
import { HOLEPUNCH_ATTEMPT_MS, HOLEPUNCH_RETRY_MIN_MS } from '../../src/net/holepunch.ts'

/** The ICE configuration a device's WebRTC transport uses right now (what each attempt is given). */
async function iceConfigOf (d: DeviceNode): Promise<RTCConfiguration | undefined> {
  const tm = (d.libp2p as unknown as { components: { transportManager: { getTransports: () => Array<{ [Symbol.toStringTag]?: string, init?: { rtcConfiguration?: unknown } }> } } }).components.transportManager
  const t = tm.getTransports().find((x) => x[Symbol.toStringTag] === '@libp2p/webrtc')
  if (t === undefined) return undefined
  const c = t.init?.rtcConfiguration
  return typeof c === 'function' ? await (c as () => Promise<RTCConfiguration>)() : c as RTCConfiguration
}

/** Whether the device has imported @libp2p/webrtc yet (src/net/webrtc-lazy.ts: only at its first WebRTC use). */
function webrtcLoaded (d: DeviceNode): boolean | undefined {
  const tm = (d.libp2p as unknown as { components: { transportManager: { getTransports: () => Array<{ [Symbol.toStringTag]?: string, loaded?: boolean }> } } }).components.transportManager
  return tm.getTransports().find((x) => x[Symbol.toStringTag] === '@libp2p/webrtc')?.loaded
}

function iceHosts (c: RTCConfiguration): string[] {
  return (c.iceServers ?? []).flatMap((s) => typeof s.urls === 'string' ? [s.urls] : s.urls).map((u) => {
    const m = /^stuns?:(\[[^\]]+\]|[^:]+)(?::\d+)?$/.exec(u)
    assert.ok(m !== null, `ICE server URL ${u} is a STUN URL`)
    return m[1] as string
  })
}

test('holepunch: devices joined only by a relay circuit upgrade to WebRTC; delivery reads direct; ICE names only our relay', { timeout: 90_000 }, async (t) => {
  const net = await createTestnet(t, { relays: 1, devices: 0 })
  const relay = net.relays[0]
  assert.ok(relay !== undefined && relay.handle.stun !== undefined && relay.handle.stun.port > 0, 'the relay runs a STUN responder on an ephemeral port')
  const a = await net.addDevice({ listen: [] })
  const b = await net.addDevice({ listen: [] })
  await Promise.all([waitForReservations(a, 1), waitForReservations(b, 1)])
  assert.ok(a.addresses().every((x) => x.includes('/p2p-circuit')), 'no address but circuits: the only way in is the relay')

  // ICE configuration: our relay's STUN server, learned from the relay itself; no other host, ever.
  for (const d of [a, b]) {
    const config = await waitFor(async () => { const c = await iceConfigOf(d); return c !== undefined && (c.iceServers?.length ?? 0) > 0 ? c : undefined }, 'device learns the relay STUN port')
    assert.deepEqual(iceHosts(config), ['127.0.0.1'])
    assert.deepEqual(config.iceServers?.[0]?.urls, [`stun:127.0.0.1:${relay.handle.stun.port}`])
  }

  // Idle so far: the native WebRTC stack is not loaded, yet each listens for WebRTC under its reservation.
  for (const d of [a, b]) {
    assert.equal(webrtcLoaded(d), false, 'no WebRTC module before a WebRTC use')
    const tm = (d.libp2p as unknown as { components: { transportManager: { getAddrs: () => Array<{ toString: () => string }> } } }).components.transportManager
    assert.ok(tm.getAddrs().some((x) => x.toString().endsWith('/p2p-circuit/webrtc')), 'listening for WebRTC under the reservation')
  }

  const atB: Array<{ env: Uint8Array, path: string }> = []
  b.onEnvelope(async (env, info) => { atB.push({ env, path: info.path }); return false })
  a.onEnvelope(async () => false)
  const first = new Uint8Array(randomBytes(1024))
  const firstAt = Date.now()
  assert.equal((await a.deliver({ peerId: b.peerId, addresses: b.addresses() }, first, {})).path, 'relayed')

  // Exactly one side dials (the lower peer id); both end up with a WebRTC connection to the other.
  // Within one retry: on a loaded machine the first ICE attempt sometimes fails (libdatachannel), and the
  // next one comes after the backoff (messages meanwhile go relayed, as the product intends).
  await waitFor(() => a.linkTo(b.peerId) === 'hole-punched' && b.linkTo(a.peerId) === 'hole-punched', 'a WebRTC connection both ways', HOLEPUNCH_ATTEMPT_MS + HOLEPUNCH_RETRY_MIN_MS + 10_000)
  console.log(`holepunch(loopback): first message to direct ${Date.now() - firstAt} ms`)
  const webrtcConns = (x: DeviceNode, y: DeviceNode): number => x.libp2p.getConnections().filter((c) => c.remotePeer.toString() === y.peerId && isWebRTC(c.remoteAddr)).length
  assert.equal(webrtcConns(a, b), 1, 'one WebRTC connection, not two')
  assert.ok(webrtcLoaded(a) === true && webrtcLoaded(b) === true, 'loaded at the first dial and the first signalling stream')
  assert.equal(webrtcConns(b, a), 1)
  const lower = a.peerId < b.peerId ? a : b
  const higher = lower === a ? b : a
  assert.equal(lower.libp2p.getConnections().find((c) => c.remotePeer.toString() === higher.peerId && isWebRTC(c.remoteAddr))?.direction, 'outbound', 'the lower peer id dialled')

  const second = new Uint8Array(randomBytes(1024))
  assert.equal((await a.deliver({ peerId: b.peerId, addresses: b.addresses() }, second, {})).path, 'direct')
  assert.equal((await b.deliver({ peerId: a.peerId, addresses: a.addresses() }, new Uint8Array(randomBytes(1024)), {})).path, 'direct')
  assert.deepEqual(atB.map((x) => x.path), ['relayed', 'direct'])

  // Without the relay, the WebRTC connection keeps carrying messages.
  await relay.stop()
  await waitFor(() => a.libp2p.getConnections().every((c) => !isRelayed(c.remoteAddr) || c.status !== 'open'), 'circuit gone with the relay')
  assert.equal((await a.deliver({ peerId: b.peerId, addresses: b.addresses() }, new Uint8Array(randomBytes(1024)), {})).path, 'direct')
  assert.equal(atB.length, 3)
})

test('holepunch: relay-only devices never accept or dial WebRTC; their contacts stay relayed', { timeout: 60_000 }, async (t) => {
  const net = await createTestnet(t, { relays: 1, devices: 0 })
  const ro = await net.addDevice({ relayOnly: true })
  const other = await net.addDevice({ listen: [] })
  await Promise.all([waitForReservations(ro, 1), waitForReservations(other, 1)])
  assert.equal(await iceConfigOf(ro), undefined, 'no WebRTC transport in relay-only mode')
  assert.ok(!(await ro.libp2p.peerStore.get(ro.libp2p.peerId)).protocols.includes('/webrtc-signaling/0.0.1'), 'the signalling protocol is not served')
  other.onEnvelope(async () => false)
  ro.onEnvelope(async () => false)
  for (let i = 0; i < 3; i++) {
    assert.equal((await other.deliver({ peerId: ro.peerId, addresses: ro.addresses() }, new Uint8Array(1024), {})).path, 'relayed')
    assert.equal((await ro.deliver({ peerId: other.peerId, addresses: other.addresses() }, new Uint8Array(1024), {})).path, 'relayed')
  }
  // Give the upgrader a few ticks: it must not have produced anything.
  await new Promise((resolve) => setTimeout(resolve, 5_000))
  assert.equal(ro.linkTo(other.peerId), 'relayed')
  assert.ok(ro.libp2p.getConnections().every((c) => !isWebRTC(c.remoteAddr)))
  // The gater refuses WebRTC dials even when asked explicitly.
  const { multiaddr } = await import('@multiformats/multiaddr')
  const circuit = other.addresses().find((x) => x.includes('/p2p-circuit'))
  assert.ok(circuit !== undefined)
  await assert.rejects(ro.libp2p.dial(multiaddr(circuit.replace('/p2p-circuit', '/p2p-circuit/webrtc')), { signal: AbortSignal.timeout(5_000) }))
})

test('path: a WebRTC address through a relay is direct; a circuit is relayed; STUN hosts come from relay addresses', () => {
  const relay = '/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWGRkLFXzVnN4RxcGHLGQDKQSFbtRrYzLyDyK6KGAAMgd8'
  const peer = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'
  assert.equal(pathOf(`${relay}/p2p-circuit/webrtc/p2p/${peer}`), 'direct')
  assert.equal(linkOf(`${relay}/p2p-circuit/webrtc/p2p/${peer}`), 'hole-punched')
  assert.equal(pathOf(`/webrtc/p2p/${peer}`), 'direct')
  assert.equal(pathOf(`${relay}/p2p-circuit/p2p/${peer}`), 'relayed')
  assert.equal(pathOf('/ip4/10.0.0.1/tcp/1/p2p/' + peer), 'direct')
  assert.equal(stunHostOf(relay), '127.0.0.1')
  assert.equal(stunHostOf('/ip6/::1/tcp/1/p2p/' + peer), '[::1]')
  assert.equal(stunHostOf('/dns4/relay.example/tcp/1/p2p/' + peer), 'relay.example')
  // Before a relay told its port there is no ICE server at all, never the library's public defaults.
  const dir = new StunDirectory([relay])
  assert.deepEqual(dir.rtcConfiguration(), { iceServers: [] })
  dir.setPort('12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo', 3478) // not one of our relays: ignored
  assert.deepEqual(dir.rtcConfiguration(), { iceServers: [] })
  dir.setPort('12D3KooWGRkLFXzVnN4RxcGHLGQDKQSFbtRrYzLyDyK6KGAAMgd8', 3478)
  assert.deepEqual(dir.rtcConfiguration(), { iceServers: [{ urls: ['stun:127.0.0.1:3478'] }] })
  // One server at a time (duplicate candidates fail ICE), and never a relay that went away.
  const two = new StunDirectory([relay, '/ip4/127.0.0.2/tcp/1/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'])
  two.setPort('12D3KooWGRkLFXzVnN4RxcGHLGQDKQSFbtRrYzLyDyK6KGAAMgd8', 3478)
  two.setPort('12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo', 3479)
  assert.deepEqual(two.rtcConfiguration(), { iceServers: [{ urls: ['stun:127.0.0.1:3478'] }] })
  two.down('12D3KooWGRkLFXzVnN4RxcGHLGQDKQSFbtRrYzLyDyK6KGAAMgd8')
  assert.deepEqual(two.rtcConfiguration(), { iceServers: [{ urls: ['stun:127.0.0.2:3479'] }] })
  two.down('12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo')
  assert.equal(two.iceServers().length, 1, 'with every relay down, ICE keeps a server rather than none')
  two.setPort('12D3KooWGRkLFXzVnN4RxcGHLGQDKQSFbtRrYzLyDyK6KGAAMgd8', 3478)
  assert.deepEqual(two.rtcConfiguration(), { iceServers: [{ urls: ['stun:127.0.0.1:3478'] }] }, 'back, it is preferred again')
})

test('holepunch: a peer that never completes ICE costs one bounded attempt, then backoff; messages stay relayed meanwhile', { timeout: 60_000 }, async (t) => {
  const { WEBRTC_SIGNALING_PROTOCOL } = await import('../../src/net/holepunch.ts')
  const net = await createTestnet(t, { relays: 1, devices: 0 })
  const x = await net.addDevice({ listen: [] })
  const y = await net.addDevice({ listen: [] })
  await Promise.all([waitForReservations(x, 1), waitForReservations(y, 1)])
  const [dialler, blackHole] = x.peerId < y.peerId ? [x, y] : [y, x]
  // The higher peer id still lists the signalling protocol but swallows every offer: ICE never completes.
  await blackHole.libp2p.unhandle(WEBRTC_SIGNALING_PROTOCOL)
  await blackHole.libp2p.handle(WEBRTC_SIGNALING_PROTOCOL, () => {}, { runOnLimitedConnection: true })
  blackHole.onEnvelope(async () => false)
  dialler.onEnvelope(async () => false)
  const started = Date.now()
  const paths: string[] = []
  while (Date.now() - started < HOLEPUNCH_ATTEMPT_MS + 4_000) {
    paths.push((await dialler.deliver({ peerId: blackHole.peerId, addresses: blackHole.addresses() }, new Uint8Array(1024), {})).path)
    paths.push((await blackHole.deliver({ peerId: dialler.peerId, addresses: dialler.addresses() }, new Uint8Array(1024), {})).path)
  }
  const attempts = net.logs.filter((l) => /holepunch-(direct|failed)/.test(l))
  console.log(`holepunch(black hole): ${paths.length} deliveries ${JSON.stringify([...new Set(paths)])}; attempts ${attempts.map((l) => l.replace(/^\S+ \S+ /, '')).join(' | ')}`)
  assert.ok(paths.every((p) => p === 'relayed'), JSON.stringify(paths))
  assert.equal(attempts.length, 1, attempts.join('\n'))
  const m = /holepunch-failed ms=(\d+) .*retryInMs=(\d+)/.exec(attempts[0] as string)
  assert.ok(m !== null, attempts[0])
  assert.ok(Number(m[1]) <= HOLEPUNCH_ATTEMPT_MS + 1_000, `the attempt took ${m[1]} ms`)
  assert.equal(Number(m[2]), HOLEPUNCH_RETRY_MIN_MS, 'the next attempt waits out the backoff')
  assert.equal(dialler.linkTo(blackHole.peerId), 'relayed')
})
