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
import { nowMs, percentile } from '../harness.ts'
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

// group.delivery.p50: eleven device hosts in this process (real libp2p on loopback, direct paths, no relay),
// alice in a group with the ten others (her contacts). Per round: alice sends to the group and the time until
// all ten have stored it; baseline in the same run: alice to bob one-to-one, until bob has stored it.
const DELIVERY_MEMBERS = 10

async function runDelivery (ctx: BenchContext): Promise<RowInput[]> {
  const { createDeviceHost } = await import('../../src/messenger/host.ts')
  type M = NonNullable<ReturnType<Awaited<ReturnType<typeof createDeviceHost>>['messenger']>>
  const people: M[] = []
  for (let i = 0; i <= DELIVERY_MEMBERS; i++) {
    const host = await createDeviceHost({ dataDir: join(ctx.tmpDir(`group-${i}`), 'd'), relays: [], logger: silentLogger })
    ctx.defer(async () => { await host.stop() })
    people.push(await host.createAccount({ name: `p${i}` }))
  }
  const alice = people[0] as M
  const contactIds: string[] = []
  for (const other of people.slice(1)) {
    const name = (await other.status()).name
    const invite = await alice.createInvite()
    await other.acceptInvite(invite.link, { name: 'alice' })
    let id: string | undefined
    for (let i = 0; i < 1500 && id === undefined; i++) {
      id = (await alice.contacts()).find((c) => c.name === name)?.id
      if (id === undefined) await new Promise((resolve) => setTimeout(resolve, 20))
    }
    if (id === undefined) throw new Error('introduction timed out')
    contactIds.push(id)
  }
  const groups = alice.groups
  if (groups === undefined) throw new Error('no groups')
  const grp = await groups.create('bench', contactIds)
  const joined = async (): Promise<boolean> => (await Promise.all(people.map(async (p) => (await p.groups?.list())?.[0]?.members.length === DELIVERY_MEMBERS + 1))).every(Boolean)
  for (let i = 0; i < 3000 && !(await joined()); i++) await new Promise((resolve) => setTimeout(resolve, 20))
  const arrival = (p: M, match: (e: { type: string, message?: { text?: string } }) => boolean): Promise<void> => new Promise((resolve) => {
    const off = p.subscribe((e) => { if (match(e as { type: string, message?: { text?: string } })) { off(); resolve() } })
  })
  const groupRound = async (text: string): Promise<number> => {
    const all = Promise.all(people.slice(1).map(async (p) => { await arrival(p, (e) => e.type === 'group-message' && e.message?.text === text) }))
    const t0 = nowMs()
    await groups.send(grp.id, text)
    await all
    return nowMs() - t0
  }
  const bob = people[1] as M
  const pairRound = async (text: string): Promise<number> => {
    const got = arrival(bob, (e) => e.type === 'message' && e.message?.text === text)
    const t0 = nowMs()
    await alice.send(contactIds[0] as string, text)
    await got
    return nowMs() - t0
  }
  for (let i = 0; i < 3; i++) { await groupRound(`warm ${i}`); await pairRound(`warm ${i}`) }
  const rounds = ctx.n(40, 10)
  const g: number[] = []
  const p: number[] = []
  for (let i = 0; i < rounds && !ctx.signal.aborted; i++) { g.push(await groupRound(`g ${i}`)); p.push(await pairRound(`p ${i}`)) }
  g.sort((a, b) => a - b)
  p.sort((a, b) => a - b)
  const gp50 = percentile(g, 50)
  const pp50 = percentile(p, 50)
  return [{ ...DELIVERY_ROWS[0], value: gp50, baselineValue: pp50, note: `${g.length} rounds, all in one process on loopback (direct paths); group p99 ${percentile(g, 99).toFixed(1)} ms` }]
}

const DELIVERY_ROWS = [
  {
    name: 'group.delivery.p50',
    unit: 'ms',
    better: 'lower',
    baseline: 'one-to-one direct p50, same run and nodes',
    goal: null
  }
] as const

export const groupDelivery: Benchmark = { name: 'group.delivery.p50', timeoutMs: 300_000, quickTimeoutMs: 150_000, rows: DELIVERY_ROWS, run: runDelivery }
