// Held changes (docs/protocol.md §10.3): the bounds on changes waiting for their parents, and which held change
// makes room at a bound. Kept apart from groups.ts so the eviction rule can be tested on its own.
import { MAX_CHANGES_PER_BODY, type SignedChange } from '../../wire/group.ts'

/** A change whose parents have not arrived yet, held aside (in the store too) until they do. */
export interface HeldChange {
  readonly change: SignedChange
  readonly heldAt: number
  /** The contact it came from (undefined: held before senders were recorded, or my own). */
  readonly from: string | undefined
}

/**
 * A change can arrive before its parents (another admin's forward overtook the change that made its author an
 * admin; a long log's bodies came out of order). It waits at most HELD_CHANGE_TTL_MS, the longest its parents can
 * take (they sit on a relay as long as any message); at most MAX_HELD_PER_CONTACT from one contact (one full
 * changes body: a long log reordered by one body, the most an honest sender needs held), MAX_HELD_PER_GROUP per
 * group (two bodies) and MAX_HELD_CHANGES in all (about 11 MB of the largest changes). At a bound the oldest
 * change of the contact holding the most in that scope makes room (the arriving contact's own on a tie), never
 * the arrival: a contact sending orphans only ever replaces its own, and cannot lock out anyone holding fewer.
 */
export const HELD_CHANGE_TTL_MS = 30 * 24 * 3600_000
export const MAX_HELD_PER_CONTACT = MAX_CHANGES_PER_BODY
export const MAX_HELD_PER_GROUP = 128
export const MAX_HELD_CHANGES = 256

export interface HeldEntry { readonly groupId: string, readonly hash: string, readonly held: HeldChange }

/**
 * Which held change makes room for one from `from` arriving in group `groupId`, or undefined when no bound is
 * reached. Checked per contact, then per group, then in all; in each scope the victim is the oldest change of the
 * contact holding the most there (the arriving contact on a tie).
 */
export function heldVictim (entries: readonly HeldEntry[], groupId: string, from: string | undefined): HeldEntry | undefined {
  const scopes: Array<[readonly HeldEntry[], number]> = [
    [entries.filter((e) => e.held.from === from), MAX_HELD_PER_CONTACT],
    [entries.filter((e) => e.groupId === groupId), MAX_HELD_PER_GROUP],
    [entries, MAX_HELD_CHANGES]
  ]
  for (const [scope, limit] of scopes) {
    if (scope.length < limit) continue
    const count = new Map<string | undefined, number>()
    for (const e of scope) count.set(e.held.from, (count.get(e.held.from) ?? 0) + 1)
    let top = from
    for (const [k, n] of count) if (n > (count.get(top) ?? 0)) top = k
    // A stable sort: entries come in arrival order within a time.
    const oldest = scope.filter((e) => e.held.from === top).sort((x, y) => x.held.heldAt - y.held.heldAt)[0]
    if (oldest !== undefined) return oldest
  }
  return undefined
}
