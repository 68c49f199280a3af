// Our relays' STUN servers, as ICE servers for WebRTC: the relay's host from its configured address, the
// port from /0m1/stun-port/1.0.0 (frames: src/wire/stun-port.ts), which the relay serves while its STUN
// responder (src/relay/stun.ts) runs. Never the library's default public STUN servers.
import type { Connection } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { decodeStunPort, encodeStunPort, STUN_PORT_FRAME_BYTES, STUN_PORT_PROTOCOL } from '../wire/stun-port.ts'
import { peerIdOf, type NodeLibp2p } from './libp2p.ts'
import { atStream } from './errors.ts'

/** Asking a relay for its STUN port: one stream on a connection we hold. */
export const STUN_PORT_DEADLINE_MS = 5_000

/** The STUN servers of our own relays: the relay's host as configured, the port as the relay told it. */
/** One STUN server is enough to learn the mapped address; more only add duplicate candidates (see iceServers). */
export const MAX_ICE_STUN_SERVERS = 1

export class StunDirectory {
  readonly #hosts = new Map<string, string>()
  readonly #ports = new Map<string, number>()
  readonly #down = new Set<string>()

  constructor (relays: readonly string[]) {
    for (const r of relays) {
      const id = peerIdOf(r)
      const host = stunHostOf(r)
      if (id !== undefined && host !== undefined) this.#hosts.set(id, host)
    }
  }

  isRelay (peerId: string): boolean { return this.#hosts.has(peerId) }

  setPort (relayPeerId: string, port: number): void {
    if (this.#hosts.has(relayPeerId)) { this.#ports.set(relayPeerId, port); this.#down.delete(relayPeerId) }
  }

  hasPort (relayPeerId: string): boolean { return this.#ports.has(relayPeerId) }

  /** The relay disconnected: ICE prefers another relay's STUN server while one is known (a relay that
   * reconnects tells its port again and is preferred again). Never leaves ICE without a server it had. */
  down (relayPeerId: string): void { if (this.#ports.has(relayPeerId)) this.#down.add(relayPeerId) }

  /** Only relays we were configured with and that told us their port; empty (host candidates only) before.
   * At most MAX_ICE_STUN_SERVERS: behind an endpoint-independent NAT every STUN server reports the same mapped
   * address, and libdatachannel (node-datachannel 0.33) then sometimes refuses the duplicate remote candidates
   * and closes the attempt (seen on loopback with three relays: about half of the first attempts failed). */
  iceServers (): RTCIceServer[] {
    const out: RTCIceServer[] = []
    const ids = [...this.#ports.keys()]
    for (const id of [...ids.filter((x) => !this.#down.has(x)), ...ids.filter((x) => this.#down.has(x))]) {
      const host = this.#hosts.get(id)
      const port = this.#ports.get(id)
      if (host !== undefined && port !== undefined && out.length < MAX_ICE_STUN_SERVERS) out.push({ urls: [`stun:${host}:${port}`] })
    }
    return out
  }

  /** The whole RTCConfiguration handed to @libp2p/webrtc. `iceServers` is always set: left undefined, the
   * library would fill in public STUN servers of third parties. */
  rtcConfiguration (): RTCConfiguration {
    return { iceServers: this.iceServers() }
  }
}

/** The host part of a relay multiaddr as a STUN URL host (IPv6 in brackets); undefined for other forms. */
export function stunHostOf (relayAddr: string): string | undefined {
  try {
    const c = multiaddr(relayAddr).getComponents()[0]
    if (c?.value === undefined) return undefined
    if (c.name === 'ip4' || c.name === 'dns4' || c.name === 'dns6' || c.name === 'dns') return c.value
    if (c.name === 'ip6') return `[${c.value}]`
    return undefined
  } catch {
    return undefined
  }
}

/** Relay side: answers /0m1/stun-port/1.0.0 with the STUN responder's UDP port. */
export async function serveStunPort (libp2p: NodeLibp2p, port: number): Promise<void> {
  const frame = encodeStunPort(port)
  await libp2p.handle(STUN_PORT_PROTOCOL, (stream) => {
    const lp = lpStream(stream, { maxDataLength: STUN_PORT_FRAME_BYTES })
    lp.write(frame, { signal: AbortSignal.timeout(STUN_PORT_DEADLINE_MS) })
      .then(async () => { await stream.close({ signal: AbortSignal.timeout(STUN_PORT_DEADLINE_MS) }) })
      .catch((err: unknown) => { stream.abort(err instanceof Error ? err : new Error('stun-port failed')) })
  }, { maxInboundStreams: 2, maxOutboundStreams: 1 })
}

export async function askStunPort (conn: Connection): Promise<number> {
  const signal = AbortSignal.timeout(STUN_PORT_DEADLINE_MS)
  const stream = await conn.newStream(STUN_PORT_PROTOCOL, { signal })
  try {
    const lp = lpStream(stream, { maxDataLength: STUN_PORT_FRAME_BYTES })
    const frame = (await lp.read({ signal })).subarray()
    const port = atStream(() => decodeStunPort(frame))
    await stream.close({ signal }).catch(() => {})
    return port
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error('stun-port failed'))
    throw err
  }
}
