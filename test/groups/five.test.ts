// Issue 11 "done when", with real nodes: a 5-member group where members are not all contacts of each other;
// a member offline during three messages gets them once, in order; a removed member cannot open what is sent
// after its removal (tried with its whole store); concurrent changes by two admins converge on every member.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { groupsOf as g, memberNames } from '../helpers/groups.ts'
import { introduce, person, startTestRelay, type Person } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'

async function waitNames (people: Person[], groupId: string, names: string, what: string): Promise<void> {
  for (const p of people) await waitFor(async () => (await memberNames(p, groupId)) === names, `${p.name}: ${what}`, 60_000)
}

async function inTexts (p: Person, groupId: string): Promise<string[]> {
  if (!(await g(p).list()).some((x) => x.id === groupId)) return []
  return (await g(p).messages(groupId)).filter((m) => m.direction === 'in').map((m) => m.text)
}

async function waitText (p: Person, groupId: string, text: string): Promise<void> {
  await waitFor(async () => (await inTexts(p, groupId)).includes(text), `${p.name} gets "${text}"`, 60_000)
}

test('five members, two not contacts: both ways, offline member, removal with rekey, concurrent admins converge', async (t) => {
  const relay = await startTestRelay(t)
  const names = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank']
  const people: Person[] = []
  for (const n of names) people.push(await person(t, n, { relays: [relay.addr] }))
  const [alice, bob, carol, dave, erin, frank] = people as [Person, Person, Person, Person, Person, Person]
  const aliceTo = new Map<string, string>()
  for (const p of [bob, carol, dave, erin]) aliceTo.set(p.name, (await introduce(alice, p)).aToB)
  // Bob and carol are not contacts of each other (nor of dave or erin); bob knows frank (added later).
  const bobToFrank = (await introduce(bob, frank)).aToB

  const grp = await g(alice).create('five', [...aliceTo.values()])
  const five = [alice, bob, carol, dave, erin]
  await waitNames(five, grp.id, 'alice*,bob,carol,dave,erin', 'five members')
  assert.ok((await g(bob).get(grp.id)).members.find((m) => m.name === 'carol')?.metThroughGroup, 'bob knows carol only through the group')
  assert.equal((await bob.m().contacts()).find((c) => c.name === 'carol')?.id !== undefined, true, 'a pairwise session with carol exists')

  // Both ways between members who are not contacts.
  await g(bob).send(grp.id, 'bob 1')
  await g(carol).send(grp.id, 'carol 1')
  for (const p of five) {
    if (p !== bob) await waitText(p, grp.id, 'bob 1')
    if (p !== carol) await waitText(p, grp.id, 'carol 1')
  }

  // Dave is offline during three messages from bob: he gets them once, in bob's order.
  await dave.stop()
  const sent: Array<{ id: string }> = []
  for (const text of ['offline 1', 'offline 2', 'offline 3']) sent.push(await g(bob).send(grp.id, text))
  await waitFor(async () => (await g(bob).messages(grp.id)).filter((m) => sent.some((s) => s.id === m.id) && (m.delivery?.delivered ?? 0) >= 3).length === 3, 'the three reach the online members')
  await dave.start()
  await waitText(dave, grp.id, 'offline 3')
  await waitFor(async () => (await g(bob).messages(grp.id)).filter((m) => sent.some((s) => s.id === m.id) && m.delivery?.delivered === 4).length === 3, 'dave\'s receipts reach bob')
  const fromBob = (await g(dave).messages(grp.id)).filter((m) => m.senderName === 'bob')
  assert.deepEqual(fromBob.map((m) => m.text), ['bob 1', 'offline 1', 'offline 2', 'offline 3'], 'once each, in order')
  assert.deepEqual(fromBob.map((m) => m.seq), [1, 2, 3, 4])

  // Removal: erin is removed; the next message from bob is under a new sender key erin never got.
  const erinAccount = (await erin.m().status()).accountId
  await g(alice).remove(grp.id, erinAccount)
  await waitNames([alice, bob, carol, dave], grp.id, 'alice*,bob,carol,dave', 'erin removed')
  await waitFor(async () => !(await g(erin).get(grp.id)).member, 'erin learns she was removed')
  await g(bob).send(grp.id, 'after erin left')
  for (const p of [alice, carol, dave]) await waitText(p, grp.id, 'after erin left')
  const secret = g(bob).deviceForTest.lastSealedForTest()
  assert.ok(secret !== undefined)
  const bobAccount = (await bob.m().status()).accountId
  await assert.rejects(g(erin).deviceForTest.tryOpenForTest(bobAccount, secret), 'erin\'s whole store cannot open it')
  assert.ok(!(await inTexts(erin, grp.id)).includes('after erin left'))

  // Concurrent changes by two admins: bob is promoted, then alice removes carol while bob removes dave and adds frank.
  await g(alice).promote(grp.id, bobAccount)
  await waitNames([alice, bob, carol, dave], grp.id, 'alice*,bob*,carol,dave', 'bob is an admin')
  const carolAccount = (await carol.m().status()).accountId
  const daveAccount = (await dave.m().status()).accountId
  await Promise.all([g(alice).remove(grp.id, carolAccount), g(bob).remove(grp.id, daveAccount), g(bob).add(grp.id, bobToFrank)])
  await waitNames([alice, bob, frank], grp.id, 'alice*,bob*,frank', 'converged membership')
  for (const p of [carol, dave]) await waitFor(async () => !(await g(p).get(grp.id)).member, `${p.name} learns it was removed`, 60_000)
  const versions = await Promise.all([alice, bob, frank].map(async (p) => (await g(p).get(grp.id)).version))
  assert.equal(new Set(versions).size, 1, `same log version everywhere (${versions.join(',')})`)
  await g(frank).send(grp.id, 'hi from frank')
  await waitText(alice, grp.id, 'hi from frank')
})
