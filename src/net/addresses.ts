// Which of a device's own addresses are worth handing out (its card, its invites, its status): a node that
// listens on every interface reports each interface's address; a contact can use none of the wildcard,
// link-local or loopback ones, except loopback when there is nothing else (everything on one machine: tests,
// the demo).
import { multiaddr } from '@multiformats/multiaddr'

/** `0message1 start` without --listen: every interface (IPv4 and IPv6), on a port the system picks, so that
 * a contact on the same network (or one who reaches this host) can dial it. Relay-only mode ignores it. */
export const ALL_INTERFACES_LISTEN: readonly string[] = ['/ip4/0.0.0.0/tcp/0', '/ip6/::/tcp/0']

type Kind = 'circuit' | 'loopback' | 'unusable' | 'usable'

function kindOf (addr: string): Kind {
  if (addr.includes('/p2p-circuit')) return 'circuit'
  let host: string | undefined
  try {
    host = multiaddr(addr).getComponents().find((c) => c.name === 'ip4' || c.name === 'ip6')?.value
  } catch {
    return 'unusable'
  }
  if (host === undefined) return 'usable' // dns names and the like: the operator chose them
  if (host === '0.0.0.0' || host === '::') return 'unusable'
  const h = host.toLowerCase()
  if (/^fe[89ab][0-9a-f]:/.test(h)) return 'unusable' // IPv6 link-local: needs a zone id nobody else knows
  if (h.startsWith('169.254.')) return 'unusable' // IPv4 link-local
  if (h === '::1' || /^127\./.test(h)) return 'loopback'
  return 'usable'
}

/** Circuits and the usable direct addresses; loopback only when no other direct address exists. Order kept. */
export function shareableAddresses (all: readonly string[]): string[] {
  const kinds = all.map((a) => [a, kindOf(a)] as const)
  const anyUsable = kinds.some(([, k]) => k === 'usable')
  return kinds.filter(([, k]) => k === 'circuit' || k === 'usable' || (k === 'loopback' && !anyUsable)).map(([a]) => a)
}
