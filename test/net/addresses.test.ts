// What a device hands out of its own addresses (src/net/addresses.ts): listening on every interface must not
// put 0.0.0.0, link-local or (when anything better exists) loopback addresses into cards and invites.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { shareableAddresses } from '../../src/net/addresses.ts'

const P = '/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'

test('addresses: LAN addresses and circuits are kept; wildcard, link-local and loopback go', () => {
  const all = [
    `/ip4/127.0.0.1/tcp/4000${P}`, `/ip4/10.7.0.2/tcp/4000${P}`, `/ip4/0.0.0.0/tcp/4000${P}`, `/ip6/::1/tcp/4001${P}`,
    `/ip6/fe80::1/tcp/4001${P}`, `/ip4/169.254.3.4/tcp/4000${P}`, `/ip6/2001:db8::5/tcp/4001${P}`, `/ip4/192.168.1.20/tcp/4000${P}`,
    `/ip4/11.11.0.1/tcp/4001/p2p/12D3KooWRelay/p2p-circuit${P}`
  ]
  assert.deepEqual(shareableAddresses(all), [
    `/ip4/10.7.0.2/tcp/4000${P}`, `/ip6/2001:db8::5/tcp/4001${P}`, `/ip4/192.168.1.20/tcp/4000${P}`,
    `/ip4/11.11.0.1/tcp/4001/p2p/12D3KooWRelay/p2p-circuit${P}`
  ])
})

test('addresses: loopback is kept when it is all there is (one machine: the demo, tests)', () => {
  const all = [`/ip4/127.0.0.1/tcp/4000${P}`, `/ip4/0.0.0.0/tcp/4000${P}`, `/ip6/::1/tcp/4001${P}`]
  assert.deepEqual(shareableAddresses(all), [`/ip4/127.0.0.1/tcp/4000${P}`, `/ip6/::1/tcp/4001${P}`])
})
