// Peer ids given as strings (a contact's card, a connection's authenticated peer): one peer can be written more than
// one way (base58btc multihash, or a CID in another base), so two ids are compared by what they name.
import { peerIdFromString } from '@libp2p/peer-id'

/** Whether `a` and `b` name the same peer. Equal strings always do; otherwise both are parsed, and an id that does not
 * parse names no peer (false): a malformed id never matches. */
export function samePeer (a: string, b: string): boolean {
  if (a === b) return true
  let x, y
  try {
    x = peerIdFromString(a)
    y = peerIdFromString(b)
  } catch {
    return false
  }
  return x.equals(y)
}
