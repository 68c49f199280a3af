// Review finding (src/e2ee/groups/groups.ts, card-request): a contact's card requests for made-up groups make
// at most MAX_PENDING_GROUPS_PER_CONTACT rows (and mailboxes) on this device; another contact is not blocked by it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { DeviceContext } from '../../src/e2ee/context.ts'
import { MAX_PENDING_GROUPS_PER_CONTACT, groupBook, openGroupBody, type GroupOpened } from '../../src/e2ee/groups/groups.ts'
import type { GroupManager } from '../../src/messenger/groups/manager.ts'
import { encodeGroupBody } from '../../src/wire/group.ts'
import { GroupRepository } from '../../src/store/groups.ts'
import { introduce, person, startTestRelay, type Person } from '../helpers/testnet.ts'

const ctxOf = (p: Person): DeviceContext => ((p.m().groups as GroupManager).deviceForTest as unknown as { ctx: DeviceContext }).ctx

async function cardRequest (ctx: DeviceContext, contactId: string): Promise<GroupOpened> {
  const body = encodeGroupBody({ type: 'card-request', groupId: new Uint8Array(randomBytes(16)), name: 'junk' })
  return await ctx.serial(async () => await ctx.stores.atomically(async () => await openGroupBody(ctx, ctx.contactRow(contactId), body)))
}

test('card requests for unknown groups are capped per contact', { timeout: 120_000 }, async (t) => {
  const relay = await startTestRelay(t)
  const alice = await person(t, 'alice', { relays: [relay.addr] })
  const bob = await person(t, 'bob', { relays: [relay.addr] })
  const carol = await person(t, 'carol', { relays: [relay.addr] })
  const ab = await introduce(alice, bob)
  const ac = await introduce(alice, carol)
  const ctx = ctxOf(alice)
  const kinds: string[] = []
  for (let i = 0; i < MAX_PENDING_GROUPS_PER_CONTACT + 3; i++) {
    const r = await cardRequest(ctx, ab.aToB)
    kinds.push(r.type === 'refused' ? r.reason : r.type)
  }
  assert.deepEqual(kinds, [...Array<string>(MAX_PENDING_GROUPS_PER_CONTACT).fill('card-request'), 'too-many-pending', 'too-many-pending', 'too-many-pending'])
  assert.equal([...groupBook(ctx).groups.values()].filter((g) => !g.row.joined).length, MAX_PENDING_GROUPS_PER_CONTACT)
  // Carol's invitation still makes a row: the cap is per contact (the total cap is far above).
  assert.equal((await cardRequest(ctx, ac.aToB)).type, 'card-request')
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
