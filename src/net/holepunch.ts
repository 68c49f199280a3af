// Direct connections through home NATs: WebRTC private-to-private, coordinated by our own relays.
// Once a relayed (circuit) connection to another device is up, exactly one side (the lower peer id)
// dials `<relay>/p2p-circuit/webrtc/p2p/<peer>`: @libp2p/webrtc exchanges SDP and ICE candidates over
// the circuit, ICE's UDP checks punch both NATs, and the result is a direct connection that outlives
// the relay. STUN (to learn the public address and port) asks only our own relays, never the
// library's default public STUN servers. A failed attempt costs one bounded dial, then backs off;
// messages keep flowing over the circuit (or into the mailbox) all the while.
// Relay-only devices never get here: they have no WebRTC transport at all (src/net/libp2p.ts).
import type { Connection, PeerId } from '@libp2p/interface'
import { randomBytes } from 'node:crypto'
import { byteStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../platform/logger.ts'
import { STUN_PORT_PROTOCOL } from '../wire/stun-port.ts'
import { isRelayed, isWebRTC, linkOf, type LinkKind } from './path.ts'
import type { NodeLibp2p } from './libp2p.ts'
import { askStunPort, STUN_PORT_DEADLINE_MS, type StunDirectory } from './stun-port.ts'
import { WEBRTC_SIGNALING_PROTOCOL, type WebRTCGate } from './webrtc-guard.ts'

export { WEBRTC_SIGNALING_PROTOCOL } from './webrtc-guard.ts'
/** One WebRTC attempt, end to end: SDP offer/answer and candidates over the circuit (a few relay round
 * trips) plus ICE checks. Measured 95–333 ms, outliers ~1.1 s (shared/research/nat-traversal.md); a peer
 * that never completes ICE (symmetric NAT) costs at most this (libp2p's own per-address dial timeout is
 * 6 s too, so a longer bound here would not be honoured). */
export const HOLEPUNCH_ATTEMPT_MS = 6_000
/** A new WebRTC connection must carry a ping within this before it counts (and carries messages): when the
 * dialer gives up mid-ICE, @libp2p/webrtc 6.0.33's answering side can still upgrade a peer connection whose
 * data channels never open. Such a dead link is closed after this long. A live one answers in milliseconds. */
export const HOLEPUNCH_VERIFY_MS = 5_000
/** After a failed attempt, the next one to that peer waits this long, doubling up to the maximum: NATs
 * that refuse once (symmetric mapping) refuse again, but a network change (other Wi-Fi) can fix it. */
export const HOLEPUNCH_RETRY_MIN_MS = 30_000
export const HOLEPUNCH_RETRY_MAX_MS = 30 * 60_000
/** An attempt refused before ICE began (the signalling stream closed at once) is no NAT verdict: the contact
 * may not know us yet (it learns of us from our first message, and only contacts may signal WebRTC). It is
 * tried again this soon, up to HOLEPUNCH_REFUSED_RETRIES times, before the normal backoff applies. */
export const HOLEPUNCH_REFUSED_MS = 1_000
export const HOLEPUNCH_REFUSED_RETRY_MS = 1_000
export const HOLEPUNCH_REFUSED_RETRIES = 3
/** How often relayed connections are checked for a missing upgrade (besides on each identify). */
export const HOLEPUNCH_TICK_MS = 2_000
const PING_PROTOCOL = '/ipfs/ping/1.0.0'
const PING_BYTES = 32

/** One libp2p ping (32 random bytes echoed) on this connection; resolves with the RTT in ms. */
export async function pingConnection (conn: Connection, signal: AbortSignal): Promise<number> {
  const stream = await conn.newStream(PING_PROTOCOL, { signal, runOnLimitedConnection: true })
  try {
    const bytes = byteStream(stream)
    const data = new Uint8Array(randomBytes(PING_BYTES))
    const start = performance.now()
    await bytes.write(data, { signal })
    const back = (await bytes.read({ bytes: PING_BYTES, signal })).subarray()
    const rtt = performance.now() - start
    if (Buffer.compare(Buffer.from(back), Buffer.from(data)) !== 0) throw new Error('ping came back altered')
    await stream.close({ signal }).catch(() => {})
    return rtt
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error('ping failed'))
    throw err
  }
}

export interface HolePuncher {
  /** The best link to a peer now: direct (incl. hole-punched) before relayed; undefined without a connection. */
  linkTo: (peerId: string) => LinkKind | undefined
  /** False for a WebRTC connection that has not carried a ping yet: sends skip it and take the next path. */
  usable: (conn: Connection) => boolean
  /** Attempts so far (tests, status): started, succeeded, failed. */
  readonly stats: { readonly attempts: number, readonly upgraded: number, readonly failed: number }
  stop: () => void
}

interface PeerState { inFlight: boolean, nextAt: number, delay: number, refused: number }

/**
 * Device side: learns our relays' STUN ports and upgrades relayed connections to WebRTC. `webrtc` is false
 * in relay-only mode (no transport: nothing is dialled, only the link view works). `gate` says which peers
 * may get our ICE candidates (contacts only) and caps negotiations in flight (src/net/webrtc-guard.ts).
 */
export function startHolePunching (libp2p: NodeLibp2p, o: { stun: StunDirectory, gate: WebRTCGate, webrtc: boolean, logger: Logger }): HolePuncher {
  const log = o.logger.child('holepunch')
  const self = libp2p.peerId.toString()
  const peers = new Map<string, PeerState>()
  const stats = { attempts: 0, upgraded: 0, failed: 0 }
  const verified = new WeakSet<Connection>()
  let stopped = false

  const usable = (c: Connection): boolean => !isWebRTC(c.remoteAddr) || verified.has(c)
  const open = (peer: string): Connection[] => libp2p.getConnections().filter((c) => c.status === 'open' && c.remotePeer.toString() === peer && usable(c))
  const hasDirect = (peer: string): boolean => libp2p.getConnections().some((c) => c.status === 'open' && c.remotePeer.toString() === peer && !isRelayed(c.remoteAddr))
  const supportsWebRTC = async (peer: PeerId): Promise<boolean> => {
    try {
      return (await libp2p.peerStore.get(peer)).protocols.includes(WEBRTC_SIGNALING_PROTOCOL)
    } catch {
      return false
    }
  }

  const attempt = async (circuit: Connection, protocols?: readonly string[]): Promise<void> => {
    const peer = circuit.remotePeer.toString()
    // The lower peer id dials, the other waits: two simultaneous dials would open two connections.
    if (stopped || !o.webrtc || self >= peer || o.stun.isRelay(peer)) return
    // A stranger with a circuit to us (our peer id and one relay suffice) must not get our ICE candidates.
    if (!o.gate.allows(peer)) return
    const st = peers.get(peer) ?? { inFlight: false, nextAt: 0, delay: HOLEPUNCH_RETRY_MIN_MS, refused: 0 }
    peers.set(peer, st)
    if (st.inFlight || Date.now() < st.nextAt || hasDirect(peer)) return
    // All negotiation slots busy: wait for a later tick instead of spending the attempt (and its backoff).
    if (o.gate.full()) return
    // Without a STUN answer ICE has host candidates only, which cannot cross a NAT: right after start, give
    // the relays' STUN ports a moment to arrive rather than spend the attempt (and its backoff) blind.
    if (o.stun.iceServers().length === 0 && Date.now() - circuit.timeline.open < STUN_PORT_DEADLINE_MS) return
    if (!(protocols?.includes(WEBRTC_SIGNALING_PROTOCOL) ?? await supportsWebRTC(circuit.remotePeer))) return
    // The await above yields: another attempt or stop() may have run meanwhile (the narrowing cannot see it).
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
    if (st.inFlight || stopped || o.gate.full()) return
    st.inFlight = true
    stats.attempts++
    const started = Date.now()
    // <relay>/p2p-circuit/p2p/<peer> -> <relay>/p2p-circuit/webrtc/p2p/<peer>; the signalling reuses the circuit.
    const base = circuit.remoteAddr.toString().replace(/\/p2p\/[^/]+$/, '')
    try {
      await libp2p.dial(multiaddr(`${base}/webrtc/p2p/${peer}`), { signal: AbortSignal.timeout(HOLEPUNCH_ATTEMPT_MS), force: true })
      stats.upgraded++
      st.delay = HOLEPUNCH_RETRY_MIN_MS
      st.nextAt = 0
      log.debug('holepunch-direct', { ms: Date.now() - started })
    } catch (err) {
      stats.failed++
      const ms = Date.now() - started
      const name = (err as Error).name
      if (ms < HOLEPUNCH_REFUSED_MS && name !== 'TimeoutError' && st.refused < HOLEPUNCH_REFUSED_RETRIES) {
        st.refused++
        st.nextAt = Date.now() + HOLEPUNCH_REFUSED_RETRY_MS
        log.debug('holepunch-refused', { ms, code: name, retryInMs: HOLEPUNCH_REFUSED_RETRY_MS })
        return
      }
      st.nextAt = Date.now() + st.delay
      log.debug('holepunch-failed', { ms, code: name, retryInMs: st.delay })
      st.delay = Math.min(st.delay * 2, HOLEPUNCH_RETRY_MAX_MS)
    } finally {
      st.inFlight = false
    }
  }

  const scan = (): void => {
    if (stopped) return
    if (o.webrtc) scanStun()
    for (const c of libp2p.getConnections()) {
      if (c.status === 'open' && isRelayed(c.remoteAddr)) void attempt(c).catch(() => {})
    }
    // Forget peers we no longer hold any connection to (bounded state).
    for (const [peer, st] of peers) if (!st.inFlight && open(peer).length === 0 && Date.now() >= st.nextAt) peers.delete(peer)
  }

  // A relay's STUN port is asked once per connection to it: at identify (and, since the first identify can
  // complete inside createLibp2p before we listen, on each tick for a relay we have no port of yet).
  const asked = new WeakSet<Connection>()
  const learnStun = (conn: Connection): void => {
    if (asked.has(conn)) return
    asked.add(conn)
    const relay = conn.remotePeer.toString()
    askStunPort(conn)
      .then((port) => {
        o.stun.setPort(relay, port)
        log.debug('stun-port-learned', { port })
        scan() // an upgrade may have been waiting for it
      })
      .catch((err: unknown) => { log.debug('stun-port-failed', { code: (err as Error).name }) })
  }
  const scanStun = (): void => {
    for (const c of libp2p.getConnections()) {
      const id = c.remotePeer.toString()
      if (c.status !== 'open' || !o.stun.isRelay(id) || o.stun.hasPort(id) || isRelayed(c.remoteAddr) || asked.has(c)) continue
      libp2p.peerStore.get(c.remotePeer)
        .then((p) => { if (p.protocols.includes(STUN_PORT_PROTOCOL)) learnStun(c) })
        .catch(() => {})
    }
  }

  // Every WebRTC connection (dialled or answered) proves itself with a ping before it counts.
  const onOpen = (evt: CustomEvent<Connection>): void => {
    const conn = evt.detail
    if (!isWebRTC(conn.remoteAddr)) return
    pingConnection(conn, AbortSignal.timeout(HOLEPUNCH_VERIFY_MS))
      .then((rtt) => { verified.add(conn); log.debug('holepunch-verified', { direction: conn.direction, rttMs: Math.round(rtt * 10) / 10 }) })
      .catch((err: unknown) => {
        log.debug('holepunch-dead-link', { direction: conn.direction, code: (err as Error).name })
        conn.abort(new Error('the WebRTC connection never carried data'))
      })
  }
  libp2p.addEventListener('connection:open', onOpen)

  const onIdentify = (evt: CustomEvent<{ peerId: PeerId, protocols: string[], connection: Connection }>): void => {
    const { peerId, protocols, connection } = evt.detail
    if (o.webrtc && o.stun.isRelay(peerId.toString()) && protocols.includes(STUN_PORT_PROTOCOL) && !isRelayed(connection.remoteAddr)) learnStun(connection)
    if (isRelayed(connection.remoteAddr)) void attempt(connection, protocols).catch(() => {})
  }
  libp2p.addEventListener('peer:identify', onIdentify)
  // ICE takes one STUN server (stun-port.ts): prefer a connected relay's, or every attempt would lack its srflx candidate.
  const onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString()
    if (o.stun.isRelay(id)) o.stun.down(id)
  }
  libp2p.addEventListener('peer:disconnect', onDisconnect)
  const timer = setInterval(scan, HOLEPUNCH_TICK_MS)
  timer.unref()
  scan()

  return {
    linkTo (peerId) {
      const kinds = open(peerId).map((c) => linkOf(c.remoteAddr))
      return kinds.find((k) => k === 'hole-punched') ?? kinds.find((k) => k === 'direct') ?? kinds.find((k) => k === 'relayed')
    },
    usable,
    stats,
    stop () {
      stopped = true
      clearInterval(timer)
      libp2p.removeEventListener('peer:identify', onIdentify as unknown as EventListener)
      libp2p.removeEventListener('connection:open', onOpen as unknown as EventListener)
      libp2p.removeEventListener('peer:disconnect', onDisconnect as unknown as EventListener)
    }
  }
}

