// What a card carries of a node's addresses: at most MAX_ADDRESSES, each within MAX_ADDRESS_BYTES,
// direct ones first. A node with many relays has more circuit addresses than a card holds, and
// one address too many once made every card fail to encode.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cardAddresses } from '../../src/messenger/messenger.ts'
import { MAX_ADDRESSES, MAX_ADDRESS_BYTES, encodePayload } from '../../src/wire/payload.ts'

test('cardAddresses: bounded count and length, direct first, duplicates once; the card then encodes', () => {
  const direct = ['/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWme', '/ip6/::1/tcp/4001/p2p/12D3KooWme']
  const circuits = Array.from({ length: 30 }, (_, i) => `/ip4/10.0.0.${i}/tcp/4001/p2p/12D3KooWrelay${i}/p2p-circuit/p2p/12D3KooWme`)
  const tooLong = '/dns4/' + 'x'.repeat(MAX_ADDRESS_BYTES) + '/tcp/1'
  const out = cardAddresses([...circuits, tooLong, ...direct, direct[0] as string])
  assert.equal(out.length, MAX_ADDRESSES)
  assert.deepEqual(out.slice(0, 2), direct)
  assert.ok(out.every((a) => Buffer.byteLength(a) <= MAX_ADDRESS_BYTES))
  assert.deepEqual(out.slice(2), circuits.slice(0, MAX_ADDRESSES - 2))
  const card = encodePayload({
    kind: 'card',
    id: new Uint8Array(16),
    seq: 0,
    card: { displayName: 'Me', mailboxId: new Uint8Array(32), mailboxKey: new Uint8Array(32), presenceSecret: new Uint8Array(32), presenceKey: new Uint8Array(32), relays: [], addresses: out, senderCertificate: new Uint8Array(100) }
  })
  assert.ok(card.length > 0)
})
