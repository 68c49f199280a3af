// Issue 11 asks for at least 256 members. A real device (SQLCipher store, libsignal sender keys and PQXDH sessions)
// makes a group of 256: itself and 255 lightweight members (an identity key pair, signed and Kyber prekeys: valid
// group cards) that sign and receive at the e2ee layer. No 256 libp2p nodes: membership, the new member's log, one
// sealed message for everyone and a member's signed change are what the size could break.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import {
  IdentityKeyPair, KEMKeyPair, PrivateKey, ProtocolAddress, SenderKeyDistributionMessage, SenderKeyRecord, SenderKeyStore, groupDecrypt, type Uuid
} from '@signalapp/libsignal-client'
import { Device } from '../../src/e2ee/device.ts'
import type { DeviceContext } from '../../src/e2ee/context.ts'
import { groupBook, openGroupBody } from '../../src/e2ee/groups/groups.ts'
import { ChangeLog, signChange, verifyChange } from '../../src/e2ee/groups/membership.ts'
import { accountIdFromIdentityKey } from '../../src/identity/account-id.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { INNER_GROUP, openEnvelope } from '../../src/wire/envelope.ts'
import { MAX_CARDS_PER_CHANGE, decodeGroupBody, decodeGroupInner, decodeGroupText, encodeGroupBody, type GroupCard } from '../../src/wire/group.ts'
import { decodePayload, encodePayload } from '../../src/wire/payload.ts'
import { tempDir } from '../helpers/testnet.ts'

const MEMBERS = 256

interface Light { readonly identity: IdentityKeyPair, readonly card: GroupCard }

function lightMember (i: number): Light {
  const identity = IdentityKeyPair.generate()
  const spk = PrivateKey.generate()
  const kem = KEMKeyPair.generate()
  return {
    identity,
    card: {
      identityKey: identity.publicKey.serialize(), registrationId: 1 + i, signedPreKeyId: 1, signedPreKey: spk.getPublicKey().serialize(),
      signedPreKeySignature: identity.privateKey.sign(spk.getPublicKey().serialize()), kyberPreKeyId: 1, kyberPreKey: kem.getPublicKey().serialize(),
      kyberPreKeySignature: identity.privateKey.sign(kem.getPublicKey().serialize()), mailboxId: new Uint8Array(randomBytes(32)), mailboxKey: new Uint8Array(randomBytes(32)),
      displayName: `member ${i}`, relays: ['/ip4/127.0.0.1/tcp/1/p2p/12D3KooWRelay'], addresses: ['/ip4/127.0.0.1/tcp/2']
    }
  }
}

/** A member's sender-key store: all a lightweight member needs to open the group's messages. */
class MemorySenderKeys extends SenderKeyStore {
  readonly records = new Map<string, SenderKeyRecord>()
  async saveSenderKey (sender: ProtocolAddress, id: Uuid, record: SenderKeyRecord): Promise<void> { this.records.set(`${sender.toString()}/${String(id)}`, record) }
  async getSenderKey (sender: ProtocolAddress, id: Uuid): Promise<SenderKeyRecord | null> { return this.records.get(`${sender.toString()}/${String(id)}`) ?? null }
}

test('a group of 256 members: membership, the whole log for a new member, one sealed message for all, a member\'s signed change', { timeout: 600_000 }, async (t) => {
  const device = await Device.create(join(tempDir(t), 'a'), { name: 'a', logger: silentLogger })
  t.after(() => { device.close() })
  const ctx = (device.groups as unknown as { ctx: DeviceContext }).ctx
  const { groupId } = await device.groups.create('two five six', { relays: [], addresses: [] })
  const light = Array.from({ length: MEMBERS - 1 }, (_, i) => lightMember(i))
  for (let i = 0; i < light.length; i += MAX_CARDS_PER_CHANGE) await device.groups.addCardsForTest(groupId, light.slice(i, i + MAX_CARDS_PER_CHANGE).map((m) => m.card))
  const info = device.groups.info(groupId)
  assert.equal(info.members.length, MEMBERS)
  assert.equal(device.groups.members(groupId).length, MEMBERS - 1, 'a pairwise session with every other member')

  // The log a new member gets: every body fits a payload, decodes, and folds to the 256 members.
  const log = device.groups.log(groupId)
  const payloads = device.groups.changesPayloads(groupId, log)
  const received: Uint8Array[] = []
  for (const p of payloads) {
    const back = decodePayload(encodePayload(p))
    assert.ok(back.kind === 'group')
    const body = decodeGroupBody(back.body)
    assert.ok(body.type === 'changes')
    received.push(...body.changes)
  }
  const theirs = new ChangeLog([...received].reverse().map((b) => verifyChange(b)))
  assert.equal(theirs.state().members.size, MEMBERS)

  // One message sealed for everyone: the first carries the sender key pairwise; the second is one sender-key
  // message inside each member's mailbox envelope.
  const text = (seq: number): { id: Uint8Array, seq: number, sentAt: number, text: string } => ({ id: new Uint8Array(randomBytes(16)), seq, sentAt: Date.now(), text: `hello ${seq}` })
  assert.equal((await device.groups.sealText(groupId, text(1), () => {})).length, MEMBERS - 1)
  const g = groupBook(ctx).get(groupId)
  const skdm = await ctx.serial(async () => await SenderKeyDistributionMessage.create(ctx.localAddress, g.row.distributionId, ctx.stores))
  const second = await device.groups.sealText(groupId, text(2), () => {})
  assert.equal(second.length, MEMBERS - 1)
  const last = light[light.length - 1] as Light
  const lastAccount = accountIdFromIdentityKey(last.identity.publicKey.serialize())
  const toLast = second.find((s) => s.accountId === lastAccount)
  assert.ok(toLast !== undefined)
  const inner = openEnvelope(toLast.envelope, last.card.mailboxKey)
  assert.equal(inner.innerType, INNER_GROUP)
  const { message } = decodeGroupInner(inner.body)
  // The lightweight member opens it with the sender's key (taken before the message, handed over here as the
  // pairwise 'keyed' body does).
  const keys = new MemorySenderKeys()
  const { processSenderKeyDistributionMessage } = await import('@signalapp/libsignal-client')
  await processSenderKeyDistributionMessage(ctx.localAddress, skdm, keys)
  assert.equal(decodeGroupText(await groupDecrypt(ctx.localAddress, keys, message as Uint8Array<ArrayBuffer>)).text, 'hello 2')

  // A member, made an admin, signs a removal; the device admits it from that member's pairwise session.
  const first = light[0] as Light
  const firstAccount = accountIdFromIdentityKey(first.identity.publicKey.serialize())
  await device.groups.change(groupId, { kind: 'promote', accountId: firstAccount })
  const removal = signChange({ groupId: Buffer.from(groupId, 'hex'), ...g.log.next(), author: first.identity.publicKey.serialize(), at: Date.now(), op: { kind: 'remove', members: [last.card.identityKey] } }, first.identity.privateKey)
  const contactId = device.groups.contactFor(firstAccount)
  assert.ok(contactId !== undefined)
  const opened = await ctx.serial(async () => await ctx.stores.atomically(async () =>
    await openGroupBody(ctx, ctx.contactRow(contactId), encodeGroupBody({ type: 'changes', groupId: Buffer.from(groupId, 'hex'), changes: [removal.bytes] }))))
  assert.ok(opened.type === 'changes' && opened.outcome.accepted.length === 1 && opened.outcome.effects.rekeyed)
  assert.equal(device.groups.info(groupId).members.length, MEMBERS - 1)
  assert.ok(!device.groups.members(groupId).some((m) => m.accountId === lastAccount))
})
