// Issue 11 with real nodes (libp2p on loopback, a relay, SQLCipher, libsignal): groups whose members are not
// all contacts of each other, messages both ways, a member offline, removal with rekey, and concurrent changes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Groups } from '../../src/messenger/groups/types.ts'
import { introduce, person, startTestRelay, type Person } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'

const g = (p: Person): Groups => {
  const groups = p.m().groups
  if (groups === undefined) throw new Error('no groups')
  return groups
}

async function waitMembers (p: Person, groupId: string, n: number, what: string): Promise<void> {
  await waitFor(async () => {
    const list = await g(p).list()
    const grp = list.find((x) => x.id === groupId)
    return grp !== undefined && grp.members.length === n
  }, what, 60_000)
}

async function waitTexts (p: Person, groupId: string, texts: string[], what: string): Promise<string[]> {
  return await waitFor(async () => {
    const list = await g(p).list()
    if (!list.some((x) => x.id === groupId)) return undefined
    const got = (await g(p).messages(groupId)).filter((m) => m.direction === 'in').map((m) => m.text)
    return texts.every((t) => got.includes(t)) ? got : undefined
  }, what, 60_000)
}

test('a group of three where two members are not contacts: both ways, per-member states', async (t) => {
  const relay = await startTestRelay(t)
  const [alice, bob, carol] = [await person(t, 'alice', { relays: [relay.addr] }), await person(t, 'bob', { relays: [relay.addr] }), await person(t, 'carol', { relays: [relay.addr] })]
  const ab = await introduce(alice, bob)
  const ac = await introduce(alice, carol)
  const grp = await g(alice).create('friends', [ab.aToB, ac.aToB])
  for (const p of [alice, bob, carol]) await waitMembers(p, grp.id, 3, `${p.name} sees three members`)
  const bobView = (await g(bob).list())[0]
  assert.equal(bobView?.name, 'friends')
  const carolAsSeenByBob = bobView?.members.find((m) => m.name === 'carol')
  assert.equal(carolAsSeenByBob?.metThroughGroup, true, 'carol is met through the group, not a contact')
  assert.equal((await bob.m().contacts()).find((c) => c.name === 'alice')?.metThroughGroup, undefined, 'alice is a contact')
  assert.equal((await bob.m().contacts()).find((c) => c.name === 'carol')?.metThroughGroup, grp.id, 'carol is marked met through the group')

  const sent = await g(bob).send(grp.id, 'hello from bob')
  await waitTexts(carol, grp.id, ['hello from bob'], 'carol gets bob\'s message')
  await waitTexts(alice, grp.id, ['hello from bob'], 'alice gets bob\'s message')
  await g(carol).send(grp.id, 'hello from carol')
  await waitTexts(bob, grp.id, ['hello from carol'], 'bob gets carol\'s message')
  const delivered = await waitFor(async () => {
    const m = (await g(bob).messages(grp.id)).find((x) => x.id === sent.id)
    return m?.delivery?.delivered === 2 ? m : undefined
  }, 'bob\'s message delivered to 2 of 2')
  assert.equal(delivered.delivery?.total, 2)
})
