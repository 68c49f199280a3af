// RTT over one specific connection (libp2p's ping protocol), per kind of link, so a test can compare the
// direct and the relayed path between the same two devices in the same run. libp2p closes a relayed
// connection once a direct one exists; given the contact's circuit address, a fresh circuit is opened
// just for the measurement and closed after.
import { multiaddr } from '@multiformats/multiaddr'
import type { Connection } from '@libp2p/interface'
import type { DeviceNode } from '../../src/net/node.ts'
import { pingConnection } from '../../src/net/holepunch.ts'
import { linkOf, type LinkKind } from '../../src/net/path.ts'

/** One ping: a local round trip, or a few relay hops. */
const PING_DEADLINE_MS = 5_000

async function median (conn: Connection, count: number): Promise<number> {
  const samples: number[] = []
  for (let i = 0; i < count; i++) samples.push(await pingConnection(conn, AbortSignal.timeout(PING_DEADLINE_MS)))
  samples.sort((x, y) => x - y)
  return Math.round((samples[Math.floor(samples.length / 2)] as number) * 100) / 100
}

/** Median RTT (ms) over `count` pings on each open connection kind to `peerId` (and on a fresh circuit). */
export async function pingByPath (node: DeviceNode, peerId: string, count: number, circuit?: string): Promise<Partial<Record<LinkKind, number>>> {
  const out: Partial<Record<LinkKind, number>> = {}
  for (const conn of node.libp2p.getConnections().filter((c) => c.remotePeer.toString() === peerId && c.status === 'open')) {
    const kind = linkOf(conn.remoteAddr)
    if (out[kind] === undefined) out[kind] = await median(conn, count)
  }
  if (out.relayed === undefined && circuit !== undefined) {
    const conn = await node.libp2p.dial(multiaddr(circuit), { force: true, signal: AbortSignal.timeout(PING_DEADLINE_MS) })
    try {
      if (linkOf(conn.remoteAddr) === 'relayed') out.relayed = await median(conn, count)
    } finally {
      await conn.close().catch(() => {})
    }
  }
  return out
}
