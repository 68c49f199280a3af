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
// Transfer rows of a group's files are owned by `group:<group id>` instead of a contact id (the store's contact_id
// column), so a group's file list is one query and no contact's list shows them.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { ContactPort } from '../ports.ts'
import { MAX_RELAYS } from '../../wire/payload.ts'

const GROUP_OWNER_PREFIX = 'group:'

/** The owner of a group's transfer rows. */
export function groupFileOwner (groupId: string): string {
  return `${GROUP_OWNER_PREFIX}${groupId}`
}

/** The group that owns a transfer row, or undefined for a contact's row. */
export function groupOfOwner (owner: string): string | undefined {
  return owner.startsWith(GROUP_OWNER_PREFIX) ? owner.slice(GROUP_OWNER_PREFIX.length) : undefined
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
