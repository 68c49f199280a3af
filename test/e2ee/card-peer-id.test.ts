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
import { join } from 'node:path'
import { Device } from '../../src/e2ee/device.ts'
import { DATABASE_FILE, openDatabase, resolveDatabaseKey } from '../../src/store/db.ts'
import { DEVICE_PAGE_SIZE, MIGRATIONS } from '../../src/store/schema.ts'
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

test('a later card\'s CID-form peer id is stored in libp2p\'s form, and one stored before in another form reads in it after a restart', async (t) => {
  const p = await pair(t)
  const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  await p.bob.openEnvelope(await p.alice.seal(p.aliceToBob, p.alice.myCard(p.aliceToBob, { relays: [], addresses: [], peerId: peer.toCID().toString() })))
  p.bob.close()
  const dir = join(p.dir, 'bob')
  const db = openDatabase({ path: join(dir, DATABASE_FILE), key: resolveDatabaseKey(dir, { create: false }), migrations: MIGRATIONS, pageSize: DEVICE_PAGE_SIZE })
  const stored = (): unknown => (db.prepare('SELECT their_peer_id AS id FROM contacts WHERE id = ?').get([p.bobToAlice]) as { id: unknown }).id
  assert.equal(stored(), peer.toString())
  // As a version before this one stored it: the card's own form.
  db.prepare('UPDATE contacts SET their_peer_id = ? WHERE id = ?').run([peer.toCID().toString(), p.bobToAlice])
  db.close()
  const bob = await Device.open(dir)
  t.after(() => { bob.close() })
  assert.equal(bob.contact(p.bobToAlice)?.theirPeerId, peer.toString())
})

test('canonicalPeerId: one form for a peer; an id that does not parse is kept as given', async () => {
  const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  assert.equal(canonicalPeerId(peer.toCID().toString()), peer.toString())
  assert.equal(canonicalPeerId(peer.toString()), peer.toString())
  assert.equal(canonicalPeerId('not-a-peer'), 'not-a-peer')
  assert.equal(canonicalPeerId(''), '')
})
