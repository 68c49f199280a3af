// What the group tests share (test/groups/*): three people on one relay with Alice a contact of both, the group
// manager of a person, its view of a group's members, its warnings, and opening a group body as it would arrive.
import type { DeviceContext } from '../../src/e2ee/context.ts'
import { openGroupBody, type GroupOpened } from '../../src/e2ee/groups/groups.ts'
import type { GroupManager } from '../../src/messenger/groups/manager.ts'
import type { MessengerEvent } from '../../src/messenger/types.ts'
import { encodeGroupBody } from '../../src/wire/group.ts'
import { introduce, person, startTestRelay, type Person, type RelaySlot, type TestContext } from './testnet.ts'

export const groupsOf = (p: Person): GroupManager => p.m().groups as GroupManager

type Warning = Extract<MessengerEvent, { type: 'warning' }>
export const warningsOf = (p: Person, reason: string): Warning[] =>
  p.events.filter((e): e is Warning => e.type === 'warning' && e.reason === reason)

/** Members a person sees in a group, sorted, admins starred (`alice*,bob`); '' if it has no such group. */
export async function memberNames (p: Person, groupId: string): Promise<string> {
  const grp = (await groupsOf(p).list()).find((x) => x.id === groupId)
  return grp === undefined ? '' : grp.members.map((m) => `${m.name}${m.admin ? '*' : ''}`).sort().join(',')
}

/** The same with the group's name first (`long: alice*,bob`). */
export async function namedMembers (p: Person, groupId: string): Promise<string> {
  const grp = (await groupsOf(p).list()).find((x) => x.id === groupId)
  return grp === undefined ? '' : `${grp.name}: ${await memberNames(p, groupId)}`
}

export const memberCount = async (p: Person, groupId: string): Promise<number> =>
  (await groupsOf(p).list()).find((x) => x.id === groupId)?.members.length ?? -1

export interface Three {
  relay: RelaySlot
  alice: Person
  bob: Person
  carol: Person
  /** Alice and Bob's contact ids for each other. */
  ab: { aToB: string, bToA: string }
  /** Alice and Carol's. */
  ac: { aToB: string, bToA: string }
}

/** Alice, Bob and Carol on one relay; Alice is a contact of both (Bob and Carol are not contacts). */
export async function three (t: TestContext): Promise<Three> {
  const relay = await startTestRelay(t)
  const alice = await person(t, 'alice', { relays: [relay.addr] })
  const bob = await person(t, 'bob', { relays: [relay.addr] })
  const carol = await person(t, 'carol', { relays: [relay.addr] })
  const ab = await introduce(alice, bob)
  const ac = await introduce(alice, carol)
  return { relay, alice, bob, carol, ab, ac }
}

const ctxOf = (p: Person): DeviceContext => (groupsOf(p).deviceForTest as unknown as { ctx: DeviceContext }).ctx

/** A person's device context (its store and group book), for tests that inspect or feed it directly. */
export { ctxOf as deviceContextOf }

/** Opens a group body as if it had just arrived from `contactId`, in the device's own serial, atomic step. */
export async function openAs (p: Person, contactId: string, body: Uint8Array): Promise<GroupOpened> {
  const ctx = ctxOf(p)
  return await ctx.serial(async () => await ctx.stores.atomically(async () => await openGroupBody(ctx, ctx.contactRow(contactId), body)))
}

export const changesBody = (groupId: string, changes: Uint8Array[]): Uint8Array =>
  encodeGroupBody({ type: 'changes', groupId: Buffer.from(groupId, 'hex'), changes })
