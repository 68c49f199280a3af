// Which path a connection's address is (src/net/path.ts). `isWebRTC` runs on every send, so it first checks
// the address text for a `/webrtc` component; `/webrtc-direct` (another transport) must not pass for it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { hasWebRTCComponent, isRelayed, isWebRTC, linkOf, pathOf } from '../../src/net/path.ts'

const RELAY = '/p2p/12D3KooWRQ5TuuJNS9WwPkbkJTsiQqzpKdKUz2KSGVNxFUkRZ5qn'
const PEER = '/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'
const CERT = '/certhash/uEiDDq4_xNyDorZBH3TlGazyJdOWSwvo4PUo5YHFMrvDE8g'

test('path: a /webrtc component is WebRTC (direct, hole-punched) whether it ends the address or not', () => {
  for (const text of [
    `/ip4/127.0.0.1/tcp/4001${RELAY}/p2p-circuit/webrtc${PEER}`,
    `/ip4/127.0.0.1/tcp/4001${RELAY}/p2p-circuit/webrtc`,
    '/webrtc',
    `/webrtc${PEER}`
  ]) {
    assert.equal(hasWebRTCComponent(text), true, text)
    // Twice each: the second answer comes from the verdicts kept by address text.
    for (const ma of [text, multiaddr(text), text, multiaddr(text)]) {
      assert.equal(isWebRTC(ma), true, text)
      assert.equal(isRelayed(ma), false, text)
      assert.equal(pathOf(ma), 'direct', text)
      assert.equal(linkOf(ma), 'hole-punched', text)
    }
  }
})

test('path: /webrtc-direct, TCP and circuits are not WebRTC', () => {
  const cases: Array<[string, 'direct' | 'relayed']> = [
    [`/ip4/127.0.0.1/udp/4002/webrtc-direct${CERT}${PEER}`, 'direct'],
    [`/ip4/127.0.0.1/udp/4002/webrtc-direct${CERT}`, 'direct'],
    [`/ip4/127.0.0.1/udp/4002/webrtc-direct`, 'direct'],
    [`/ip4/127.0.0.1/tcp/4001${PEER}`, 'direct'],
    [`/ip4/127.0.0.1/tcp/4001/ws${PEER}`, 'direct'],
    [`/ip4/127.0.0.1/tcp/4001${RELAY}/p2p-circuit${PEER}`, 'relayed'],
    [`/ip4/127.0.0.1/udp/4002/webrtc-direct${CERT}${RELAY}/p2p-circuit${PEER}`, 'relayed']
  ]
  for (const [text, path] of cases) {
    assert.equal(hasWebRTCComponent(text), false, text)
    for (const ma of [text, multiaddr(text)]) {
      assert.equal(isWebRTC(ma), false, text)
      assert.equal(pathOf(ma), path, text)
      assert.equal(linkOf(ma), path, text)
    }
  }
})

test('path: the text check only lets the matcher decide (a /webrtc host name is not a component)', () => {
  // `/dns4/webrtc/...` holds the text '/webrtc/' but no webrtc component: the matcher says no.
  const text = `/dns4/webrtc/tcp/4001${PEER}`
  assert.equal(hasWebRTCComponent(text), true)
  for (let i = 0; i < 2; i++) {
    assert.equal(isWebRTC(text), false)
    assert.equal(isWebRTC(multiaddr(text)), false)
    assert.equal(isWebRTC('not a multiaddr /webrtc'), false, 'an unparsable text is not WebRTC')
  }
  // More distinct addresses than the verdicts kept: answers stay right as the cache is renewed.
  for (let port = 1; port <= 600; port++) {
    assert.equal(isWebRTC(`/ip4/127.0.0.1/tcp/${port}${RELAY}/p2p-circuit/webrtc${PEER}`), true)
    assert.equal(isWebRTC(`/dns4/webrtc/tcp/${port}${PEER}`), false)
  }
})
