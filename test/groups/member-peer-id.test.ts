// A group member's card may write its peer id as a CID, as a contact's card may (test/e2ee/card-peer-id.test.ts): a
// member met only through the group gets a contact row built from that card, kept in libp2p's form, so that the
// direct file stream to it (src/messenger/files/transfers.ts #directToMember), the dial and WebRTC allow lists and
// the presence check compare it with a peer's id as strings.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { IdentityKeyPair, KEMKeyPair, PrivateKey } from '@signalapp/libsignal-client'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Device } from '../../src/e2ee/device.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import type { GroupCard } from '../../src/wire/group.ts'
import { tempDir } from '../helpers/testnet.ts'

function card (peerId: string): GroupCard {
  const identity = IdentityKeyPair.generate()
  const spk = PrivateKey.generate()
  const kem = KEMKeyPair.generate()
  return {
    identityKey: identity.publicKey.serialize(), registrationId: 7, signedPreKeyId: 1, signedPreKey: spk.getPublicKey().serialize(),
    signedPreKeySignature: identity.privateKey.sign(spk.getPublicKey().serialize()), kyberPreKeyId: 1, kyberPreKey: kem.getPublicKey().serialize(),
    kyberPreKeySignature: identity.privateKey.sign(kem.getPublicKey().serialize()), mailboxId: new Uint8Array(randomBytes(32)), mailboxKey: new Uint8Array(randomBytes(32)),
    displayName: 'member', peerId, relays: [], addresses: []
  }
}

test('a group member\'s peer id written as a CID is kept in libp2p\'s form, also after a restart', async (t) => {
  const dir = join(tempDir(t), 'a')
  const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const cid = peer.toCID().toString()
  assert.notEqual(cid, peer.toString())
  // Closed before it is opened again, also when an assertion fails (the store would stay open, its files held).
  const device = await Device.create(dir, { name: 'a', logger: silentLogger })
  let contactId: string
  try {
    const { groupId } = await device.groups.create('g', { relays: [], addresses: [] })
    await device.groups.addCardsForTest(groupId, [card(cid)])
    const [member] = device.groups.members(groupId)
    assert.ok(member !== undefined)
    contactId = member.contactId
    assert.equal(device.contact(contactId)?.theirPeerId, peer.toString())
  } finally {
    device.close()
  }
  const again = await Device.open(dir)
  t.after(() => { again.close() })
  assert.equal(again.contact(contactId)?.theirPeerId, peer.toString())
})
