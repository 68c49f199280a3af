// Which discovered relays a device adopts (issue 16): diversity first (a different IP /16 from the relays it
// keeps, then a different operator where one is stated), latency second. Pure, so it is tested alone.
import { multiaddr } from '@multiformats/multiaddr'

export interface RelayChoice {
  /** The address that answered the probe (with /p2p/<peerId>). */
  readonly address: string
  readonly peerId: string
  /** '' when the relay states none (then it never counts as "the same operator"). */
  readonly operator: string
  readonly rttMs: number
}

/** The network a relay sits in, for diversity: IPv4 /16, IPv6 /32, a DNS name as itself. */
export function networkOf (address: string): string {
  try {
    const c = multiaddr(address).getComponents()[0]
    if (c?.value === undefined) return address
    if (c.name === 'ip4') return `ip4:${c.value.split('.').slice(0, 2).join('.')}`
    if (c.name === 'ip6') return `ip6:${c.value.split(':').slice(0, 2).join(':')}`
    return `${c.name}:${c.value}`
  } catch {
    return address
  }
}

/**
 * Picks up to `n` of `candidates` to add to `kept`: each pick is the lowest-latency candidate among those that
 * add the most diversity (a new network scores 2, a new or unstated operator 1), never a peer already kept.
 */
export function selectRelays (kept: ReadonlyArray<{ address: string, peerId: string, operator: string }>, candidates: readonly RelayChoice[], n: number): RelayChoice[] {
  const nets = new Set(kept.map((k) => networkOf(k.address)))
  const ops = new Set(kept.map((k) => k.operator).filter((o) => o !== ''))
  const peers = new Set(kept.map((k) => k.peerId))
  const pool = [...candidates].filter((c) => !peers.has(c.peerId)).sort((a, b) => a.rttMs - b.rttMs)
  const picks: RelayChoice[] = []
  while (picks.length < n && pool.length > 0) {
    let best = -1
    let bestScore = -1
    pool.forEach((c, i) => {
      const score = (nets.has(networkOf(c.address)) ? 0 : 2) + (c.operator !== '' && ops.has(c.operator) ? 0 : 1)
      if (score > bestScore) { best = i; bestScore = score }
    })
    const [pick] = pool.splice(best, 1)
    if (pick === undefined) break
    picks.push(pick)
    nets.add(networkOf(pick.address))
    if (pick.operator !== '') ops.add(pick.operator)
    for (let i = pool.length - 1; i >= 0; i--) if (pool[i]?.peerId === pick.peerId) pool.splice(i, 1)
  }
  return picks
}
