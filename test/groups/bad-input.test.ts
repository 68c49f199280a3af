// Issue 11 bad input with real nodes: a change signed by a non-admin and a change for an unknown group are
// refused with a warning event and change nothing (a change replayed by an admin is refused silently: ordinary forwarding); a group message from a non-member is dropped.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { groupsOf as g, warningsOf as warnings, three } from '../helpers/groups.ts'
import { introduce } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'

test('bad group input is refused with a warning and changes nothing; a non-member\'s group message is dropped', async (t) => {
  const { alice, bob, carol, ab, ac } = await three(t)
  const bc = await introduce(bob, carol)
  const grp = await g(alice).create('strict', [ab.aToB, ac.aToB])
  for (const p of [alice, bob, carol]) {
    await waitFor(async () => (await g(p).list()).find((x) => x.id === grp.id)?.members.length === 3, `${p.name} sees three members`, 60_000)
  }
  const before = await g(bob).get(grp.id)

  // Carol is not an admin: her signed "rename" reaches bob and is refused.
  const forged = g(carol).deviceForTest.signForTest(grp.id, { kind: 'rename', name: 'carol rules' })
  await g(carol).sendChangesForTest(bc.bToA, grp.id, [forged])
  await waitFor(() => warnings(bob, 'not-admin').length > 0, 'bob warns of a non-admin change', 30_000)

  // A change bob already holds, sent again by an admin (alice forwards), is refused without a warning (with several
  // admins forwarding, members get changes twice in ordinary traffic); the non-admin change beside it still warns.
  const log = g(alice).deviceForTest.log(grp.id)
  const forged2 = g(carol).deviceForTest.signForTest(grp.id, { kind: 'rename', name: 'carol rules again' })
  await g(alice).sendChangesForTest(ab.aToB, grp.id, [log[0] as Uint8Array, forged2])
  await waitFor(() => warnings(bob, 'not-admin').length > 1, 'bob has the body with the replayed change', 30_000)
  assert.equal(warnings(bob, 'replayed').length, 0, 'no warning for an admin\'s forward of a held change')
  // The same change replayed by carol, who is not an admin: refused with a warning, nothing changed.
  await g(carol).sendChangesForTest(bc.bToA, grp.id, [log[0] as Uint8Array])
  await waitFor(() => warnings(bob, 'replayed').length > 0, 'bob warns of a change replayed by a non-admin', 30_000)
  assert.deepEqual(await g(bob).get(grp.id), before, 'a replayed change changes nothing')

  // A change for a group bob does not know.
  const unknown = Buffer.from(randomBytes(16)).toString('hex')
  await g(alice).sendChangesForTest(ab.aToB, unknown, [log[0] as Uint8Array])
  await waitFor(() => warnings(bob, 'unknown-group').length > 0, 'bob warns of an unknown group', 30_000)

  const after = await g(bob).get(grp.id)
  assert.deepEqual(after, before, 'nothing changed')
  assert.equal((await g(bob).list()).length, 1, 'no group was made')

  // Carol leaves; a group message she forges with her old sender key is dropped by bob.
  await g(bob).send(grp.id, 'so carol has my key')
  await waitFor(async () => (await g(carol).messages(grp.id)).some((m) => m.text === 'so carol has my key'), 'carol has bob\'s message')
  await g(carol).send(grp.id, 'so bob has my key')
  await waitFor(async () => (await g(bob).messages(grp.id)).some((m) => m.text === 'so bob has my key'), 'bob has carol\'s key')
  await g(carol).leave(grp.id)
  await waitFor(async () => (await g(bob).get(grp.id)).members.length === 2, 'bob sees carol gone', 30_000)
  const envelope = await g(carol).deviceForTest.forgeTextForTest(grp.id, bc.bToA, 'after leaving')
  await g(carol).sendEnvelopeForTest(bc.bToA, envelope)
  await waitFor(() => warnings(bob, 'not-member').length > 0, 'bob drops the non-member\'s message', 30_000)
  assert.ok(!(await g(bob).messages(grp.id)).some((m) => m.text === 'after leaving'))
})
