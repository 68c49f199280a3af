// A contact card's peer id is kept in libp2p's own form (src/identity/peer-id.ts, applied in src/e2ee/contact-row.ts):
// a card may write the peer as a CID, and the dial, WebRTC and presence checks compare the stored id with a peer's
// id as strings. A CID-form card made every one of them miss: presence records refused, the contact never dialled.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { presenceDay } from '../../src/e2ee/presence.ts'
import { E2eeError } from '../../src/e2ee/errors.ts'
import { canonicalPeerId } from '../../src/identity/peer-id.ts'
import { pair } from './helpers.ts'

test('a card\'s peer id written as a CID is kept in libp2p\'s form: the presence record naming the peer opens', async (t) => {
  let now = 1_760_000_000_000
  const p = await pair(t, { now: () => now, inviterCard: false })
  const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const cid = peer.toCID().toString()
  assert.notEqual(cid, peer.toString())
  await p.bob.openEnvelope(await p.alice.seal(p.aliceToBob, p.alice.myCard(p.aliceToBob, { relays: [], addresses: [], peerId: cid })))
  assert.equal(p.bob.contact(p.bobToAlice)?.theirPeerId, peer.toString())
  const day = presenceDay(now)
  const me = { peerId: peer.toString(), addresses: ['/ip4/192.0.2.9/tcp/4001'], updatedAt: now }
  assert.deepEqual(p.bob.openPresence(p.bobToAlice, day, p.alice.sealPresence(p.aliceToBob, day, me)), me)
  now += 1000
  const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const forged = p.alice.sealPresence(p.aliceToBob, day, { ...me, peerId: other.toString(), updatedAt: now })
  assert.throws(() => p.bob.openPresence(p.bobToAlice, day, forged), (e) => E2eeError.is(e, 'BAD_PRESENCE'))
})

test('canonicalPeerId: one form for a peer; an id that does not parse is kept as given', async () => {
  const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  assert.equal(canonicalPeerId(peer.toCID().toString()), peer.toString())
  assert.equal(canonicalPeerId(peer.toString()), peer.toString())
  assert.equal(canonicalPeerId('not-a-peer'), 'not-a-peer')
  assert.equal(canonicalPeerId(''), '')
})
