// Whether a node's DHT keeps private addresses (src/net/libp2p.ts anyPrivate): only a concrete private or
// loopback address says the node lives on a LAN; listening on every interface says nothing.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { anyPrivate } from '../../src/net/libp2p.ts'

test('anyPrivate: private and loopback addresses count, wildcard listen addresses and public ones do not', () => {
  assert.equal(anyPrivate(['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/tcp/4002/ws', '/ip6/::/tcp/4001']), false, 'a public relay with the default listen addresses')
  assert.equal(anyPrivate(['/ip4/0.0.0.0/tcp/0', '/ip4/93.184.216.34/tcp/4001/p2p/12D3KooWGzBLu9G3VXpn6xVkrQ2tb5wW1SoiXaNRUCvH2nsz8J5z']), false, 'a device on a public relay')
  assert.equal(anyPrivate(['/ip4/0.0.0.0/tcp/0', '/ip4/192.168.1.20/tcp/4001']), true, 'a relay on the LAN')
  assert.equal(anyPrivate(['/ip4/127.0.0.1/tcp/0']), true, 'loopback (tests)')
  assert.equal(anyPrivate(['/ip6/::1/tcp/0']), true)
  assert.equal(anyPrivate(['not a multiaddr']), false)
})
