// Review finding (src/e2ee/groups/groups.ts, card-request): a contact's card requests for made-up groups make at
// most MAX_PENDING_GROUPS_PER_CONTACT rows (and mailboxes) on this device, MAX_PENDING_GROUPS in all; at a cap the
// oldest row not joined is evicted, so a real invitation always gets through.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { DeviceContext } from '../../src/e2ee/context.ts'
import { MAX_PENDING_GROUPS, MAX_PENDING_GROUPS_PER_CONTACT, groupBook, openGroupBody, type GroupOpened } from '../../src/e2ee/groups/groups.ts'
import type { GroupManager } from '../../src/messenger/groups/manager.ts'
import { encodeGroupBody } from '../../src/wire/group.ts'
import { GroupRepository } from '../../src/store/groups.ts'
import { introduce, person, startTestRelay, type Person } from '../helpers/testnet.ts'

const ctxOf = (p: Person): DeviceContext => ((p.m().groups as GroupManager).deviceForTest as unknown as { ctx: DeviceContext }).ctx

async function cardRequest (ctx: DeviceContext, contactId: string): Promise<GroupOpened> {
  const body = encodeGroupBody({ type: 'card-request', groupId: new Uint8Array(randomBytes(16)), name: 'junk' })
  return await ctx.serial(async () => await ctx.stores.atomically(async () => await openGroupBody(ctx, ctx.contactRow(contactId), body)))
}

test('card requests for groups not joined are capped per contact and in all; at a cap the oldest row is evicted', { timeout: 120_000 }, async (t) => {
  const relay = await startTestRelay(t)
  let clock = Date.now()
  const alice = await person(t, 'alice', { relays: [relay.addr], now: () => clock })
  const bob = await person(t, 'bob', { relays: [relay.addr] })
  const carol = await person(t, 'carol', { relays: [relay.addr] })
  const ab = await introduce(alice, bob)
  const ac = await introduce(alice, carol)
  const ctx = ctxOf(alice)
  const unjoined = (): string[] => [...groupBook(ctx).groups.values()].filter((g) => !g.row.joined).map((g) => g.row.id)
  const inStore = (): string[] => new GroupRepository(ctx.db).all().filter((g) => !g.joined).map((g) => g.id)
  const fromBob: string[] = []
  for (let i = 0; i < MAX_PENDING_GROUPS_PER_CONTACT + 2; i++) {
    clock += 1000
    const r = await cardRequest(ctx, ab.aToB)
    assert.equal(r.type, 'card-request', 'a new invitation is always answered')
    fromBob.push(r.groupId)
  }
  // Bob's two oldest rows made room for his two newest: row, mailbox and store row gone.
  assert.deepEqual(unjoined().sort(), fromBob.slice(2).sort())
  assert.deepEqual(inStore().sort(), fromBob.slice(2).sort())
  const mailboxGroups = [...ctx.mailboxes.values()].filter((m) => m.kind === 'group').map((m) => (m as { groupId: string }).groupId)
  for (const gone of fromBob.slice(0, 2)) assert.ok(!mailboxGroups.includes(gone), 'its mailbox is no longer polled')
  // Carol's invitation evicts none of bob's (the cap is per contact; the total cap is far above).
  clock += 1000
  const fromCarol = await cardRequest(ctx, ac.aToB)
  assert.equal(fromCarol.type, 'card-request')
  assert.equal(unjoined().length, MAX_PENDING_GROUPS_PER_CONTACT + 1)
  // A restart keeps what is left, and the per-contact count (bob's next evicts his oldest left, not carol's).
  await alice.stop()
  await alice.start()
  const ctx2 = ctxOf(alice)
  clock += 1000
  await cardRequest(ctx2, ab.aToB)
  const left = [...groupBook(ctx2).groups.values()].filter((g) => !g.row.joined).map((g) => g.row.id)
  assert.ok(!left.includes(fromBob[2] as string) && left.includes(fromCarol.groupId) && left.length === MAX_PENDING_GROUPS_PER_CONTACT + 1)
})

test('the total cap on groups not joined evicts the oldest row, whoever asked', { timeout: 120_000 }, async (t) => {
  const relay = await startTestRelay(t)
  let clock = Date.now()
  const alice = await person(t, 'alice', { relays: [relay.addr], now: () => clock })
  const bob = await person(t, 'bob', { relays: [relay.addr] })
  const ab = await introduce(alice, bob)
  const ctx = ctxOf(alice)
  const book = groupBook(ctx)
  const made: string[] = []
  for (let n = 0; n < MAX_PENDING_GROUPS + 1; n++) {
    clock += 1000
    const r = await cardRequest(ctx, ab.aToB)
    made.push(r.groupId)
    // Counted as another contact's (as if MAX_PENDING_GROUPS / 4 contacts asked): only the total cap applies.
    book.pendingFrom.set(r.groupId, `contact-${n}`)
  }
  const unjoined = [...book.groups.values()].filter((g) => !g.row.joined).map((g) => g.row.id)
  assert.equal(unjoined.length, MAX_PENDING_GROUPS)
  assert.ok(!unjoined.includes(made[0] as string), 'the oldest went')
  assert.ok(unjoined.includes(made[MAX_PENDING_GROUPS] as string), 'the newest is in')
  assert.equal(new GroupRepository(ctx.db).all().filter((g) => !g.joined).length, MAX_PENDING_GROUPS)
})

test('a card request this admin sends is recorded in the store, with its expiry (so it outlives a restart)', { timeout: 120_000 }, async (t) => {
  const relay = await startTestRelay(t)
  const alice = await person(t, 'alice', { relays: [relay.addr] })
  const bob = await person(t, 'bob', { relays: [relay.addr] })
  const ab = await introduce(alice, bob)
  const grp = await (alice.m().groups as GroupManager).create('y', [])
  const dg = (alice.m().groups as GroupManager).deviceForTest
  await dg.cardRequest(grp.id, ab.aToB, 1000)
  const ctx = ctxOf(alice)
  const stored = new GroupRepository(ctx.db).asked()
  assert.deepEqual([...stored.keys()], [`${grp.id}:${ctx.contactRow(ab.aToB).accountId}`])
  assert.ok((stored.values().next().value ?? 0) > ctx.now())
})
