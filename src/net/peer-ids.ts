// Peer ids given as strings (a contact's card, a connection's authenticated peer): one peer can be written more than
// one way (base58btc multihash, or a CID in another base), so two ids are compared by what they name.
import { canonicalPeerId } from '../identity/peer-id.ts'

/** Whether `a` and `b` name the same peer. Equal strings always do; an id that does not parse names no peer: a
 * malformed id matches only itself, never a connection's peer. A card received since the contact row keeps its peer
 * id in canonical form (src/e2ee/contact-row.ts); a card stored before may hold another form. */
export function samePeer (a: string, b: string): boolean {
  return a === b || canonicalPeerId(a) === canonicalPeerId(b)
}
