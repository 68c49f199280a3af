// The device's dial gater: direct dials only to relays, bootstrap peers and peers the messenger allows (contacts).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { deviceDialGater } from '../../src/net/libp2p.ts'

const RELAY = '12D3KooWEJvn1f3PGVVgQjxyDZpimvbAzyBKpJntBnjed8jbND8g'
const CONTACT = '12D3KooWPg5mn7GhR6mvSaJSdm77ojh5ScS1knACHe3pt6rhsbRc'
const STRANGER = '12D3KooWDy3xiD2FkA3gH4XmAxbDGFaPEC8wHNE2EUQxnGZxHMbT'

test('device gater: a stranger\'s own address is refused; relays, contacts and circuits are dialled', () => {
  const gater = deviceDialGater(new Set([RELAY]), (p) => p === CONTACT)
  const deny = (a: string): boolean | undefined => gater.denyDialMultiaddr?.(multiaddr(a)) as boolean | undefined
  assert.equal(deny(`/ip4/198.51.100.7/tcp/4001/p2p/${STRANGER}`), true, 'what DCUtR would dial for a stranger')
  assert.equal(deny(`/ip4/198.51.100.7/tcp/4001/p2p/${CONTACT}`), false)
  assert.equal(deny(`/ip4/198.51.100.1/tcp/4001/p2p/${RELAY}`), false)
  assert.equal(deny(`/ip4/198.51.100.1/tcp/4001/p2p/${RELAY}/p2p-circuit/p2p/${STRANGER}`), false, 'a circuit shows the stranger only the relay')
  const throwing = deviceDialGater(new Set(), () => { throw new Error('store closed') })
  assert.equal(throwing.denyDialMultiaddr?.(multiaddr(`/ip4/198.51.100.7/tcp/4001/p2p/${CONTACT}`)), true, 'no answer means no')
})
