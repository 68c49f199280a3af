// Peer ids compared by the peer they name (src/net/peer-ids.ts): the ack-as-receipt check compares a contact card's
// id, which may be written as a CID, with a connection's authenticated peer id.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { samePeer } from '../../src/net/peer-ids.ts'

test('samePeer: one peer in its two written forms matches; another peer or an id that does not parse never does', async () => {
  const p = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const q = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const cid = p.toCID().toString()
  assert.notEqual(cid, p.toString())
  assert.equal(samePeer(p.toString(), cid), true)
  assert.equal(samePeer(cid, p.toString()), true)
  assert.equal(samePeer(p.toString(), q.toString()), false)
  assert.equal(samePeer(p.toString(), `${p.toString()}!`), false)
  assert.equal(samePeer('', p.toString()), false)
})
