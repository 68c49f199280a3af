// Held-change flooding (review of the membership log): a contact can no longer fill the device-wide bound on held
// changes. Before, made-up groups (card requests) plus orphans signed by her own key filled MAX_HELD_CHANGES for
// good, and every real out-of-order change was then dropped (held-over-limit). Now each contact holds at most
// MAX_HELD_PER_CONTACT (its own oldest make room), only changes by authors in the group's log (or from the contact
// whose card request made the row) are held at all, and expired held changes go when the device opens.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { DeviceContext } from '../../src/e2ee/context.ts'
import { HELD_CHANGE_TTL_MS, MAX_HELD_PER_CONTACT, groupBook } from '../../src/e2ee/groups/groups.ts'
import { changeHash, signChange } from '../../src/e2ee/groups/membership.ts'
import { GroupRepository } from '../../src/store/groups.ts'
import { encodeGroupBody } from '../../src/wire/group.ts'
import { groupsOf as g, deviceContextOf as ctxOf, openAs as open, changesBody } from '../helpers/groups.ts'
import { introduce, person, startTestRelay } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'

const orphan = (ctx: DeviceContext, groupId: Uint8Array, i: number): Uint8Array =>
  signChange({ groupId, version: 2, parents: [new Uint8Array(randomBytes(32))], author: ctx.identityKeyBytes, at: i, op: { kind: 'rename', name: 'j' } }, ctx.identity.privateKey).bytes

test('a contact flooding orphans cannot fill the held changes; a real reordered change still gets through; expired ones go at open', { timeout: 240_000 }, async (t) => {
  const relay = await startTestRelay(t)
  let clock = Date.now()
  const alice = await person(t, 'alice', { relays: [relay.addr] })
  const bob = await person(t, 'bob', { relays: [relay.addr], now: () => clock })
  const mal = await person(t, 'mal', { relays: [relay.addr] })
  const ab = await introduce(alice, bob)
  const mb = await introduce(mal, bob)
  const grp = await g(alice).create('real', [ab.aToB])
  await waitFor(async () => (await g(bob).list()).some((x) => x.id === grp.id && x.members.length === 2), 'bob joins')
  const mctx = ctxOf(mal)
  // Mal: four made-up groups on bob's device (her per-contact cap on rows), 128 orphans each.
  for (let k = 0; k < 4; k++) {
    const fake = new Uint8Array(randomBytes(16))
    await open(bob, mb.bToA, encodeGroupBody({ type: 'card-request', groupId: fake, name: 'x' }))
    for (let b = 0; b < 2; b++) {
      const r = await open(bob, mb.bToA, changesBody(Buffer.from(fake).toString('hex'), Array.from({ length: 64 }, (_, i) => orphan(mctx, fake, i))))
      assert.equal(r.type, 'changes')
    }
  }
  assert.equal(groupBook(ctxOf(bob)).heldCount, MAX_HELD_PER_CONTACT, 'mal holds at most her own share')
  // Mal's orphans for the real group (she is not in its log): not held at all.
  const gid = new Uint8Array(Buffer.from(grp.id, 'hex'))
  const stranger = await open(bob, mb.bToA, changesBody(grp.id, [orphan(mctx, gid, 1)]))
  assert.ok(stranger.type === 'changes')
  assert.deepEqual(stranger.outcome.refused.map((r) => r.reason), ['held-stranger'])
  assert.equal(stranger.outcome.held, 0)

  // Alice's two real changes, the second arriving first: held, then admitted with the first.
  const actx = ctxOf(alice)
  const next = groupBook(actx).get(grp.id).log.next()
  const c1 = signChange({ groupId: gid, ...next, author: actx.identityKeyBytes, at: 1, op: { kind: 'rename', name: 'one' } }, actx.identity.privateKey)
  const c2 = signChange({ groupId: gid, parents: [new Uint8Array(Buffer.from(changeHash(c1.bytes), 'hex'))], version: c1.version + 1, author: actx.identityKeyBytes, at: 2, op: { kind: 'rename', name: 'two' } }, actx.identity.privateKey)
  const r2 = await open(bob, ab.bToA, changesBody(grp.id, [c2.bytes]))
  assert.ok(r2.type === 'changes')
  assert.equal(r2.outcome.held, 1)
  assert.deepEqual(r2.outcome.refused, [])
  const r1 = await open(bob, ab.bToA, changesBody(grp.id, [c1.bytes]))
  assert.ok(r1.type === 'changes')
  assert.equal(r1.outcome.accepted.length, 2)
  assert.equal(groupBook(ctxOf(bob)).get(grp.id).state.name, 'two')

  // A restart keeps mal's held orphans and whom they came from (her bound holds across restarts).
  await bob.stop()
  await bob.start()
  const kept = [...groupBook(ctxOf(bob)).held.values()].flatMap((m) => [...m.values()])
  assert.equal(kept.length, MAX_HELD_PER_CONTACT)
  assert.ok(kept.every((h) => h.from === mb.bToA))

  // Mal's held orphans expire; bob opens his device after that and they are gone without any change arriving.
  clock += HELD_CHANGE_TTL_MS + 1
  await bob.stop()
  await bob.start()
  assert.equal(groupBook(ctxOf(bob)).heldCount, 0)
  assert.equal(new GroupRepository(ctxOf(bob).db).heldChanges().length, 0)
})
