// Review finding (src/e2ee/groups/groups.ts, card-reply): an admin signs an add only for a card it asked for.
// A removed member sending its card unasked is refused with a warning and stays out; a re-add by the admin
// (a new card request) still works, and the ask is consumed by its answer.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeChange, encodeGroupBody, type GroupCard } from '../../src/wire/group.ts'
import { encodePayload } from '../../src/wire/payload.ts'
import { encryptFor } from '../../src/e2ee/seal.ts'
import type { DeviceContext } from '../../src/e2ee/context.ts'
import { groupsOf as g, warningsOf as warnings, memberCount as count, three } from '../helpers/groups.ts'
import { waitFor } from '../helpers/wait.ts'

test('a removed member cannot re-add itself with an unasked card reply', { timeout: 180_000 }, async (t) => {
  const { alice, bob, carol, ab, ac } = await three(t)
  const grp = await g(alice).create('x', [ab.aToB, ac.aToB])
  for (const p of [alice, bob, carol]) await waitFor(async () => (await count(p, grp.id)) === 3, `${p.name} sees 3`, 60_000)
  await g(alice).remove(grp.id, ac.aToB)
  await waitFor(async () => !(await g(carol).get(grp.id)).member, 'carol knows she is out', 60_000)

  // Carol sends alice her card for the group, unasked (twice: the first answer to alice's request was consumed).
  const dg = g(carol).deviceForTest
  const ctx = (dg as unknown as { ctx: DeviceContext }).ctx
  let card: GroupCard | undefined
  for (const b of dg.log(grp.id)) {
    const c = decodeChange(b)
    if (c.op.kind === 'add') card ??= c.op.cards.find((k) => Buffer.from(k.identityKey).equals(Buffer.from(ctx.identityKeyBytes)))
  }
  assert.ok(card)
  for (let i = 0; i < 2; i++) {
    const plain = encodePayload(dg.bodyPayload(encodeGroupBody({ type: 'card-reply', groupId: Buffer.from(grp.id, 'hex'), card })))
    const row = ctx.contactRow(ac.bToA)
    const envelope = await ctx.serial(async () => await ctx.stores.atomically(async () => await encryptFor(ctx, row, ctx.address(row), plain)))
    await g(carol).sendEnvelopeForTest(ac.bToA, envelope)
    await waitFor(() => warnings(alice, 'not-asked').length > i, `alice refuses unasked card ${i + 1}`, 60_000)
  }
  assert.equal(await count(alice, grp.id), 2)
  assert.equal((await g(carol).get(grp.id)).member, false)

  // Alice asks again: carol's device answers that request and is added back.
  await g(alice).add(grp.id, ac.aToB)
  await waitFor(async () => (await count(alice, grp.id)) === 3, 'alice re-adds carol on request', 60_000)
  await waitFor(async () => (await g(carol).get(grp.id)).member, 'carol is back', 60_000)
})
