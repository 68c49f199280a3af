// A group whose log is longer than one `changes` body (MAX_CHANGES_PER_BODY) still takes new members: the new
// member gets the whole log, create first, in as many bodies as it takes (src/wire/group.ts chunkChanges).
// Before, the log was sliced to its last 64 changes, which cut off the create: the new member verified nothing.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MAX_CHANGES_PER_BODY } from '../../src/wire/group.ts'
import { groupsOf as g, namedMembers as names, three } from '../helpers/groups.ts'
import { waitFor } from '../helpers/wait.ts'

test('a group with more than 64 changes takes a new member, who sees the right membership', { timeout: 240_000 }, async (t) => {
  const { alice, bob, carol, ab, ac } = await three(t)
  const grp = await g(alice).create('long', [ab.aToB])
  await waitFor(async () => (await names(bob, grp.id)) === 'long: alice*,bob', 'bob joins')
  const renames = MAX_CHANGES_PER_BODY + 6
  for (let i = 1; i <= renames; i++) await g(alice).rename(grp.id, `long ${i}`)
  const log = g(alice).deviceForTest.log(grp.id)
  assert.ok(log.length > MAX_CHANGES_PER_BODY, `the log (${log.length} changes) is longer than one body`)
  assert.ok(g(alice).deviceForTest.changesPayloads(grp.id, log).length >= 2, 'it takes several bodies')

  await g(alice).add(grp.id, ac.aToB)
  const expected = `long ${renames}: alice*,bob,carol`
  for (const p of [alice, bob, carol]) await waitFor(async () => (await names(p, grp.id)) === expected, `${p.name} sees carol in "long ${renames}"`, 90_000)
  assert.equal((await g(carol).get(grp.id)).version, (await g(alice).get(grp.id)).version, 'carol holds the whole log')
  assert.ok((await g(carol).get(grp.id)).member)
  // Carol can talk in it.
  await g(carol).send(grp.id, 'hello from carol')
  await waitFor(async () => (await g(alice).messages(grp.id)).some((m) => m.text === 'hello from carol'), 'alice gets carol\'s message', 60_000)
})
