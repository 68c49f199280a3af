// Review finding (src/messenger/groups/manager.ts #member): a member named by a name two members share is
// refused (AMBIGUOUS_MEMBER), never the first match removed; ids still name the member exactly.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MessengerError } from '../../src/messenger/errors.ts'
import { groupsOf as g, memberCount as count, three } from '../helpers/groups.ts'
import { waitFor } from '../helpers/wait.ts'

test('removing or promoting by a name two members share is refused', { timeout: 180_000 }, async (t) => {
  const { alice, ab, ac } = await three(t)
  const grp = await g(alice).create('x', [ab.aToB, ac.aToB])
  await waitFor(async () => (await count(alice, grp.id)) === 3, 'alice sees 3', 60_000)
  await alice.m().rename(ab.aToB, 'sam')
  await alice.m().rename(ac.aToB, 'sam')
  const view = await g(alice).get(grp.id)
  assert.equal(view.members.filter((m) => m.name === 'sam').length, 2)
  const ambiguous = (e: unknown): boolean => MessengerError.is(e, 'AMBIGUOUS_MEMBER')
  await assert.rejects(g(alice).remove(grp.id, 'sam'), ambiguous)
  await assert.rejects(g(alice).promote(grp.id, 'sam'), ambiguous)
  assert.equal(await count(alice, grp.id), 3)
  assert.ok((await g(alice).get(grp.id)).members.every((m) => m.me || !m.admin))
  // By contact id, the member is named exactly.
  await g(alice).remove(grp.id, ac.aToB)
  assert.equal(await count(alice, grp.id), 2)
  assert.ok((await g(alice).get(grp.id)).members.some((m) => m.contactId === ab.aToB))
})
