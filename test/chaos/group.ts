// The chaos run's group (issue 11): one group of GROUP_SIZE of the run's devices, made through the messenger's
// group API before the faults start; during the traffic its members send group messages through the same kills,
// stops and relay deaths as the one-to-one messages. At the end every member must hold every other member's group
// message exactly once, in each sender's order (the order its send() calls returned, with its sequence numbers),
// and every message must be marked delivered to every member at its sender. Figures are per member.
import type { ChildEvent } from '../helpers/procs.ts'
import type { DeviceSlot } from './run.ts'

/** The "one group of 6 among its devices". */
export const GROUP_SIZE = 6
/** Share of the run's messages sent to the group (each is sealed once and goes to size - 1 members). */
export const GROUP_SHARE = 0.1
/** A group conversation is read in one request (the API's most); a full one means the run could not see it all. */
const GROUP_READ = 1000
const READ_TRIES = 10
const READ_TIMEOUT_MS = 60_000
const READ_RETRY_MS = 1_000
/** Forming the group: card requests, replies and add changes between live devices on loopback. */
const FORM_MS = 120_000
const POLL_MS = 300

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

export interface GroupSent { readonly from: number, readonly id: string, readonly seq: number, readonly order: number, readonly total: number }
export interface GroupRow { id: string, seq: number, direction: 'in' | 'out', sender: string, at: number, total: number, delivered: number }

export interface ChaosGroup {
  readonly id: string
  /** Device indexes of the members; the first is the admin who made the group. */
  readonly members: readonly number[]
}

export interface MemberFigures { readonly device: number, readonly expected: number, readonly received: number }

export interface GroupResult {
  readonly size: number
  readonly sent: number
  readonly perMember: readonly MemberFigures[]
  readonly duplicates: number
  readonly outOfOrder: number
  readonly lost: number
  /** Group messages not marked delivered to every member at their sender. */
  readonly notAcknowledged: number
  /** Sends sealed for fewer members than the group has (a member left out of a message). */
  readonly shortSends: number
  readonly failedSends: number
  /** Latest arrival at any member, to fold into the run's "last arrival after settling". */
  readonly lastArrival: number
}

/** The members of the run's group: the first `size` devices (device 0 makes it), none when too few devices. */
export function groupMembers (devices: number, size: number): number[] {
  return size >= 3 && devices >= size ? Array.from({ length: size }, (_, i) => i) : []
}

/** Contact pairs the group needs: its admin must have every other member as a contact to add it. */
export function groupEdges (members: readonly number[]): Array<[number, number]> {
  const [admin, ...rest] = members
  return admin === undefined ? [] : rest.map((m) => [admin, m])
}

interface GroupListEntry { id: string, member: boolean, members: Array<{ me: boolean, contactId?: string }> }

/** Makes the group through device members[0]'s messenger API and waits until every member holds all of it. */
export async function formGroup (devices: readonly DeviceSlot[], members: readonly number[], log: (line: string) => void): Promise<ChaosGroup> {
  const started = Date.now()
  const admin = devices[members[0] as number] as DeviceSlot
  const contactIds = members.slice(1).map((m) => admin.contactOf.get(m) as string)
  const made = await admin.child.request<{ id: string }>('groupCreate', { name: 'chaos', contactIds }, FORM_MS)
  // Every member lists every other member with a pairwise session (a contact, or met through the group): only
  // then does a send reach all of them.
  for (const i of members) {
    const d = devices[i] as DeviceSlot
    for (;;) {
      const g = (await d.child.request<GroupListEntry[]>('groups')).find((x) => x.id === made.id)
      if (g !== undefined && g.member && g.members.length === members.length && g.members.every((x) => x.me || x.contactId !== undefined)) break
      if (Date.now() - started > FORM_MS) throw new Error(`chaos: device${i} did not get the whole group of ${members.length} within ${FORM_MS} ms`)
      await sleep(POLL_MS)
    }
  }
  log(`chaos: group of ${members.length} (devices ${members.join(', ')}) formed in ${Date.now() - started} ms`)
  return { id: made.id, members }
}

/** A member's view of the group conversation, retried until it answers (never taken as absence). */
async function readGroup (d: DeviceSlot, groupId: string, heal: () => Promise<void>): Promise<GroupRow[]> {
  let last: unknown
  for (let i = 0; i < READ_TRIES; i++) {
    let rows: GroupRow[]
    try {
      rows = await d.child.request<GroupRow[]>('groupMessages', { groupId, limit: GROUP_READ }, READ_TIMEOUT_MS)
    } catch (err) {
      last = err
      await sleep(READ_RETRY_MS * (i + 1))
      await heal()
      continue
    }
    if (rows.length >= GROUP_READ) throw new Error(`device${d.index}: the group holds ${GROUP_READ} messages or more; the run would not see all of it`)
    return rows
  }
  throw new Error(`device${d.index}: reading the group failed ${READ_TRIES} times; the run cannot tell lost from unread`, { cause: last })
}

export interface GroupSnapshot { readonly rows: ReadonlyMap<number, GroupRow[]> }

export async function groupSnapshot (devices: readonly DeviceSlot[], g: ChaosGroup, heal: () => Promise<void>): Promise<GroupSnapshot> {
  await heal()
  const rows = new Map<number, GroupRow[]>()
  for (const i of g.members) rows.set(i, await readGroup(devices[i] as DeviceSlot, g.id, heal))
  return { rows }
}

const key = (from: number, id: string): string => `${from}:${id}`

/** Whether every group message is at every other member and acknowledged by all of them at its sender. */
export function groupDone (g: ChaosGroup, sent: readonly GroupSent[], snap: GroupSnapshot): boolean {
  const has = new Map([...snap.rows].map(([i, rows]) => [i, new Set(rows.filter((r) => r.direction === 'in').map((r) => r.id))]))
  const acked = new Set<string>()
  for (const [i, rows] of snap.rows) for (const r of rows) if (r.direction === 'out' && r.total > 0 && r.delivered === r.total) acked.add(key(i, r.id))
  return sent.every((s) => acked.has(key(s.from, s.id)) && g.members.every((m) => m === s.from || has.get(m)?.has(s.id) === true))
}

/**
 * The figures: per member, how many of the others' messages it holds of those it should; duplicates (a message
 * shown twice over all of a member's incarnations, or stored twice); out-of-order (a sender's messages shown out
 * of the order its send() calls returned, or with another sequence number); lost; not acknowledged at the sender.
 */
export function groupFigures (devices: readonly DeviceSlot[], g: ChaosGroup, sent: readonly GroupSent[], failedSends: number, snap: GroupSnapshot): GroupResult {
  const accountOf = new Map(g.members.map((i) => [(devices[i] as DeviceSlot).accountId, i]))
  const byKey = new Map(sent.map((s) => [key(s.from, s.id), s]))
  const perMember: MemberFigures[] = []
  let duplicates = 0
  let outOfOrder = 0
  let lost = 0
  let lastArrival = 0
  for (const i of g.members) {
    const d = devices[i] as DeviceSlot
    const incoming = (snap.rows.get(i) ?? []).filter((r) => r.direction === 'in')
    const expected = sent.filter((s) => s.from !== i)
    const held = new Set(incoming.map((r) => key(accountOf.get(r.sender) ?? -1, r.id)))
    const received = expected.filter((s) => held.has(key(s.from, s.id))).length
    perMember.push({ device: i, expected: expected.length, received })
    lost += expected.length - received
    duplicates += incoming.length - new Set(incoming.map((r) => `${r.sender}:${r.id}`)).size
    const shown = new Map<string, number>()
    for (const e of d.groupEvents) if (e.direction === 'in' && e.groupId === g.id) shown.set(`${String(e.sender)}:${String(e.id)}`, (shown.get(`${String(e.sender)}:${String(e.id)}`) ?? 0) + 1)
    for (const n of shown.values()) if (n > 1) duplicates += n - 1
    const lastOrder = new Map<number, number>()
    for (const r of incoming) {
      const from = accountOf.get(r.sender)
      const s = from === undefined ? undefined : byKey.get(key(from, r.id))
      if (s === undefined) continue
      lastArrival = Math.max(lastArrival, r.at)
      if (s.order < (lastOrder.get(s.from) ?? -1) || s.seq !== r.seq) outOfOrder++
      lastOrder.set(s.from, Math.max(lastOrder.get(s.from) ?? -1, s.order))
    }
  }
  const acked = new Set<string>()
  for (const [i, rows] of snap.rows) for (const r of rows) if (r.direction === 'out' && r.total > 0 && r.delivered === r.total) acked.add(key(i, r.id))
  return {
    size: g.members.length,
    sent: sent.length,
    perMember,
    duplicates,
    outOfOrder,
    lost,
    notAcknowledged: sent.filter((s) => !acked.has(key(s.from, s.id))).length,
    shortSends: sent.filter((s) => s.total !== g.members.length - 1).length,
    failedSends,
    lastArrival
  }
}

export function groupOk (r: GroupResult): boolean {
  return r.sent > 0 && r.lost === 0 && r.duplicates === 0 && r.outOfOrder === 0 && r.notAcknowledged === 0 && r.shortSends === 0 && r.failedSends === 0
}

/** The summary line's group part: per member received of expected, then the same three zeros as the whole run. */
export function groupLine (r: GroupResult): string {
  const per = r.perMember.map((m) => `device${m.device} ${m.received}/${m.expected}`).join(', ')
  return `group of ${r.size}: sent ${r.sent}, received per member [${per}], duplicates ${r.duplicates}, out-of-order ${r.outOfOrder}, lost ${r.lost}`
}

/** Events of one incarnation worth keeping for the group figures. */
export function isGroupEvent (e: ChildEvent): boolean {
  return e.event === 'group-message'
}
