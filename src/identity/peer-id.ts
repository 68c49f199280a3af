// A peer id as a string has more than one form (base58btc multihash, or a CID in another base): a contact's card may
// give any of them, libp2p names a connection's peer in one. Each is kept in that one form, so ids compare as strings.
import { peerIdFromString } from '@libp2p/peer-id'

/** `id` in libp2p's own form (its toString()); kept as given if it does not parse (such an id names no peer, and
 * matches no connection, dial or presence record). */
export function canonicalPeerId (id: string): string {
  try {
    return peerIdFromString(id).toString()
  } catch {
    return id
  }
}
