// group.send.seal (issue 11): sealing one group text for 100 members (one groupEncrypt, then per member only
// the mailbox envelope layer; Device.groups.sealText with its commit) against 100 pairwise seals of the same
// text to the same members in the same run (Device.seal: a libsignal session step and a commit each).
// The members are made in memory (identity, signed prekey, Kyber prekey: valid group cards); the device opens a
// PQXDH session with each from its card, as it does for members it meets through a group.
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { IdentityKeyPair, KEMKeyPair, PrivateKey } from '@signalapp/libsignal-client'
import { Device } from '../../src/e2ee/device.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { MAX_CARDS_PER_CHANGE, type GroupCard } from '../../src/wire/group.ts'
import type { Benchmark, BenchContext, RowInput } from '../harness.ts'
import { nowMs } from '../harness.ts'
import { textPayload } from '../lib/devices.ts'
import { TEXT_BYTES } from '../baselines/libsignal.ts'

const MEMBERS = 100

function fakeCard (i: number): GroupCard {
  const id = IdentityKeyPair.generate()
  const spk = PrivateKey.generate()
  const kem = KEMKeyPair.generate()
  return {
    identityKey: id.publicKey.serialize(), registrationId: 1 + i, signedPreKeyId: 1, signedPreKey: spk.getPublicKey().serialize(),
    signedPreKeySignature: id.privateKey.sign(spk.getPublicKey().serialize()), kyberPreKeyId: 1, kyberPreKey: kem.getPublicKey().serialize(),
    kyberPreKeySignature: id.privateKey.sign(kem.getPublicKey().serialize()), mailboxId: new Uint8Array(randomBytes(32)), mailboxKey: new Uint8Array(randomBytes(32)),
    displayName: `m${i}`, relays: ['/ip4/127.0.0.1/tcp/1/p2p/12D3KooWRelay'], addresses: []
  }
}

async function run (ctx: BenchContext): Promise<RowInput[]> {
  const device = await Device.create(join(ctx.tmpDir('groups'), 'a'), { name: 'a', logger: silentLogger })
  ctx.defer(() => { device.close() })
  const { groupId } = await device.groups.create('bench', { relays: [], addresses: [] })
  const cards = Array.from({ length: MEMBERS }, (_, i) => fakeCard(i))
  for (let i = 0; i < cards.length; i += MAX_CARDS_PER_CHANGE) await device.groups.addCardsForTest(groupId, cards.slice(i, i + MAX_CARDS_PER_CHANGE))
  const members = device.groups.members(groupId)
  const text = 'x'.repeat(TEXT_BYTES)
  let seq = 1
  const group = async (): Promise<void> => {
    await device.groups.sealText(groupId, { id: new Uint8Array(randomBytes(16)), seq: seq++, sentAt: Date.now(), text }, () => {})
  }
  const pairwise = async (): Promise<void> => {
    for (const m of members) await device.seal(m.contactId, textPayload(seq, text))
  }
  // The first group send carries the sender key to each member (pairwise): warm both paths up first.
  await group()
  await pairwise()
  const rounds = ctx.n(20, 5)
  let groupMs = 0
  let pairMs = 0
  for (let r = 0; r < rounds && !ctx.signal.aborted; r++) {
    let t0 = nowMs()
    await group()
    groupMs += nowMs() - t0
    t0 = nowMs()
    await pairwise()
    pairMs += nowMs() - t0
  }
  const g = groupMs / rounds
  const p = pairMs / rounds
  ctx.record('group.send.pairwise', p)
  return [{ ...ROWS[0], value: g, baselineValue: p }]
}

const ROWS = [
  {
    name: 'group.send.seal',
    unit: 'ms/message',
    better: 'lower',
    baseline: `${MEMBERS} pairwise Device.seal of the same text, same run`,
    goal: { text: 'ratio <= 0.2', on: 'ratio', op: '<=', target: 0.2 },
    note: `one group text for ${MEMBERS} members: one groupEncrypt + ${MEMBERS} mailbox envelopes + one commit (members met through a group: the pairwise baseline is sealed sender, as the product seals to them)`
  }
] as const

export const groupSendSeal: Benchmark = { name: 'group.send.seal', timeoutMs: 120_000, quickTimeoutMs: 60_000, rows: ROWS, run }
