// /0m1/deliver/2.1.0 (and 2.0.0), the sender's choice of path: an open connection, then a direct dial, then a relayed circuit,
// each with its own deadline. On a connection the envelope goes on its long-lived deliver stream
// (src/net/deliver-outbound.ts); the receiving end is src/net/deliver-inbound.ts.
import type { Connection } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../platform/logger.ts'
import { NetError, atStream } from './errors.ts'
import { sendOnConnection } from './deliver-outbound.ts'
import { isCircuit, peerIdOf, type NodeLibp2p } from './libp2p.ts'
import { isRelayed, isWebRTC, pathOf } from './path.ts'
import { checkEnvelope } from '../wire/deliver.ts'

export type DeliverPath = 'direct' | 'relayed'
/**
 * Takes an envelope from a deliver stream. `ackReceipt`: the stream is 2.1.0, so its ack can be the delivered receipt.
 * `remotePeer`: the peer id the connection's Noise handshake authenticated (the sender of these bytes, not
 * necessarily their author). Resolves true when the envelope counts as delivered (stored as a message from the
 * contact, or a copy of one already stored) and the ack, not a sealed receipt, tells the sender so; only ever true
 * when `ackReceipt`.
 */
export type EnvelopeHandler = (envelope: Uint8Array, info: { path: DeliverPath, ackReceipt: boolean, remotePeer: string }) => Promise<boolean>

/** How an envelope went: the path it took, and whether its ack was the receiver's delivered receipt. */
export interface DeliverResult { readonly path: DeliverPath, readonly delivered: boolean }

/** A direct dial: TCP/WS connect + Noise + Yamux on a reachable address takes well under a second; unreachable ones should fail fast. */
export const DIRECT_DIAL_DEADLINE_MS = 5_000
/** A relayed circuit: a dial to the relay (often already open) plus the HOP/STOP exchange. */
export const RELAYED_DIAL_DEADLINE_MS = 10_000
/**
 * Inbound deliver streams per connection: a sender keeps one per connection, and a few more cover one it is
 * replacing after a reset before this end has seen the reset.
 */
export const DELIVER_MAX_INBOUND_STREAMS = 4

/** A WebRTC connection is direct even though its address names the relay that signalled it (src/net/path.ts). */
function connPath (c: Connection): DeliverPath {
  return pathOf(c.remoteAddr)
}

/** Normalizes a contact address to end in /p2p/<peerId>; undefined if it names another peer or does not parse. */
function targetAddr (addr: string, peerId: string): Multiaddr | undefined {
  try {
    const ma = multiaddr(addr)
    const last = peerIdOf(addr)
    const s = ma.toString()
    if (s.endsWith('/p2p-circuit')) return multiaddr(`${s}/p2p/${peerId}`)
    if (last === undefined) return multiaddr(`${s}/p2p/${peerId}`)
    if (last !== peerId) return undefined
    return ma
  } catch {
    return undefined
  }
}

function deadline (signal: AbortSignal | undefined, ms: number): AbortSignal {
  const t = AbortSignal.timeout(ms)
  return signal === undefined ? t : AbortSignal.any([signal, t])
}

export async function deliverEnvelope (
  libp2p: NodeLibp2p,
  to: { peerId: string, addresses: readonly string[] },
  envelope: Uint8Array,
  o: {
    signal?: AbortSignal | undefined, relayOnly: boolean, logger: Logger, usable?: ((c: Connection) => boolean) | undefined
    /** Called with the path of each attempt as its envelope goes out (again for a later path if one fails): the
     * receiver's receipt may overtake the ack that resolves this call. */
    onSent?: ((path: DeliverPath) => void) | undefined
  }
): Promise<DeliverResult> {
  atStream(() => { checkEnvelope(envelope) })
  if (typeof to.peerId !== 'string' || to.peerId.length === 0) throw new TypeError('to.peerId must be a peer id string')
  const failures: unknown[] = []
  const abortedNow = (): boolean => o.signal?.aborted === true

  const attempt = async (label: DeliverPath, open: (() => Promise<Connection>) | Connection): Promise<DeliverResult | undefined> => {
    if (abortedNow()) throw new NetError('ABORTED', 'Cancelled.', { cause: o.signal?.reason })
    let conn: Connection
    let path: DeliverPath = label
    try {
      // An open connection is used as it is: no deadline signal to make (their churn cost more than the stream).
      conn = typeof open === 'function' ? await open() : open
      // Report the path the bytes really take (libp2p may reuse a connection, DCUtR may have upgraded one).
      path = connPath(conn)
      if (o.relayOnly && path === 'direct') throw new NetError('UNREACHABLE', 'relayOnly: refusing a direct connection.')
    } catch (err) {
      failures.push(err)
      o.logger.debug('deliver-path-failed', { path, stage: 'dial', code: (err as Error).name })
      return undefined
    }
    // Outside the try: a throwing callback is a bug to surface, not a failed path to send again on the next.
    o.onSent?.(path)
    try {
      // Opening the connection's deliver stream (first use) and the ack have their own deadlines there.
      const delivered = await sendOnConnection(conn, envelope, o.signal)
      return { path, delivered }
    } catch (err) {
      // The receiver answered: do not re-send on another path what it refused.
      if (NetError.is(err, 'REJECTED') || NetError.is(err, 'TOO_LARGE')) throw err
      failures.push(err)
      o.logger.debug('deliver-path-failed', { path, stage: 'exchange', code: NetError.is(err) ? err.code : (err as Error).name })
      return undefined
    }
  }

  // 1. An open connection (direct ones first, so a hole-punched connection wins as soon as it exists; if it
  // fails, the circuit is next in line at once).
  // `usable` skips a WebRTC connection that has not proven itself yet (src/net/holepunch.ts).
  const open = libp2p.getConnections().filter((c) => c.remotePeer.toString() === to.peerId && c.status === 'open' && (o.usable?.(c) ?? true))
  open.sort((a, b) => Number(isRelayed(a.remoteAddr)) - Number(isRelayed(b.remoteAddr)))
  for (const c of open) {
    if (o.relayOnly && !isRelayed(c.remoteAddr)) continue
    const r = await attempt(connPath(c), c)
    if (r !== undefined) return r
  }

  // WebRTC addresses are not dialled here: the upgrade runs beside delivery (src/net/holepunch.ts), so a
  // message never waits on ICE.
  const addrs = to.addresses.map((a) => targetAddr(a, to.peerId)).filter((a): a is Multiaddr => a !== undefined && !isWebRTC(a))
  const direct = addrs.filter((a) => !isCircuit(a))
  const relayed = addrs.filter((a) => isCircuit(a))

  // 2. A direct dial of the known addresses (never in relayOnly mode: a contact must not learn our address).
  if (!o.relayOnly && direct.length > 0) {
    const r = await attempt('direct', async () => await libp2p.dial(direct, { signal: deadline(o.signal, DIRECT_DIAL_DEADLINE_MS), force: true }))
    if (r !== undefined) return r
  }

  // 3. A relayed circuit through one of the contact's relays.
  for (const a of relayed) {
    const r = await attempt('relayed', async () => await libp2p.dial(a, { signal: deadline(o.signal, RELAYED_DIAL_DEADLINE_MS) }))
    if (r !== undefined) return r
  }

  if (abortedNow()) throw new NetError('ABORTED', 'Cancelled.', { cause: o.signal?.reason })
  throw new NetError('UNREACHABLE', 'The contact could not be reached directly or through a relay before the deadline.', { cause: new AggregateError(failures) })
}
