// Files in groups (issue 12 with issue 11). A group file is sealed once (one random key, one blob id, one fetch
// capability) and announced inside the group's sender-key message, so every member gets the same descriptor. The
// sender streams the chunks straight to each member it has a direct connection to and parks one shared copy on
// relays for the rest (src/messenger/files/transfers.ts, #runGroupOutgoing).
//
// A parked group blob is never deleted by a member: each member fetches it whenever it comes online, and a member
// cannot know whether the others have it. It goes when the sender deletes its message, or at the relay's expiry
// (30 days). The relay enforces it: members get the blob's fetch token, SHA-256(capability), in place of the
// capability; the relay (which stores exactly that hash) answers status and get for it, but put and delete need the
// capability, which only the sender holds (src/relay/blob-store.ts). The relay sees one blob, like any other, fetched by some short-lived identities: nothing in it names
// a group or a member count (docs/threat-model.md "Files in groups").
//
// Transfer rows of a group's files are owned by `group:<group id>/<sender account id>` (the sender is '' for my own
// files, as in group_messages) instead of a contact id (the store's contact_id column): a group's file list is one
// range query, no contact's list shows them, and a row is bound to the member that announced it. Message ids of a
// group are chosen by their senders and unique only per sender (group_messages is keyed by group, sender and id), so
// a member announcing a file under another member's message id gets a row of its own and can neither hide, replace,
// read nor cancel the other's (issue 12 review; migration 16 in src/store/schema.ts moved the older rows).
import { createHash, timingSafeEqual } from 'node:crypto'
import type { ContactPort } from '../ports.ts'
import { MAX_RELAYS } from '../../wire/payload.ts'

const GROUP_OWNER_PREFIX = 'group:'

/** The owner of a group's transfer rows from one sender ('' for mine). */
export function groupFileOwner (groupId: string, sender: string): string {
  return `${GROUP_OWNER_PREFIX}${groupId}/${sender}`
}

/** Every owner of a group's rows starts with this (and no other group's does: group ids hold no '/'). */
export function groupOwnerPrefix (groupId: string): string {
  return `${GROUP_OWNER_PREFIX}${groupId}/`
}

/** The group that owns a transfer row, or undefined for a contact's row. */
export function groupOfOwner (owner: string): string | undefined {
  if (!owner.startsWith(GROUP_OWNER_PREFIX)) return undefined
  const slash = owner.indexOf('/', GROUP_OWNER_PREFIX.length)
  // A row of a store older than migration 16 that it could not bind to one sender: still a group's (kept, never swept
  // as an orphan: FileStore.orphans).
  return owner.slice(GROUP_OWNER_PREFIX.length, slash < 0 ? undefined : slash)
}

/** The account that announced a group's file ('' for mine), or undefined for a contact's row (or an unbound one). */
export function senderOfOwner (owner: string): string | undefined {
  if (!owner.startsWith(GROUP_OWNER_PREFIX)) return undefined
  const slash = owner.indexOf('/', GROUP_OWNER_PREFIX.length)
  return slash < 0 ? undefined : owner.slice(slash + 1)
}

/**
 * The relays a group file may be parked on: the members' own relays (the ones they are connected to anyway), those
 * most members share first, at most MAX_RELAYS (the descriptor's bound). Members fetch from the first listed relays
 * that hold it; the sender parks FILE_RELAY_COPIES copies, the first relays that take it.
 */
export function groupFileRelays (members: readonly ContactPort[]): string[] {
  const count = new Map<string, number>()
  for (const m of members) for (const r of new Set(m.theirRelays)) count.set(r, (count.get(r) ?? 0) + 1)
  return [...count.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).slice(0, MAX_RELAYS).map(([r]) => r)
}

/** What members get in place of the capability: the relay's stored hash of it, enough to fetch and not to delete. */
export function fetchToken (capability: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(capability).digest())
}

/** A member's check of what the sender presents on a direct stream: the capability whose token it holds. */
export function presentsCapability (token: Uint8Array, presented: Uint8Array): boolean {
  return timingSafeEqual(fetchToken(presented), token)
}

/** The key in a group row's relayCounts that records how many chunks one member confirmed on a direct stream
 * (relay addresses start with '/', so the two never collide). */
export function memberKey (contactId: string): string {
  return `member:${contactId}`
}
