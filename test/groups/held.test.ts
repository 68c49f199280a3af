// Held changes and backdating with real devices (src/e2ee/groups/groups.ts, membership.ts): a change that arrives
// before its parents (here: a new admin's rename before the promotion that made it an admin) is held in the store,
// survives a restart, and is admitted once the promotion arrives; orphans are bounded per contact and expire with a warning.
// A removed admin's change signed on parents before its removal is refused on every member.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { HELD_CHANGE_TTL_MS, MAX_HELD_PER_CONTACT, MAX_HELD_PER_GROUP, groupBook } from '../../src/e2ee/groups/groups.ts'
import { changeHash, verifyChange } from '../../src/e2ee/groups/membership.ts'
import { GroupRepository } from '../../src/store/groups.ts'
import { encodeGroupBody } from '../../src/wire/group.ts'
import { groupsOf as g, deviceContextOf as ctxOf, namedMembers as names, warningsOf as warnings, openAs as open, changesBody, three } from '../helpers/groups.ts'
import { introduce, person, startTestRelay, type Person } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'

test('a change that arrives before the promotion of its author is held (across a restart) and admitted when it arrives', { timeout: 180_000 }, async (t) => {
  const relay = await startTestRelay(t)
  let clock = Date.now()
  const alice = await person(t, 'alice', { relays: [relay.addr] })
  const bob = await person(t, 'bob', { relays: [relay.addr] })
  const carol = await person(t, 'carol', { relays: [relay.addr], now: () => clock })
  const ab = await introduce(alice, bob)
  const ca = await introduce(carol, alice)
  const grp = await g(alice).create('held', [ab.aToB])
  await waitFor(async () => (await names(bob, grp.id)) === 'held: alice*,bob', 'bob joins')
  const bobAccount = (await bob.m().status()).accountId
  await g(alice).promote(grp.id, bobAccount)
  await waitFor(async () => (await g(bob).get(grp.id)).admin, 'bob is an admin')
  await g(bob).rename(grp.id, 'renamed by bob')
  const expected = 'renamed by bob: alice*,bob*'
  await waitFor(async () => (await names(alice, grp.id)) === expected, 'alice has bob\'s rename')
  const log = g(alice).deviceForTest.log(grp.id).map((b) => verifyChange(b))
  assert.deepEqual(log.map((c) => c.op.kind), ['create', 'add', 'promote', 'rename'])
  const [create, add, promote, rename] = log.map((c) => c.bytes) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array]

  // Carol has a row for the group (she answered a card request) and gets the log with the promotion missing.
  await open(carol, ca.aToB, encodeGroupBody({ type: 'card-request', groupId: Buffer.from(grp.id, 'hex'), name: 'held' }))
  const first = await open(carol, ca.aToB, changesBody(grp.id, [rename, create, add]))
  assert.ok(first.type === 'changes' && first.outcome.held === 1 && first.outcome.accepted.length === 2 && first.outcome.refused.length === 0)
  assert.equal(g(carol).deviceForTest.info(grp.id).name, 'held', 'the rename waits')
  assert.equal(new GroupRepository(ctxOf(carol).db).heldChanges().length, 1, 'held in the store')

  // A restart keeps it.
  await carol.stop()
  await carol.start()
  assert.equal(groupBook(ctxOf(carol)).held.get(grp.id)?.size, 1)
  const second = await open(carol, ca.aToB, changesBody(grp.id, [promote]))
  assert.ok(second.type === 'changes')
  assert.deepEqual(second.outcome.accepted.map((c) => changeHash(c.bytes)), [changeHash(promote), changeHash(rename)], 'the promotion, then the rename it released')
  const info = g(carol).deviceForTest.info(grp.id)
  assert.equal(`${info.name}: ` + info.members.map((m) => `${m.name}${m.admin ? '*' : ''}`).sort().join(','), expected, 'carol converges with alice and bob')
  assert.equal(new GroupRepository(ctxOf(carol).db).heldChanges().length, 0)

  // Orphans (parents nobody has) from one contact: at most MAX_HELD_PER_CONTACT held, the oldest making room for
  // each new one beyond (held-over-limit); they expire after HELD_CHANGE_TTL_MS.
  const orphans = Array.from({ length: MAX_HELD_PER_GROUP + 2 }, (_, i) => g(alice).deviceForTest.signForTest(grp.id, { kind: 'rename', name: `o${i}` }, { parents: { parents: [new Uint8Array(randomBytes(32))], version: 9 } }))
  let heldCount = 0
  let overLimit = 0
  for (let i = 0; i < orphans.length; i += 64) {
    const r = await open(carol, ca.aToB, changesBody(grp.id, orphans.slice(i, i + 64)))
    assert.ok(r.type === 'changes')
    heldCount += r.outcome.held
    overLimit += r.outcome.refused.filter((x) => x.reason === 'held-over-limit').length
  }
  assert.equal(heldCount, orphans.length, 'every arrival is held')
  assert.equal(overLimit, orphans.length - MAX_HELD_PER_CONTACT, 'the oldest made room')
  assert.deepEqual([...(groupBook(ctxOf(carol)).held.get(grp.id)?.keys() ?? [])].sort(), orphans.slice(-MAX_HELD_PER_CONTACT).map((b) => changeHash(b)).sort(), 'the newest are kept')
  clock += HELD_CHANGE_TTL_MS + 1
  const fifth = await open(carol, ca.aToB, changesBody(grp.id, [rename]))
  assert.ok(fifth.type === 'changes')
  assert.equal(fifth.outcome.refused.filter((r) => r.reason === 'held-expired').length, MAX_HELD_PER_CONTACT)
  assert.equal(groupBook(ctxOf(carol)).held.get(grp.id), undefined)
  assert.equal(new GroupRepository(ctxOf(carol).db).heldChanges().length, 0)
})

test('backdating: a removed admin\'s change signed before its removal is refused on every member', { timeout: 180_000 }, async (t) => {
  const { alice, bob, carol, ab, ac } = await three(t)
  const grp = await g(alice).create('strict', [ab.aToB, ac.aToB])
  for (const p of [alice, bob, carol]) await waitFor(async () => (await names(p, grp.id)) === 'strict: alice*,bob,carol', `${p.name} sees three`, 60_000)
  const bobAccount = (await bob.m().status()).accountId
  await g(alice).promote(grp.id, bobAccount)
  for (const p of [bob, carol]) await waitFor(async () => (await names(p, grp.id)) === 'strict: alice*,bob*,carol', `${p.name} sees bob promoted`)
  const beforeRemoval = g(bob).deviceForTest.log(grp.id).map((b) => verifyChange(b))
  const head = beforeRemoval[beforeRemoval.length - 1]
  assert.equal(head?.op.kind, 'promote')
  await g(alice).remove(grp.id, bobAccount)
  const expected = 'strict: alice*,carol'
  for (const p of [alice, carol]) await waitFor(async () => (await names(p, grp.id)) === expected, `${p.name} sees bob removed`)
  await waitFor(async () => !(await g(bob).get(grp.id)).member, 'bob learns it')

  const carolKey = groupBook(ctxOf(alice)).get(grp.id).state.members.get((await carol.m().status()).accountId)?.card.identityKey ?? new Uint8Array(33)
  // Bob still holds his identity key: he signs a rename and a removal of carol on the parents he had before.
  const parents = { parents: [new Uint8Array(Buffer.from(changeHash((head as { bytes: Uint8Array }).bytes), 'hex'))], version: (head?.version ?? 0) + 1 }
  const forged = [
    g(bob).deviceForTest.signForTest(grp.id, { kind: 'rename', name: 'bob was here' }, { parents }),
    g(bob).deviceForTest.signForTest(grp.id, { kind: 'remove', members: [carolKey] }, { parents })
  ]
  const bobToCarol = (await bob.m().contacts()).find((c) => c.name === 'carol')?.id
  assert.ok(bobToCarol !== undefined)
  await g(bob).sendChangesForTest(ab.bToA, grp.id, forged)
  await g(bob).sendChangesForTest(bobToCarol, grp.id, forged)
  // Both arrive in one body: one warning per author (the second is no news), and nothing changed.
  const inLog = (p: Person, b: Uint8Array): boolean => g(p).deviceForTest.log(grp.id).some((x) => changeHash(x) === changeHash(b))
  for (const p of [alice, carol]) await waitFor(() => forged.every((f) => inLog(p, f)), `${p.name} has both (without effect)`)
  for (const p of [alice, carol]) assert.equal(await names(p, grp.id), expected, `${p.name}: nothing changed`)
  for (const p of [alice, carol]) assert.equal(warnings(p, 'superseded').length, 1, `${p.name} warns once of bob's superseded changes`)
  // Another one later, and the first two again (replayed by bob, no longer an admin): no new superseded warning,
  // a replayed one for each (only an admin's forward of a held change is ordinary).
  const third = g(bob).deviceForTest.signForTest(grp.id, { kind: 'rename', name: 'bob again' }, { parents })
  await g(bob).sendChangesForTest(bobToCarol, grp.id, [...forged, third])
  await waitFor(() => inLog(carol, third), 'carol has the third (without effect)')
  assert.equal(await names(carol, grp.id), expected)
  assert.equal(warnings(carol, 'superseded').length, 1, 'still one warning')
  assert.ok(warnings(carol, 'replayed').length >= 2, 'the replays by a non-admin are warned')
})
