// /0m1/deliver/1.0.0 on both ends: the receiver acks only after its handler resolved; the sender tries an open
// connection, then a direct dial, then a relayed circuit, each with its own deadline.
import type { Connection, Stream } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { InvalidDataLengthError, InvalidDataLengthLengthError, lpStream } from '@libp2p/utils'
import { CodedError } from '../platform/coded-error.ts'
import type { Logger } from '../platform/logger.ts'
import { NetError, atStream } from './errors.ts'
import { isCircuit, peerIdOf, type NodeLibp2p } from './libp2p.ts'
import { isRelayed, isWebRTC, pathOf } from './path.ts'
import { checkEnvelope, decodeDeliverFrame, DELIVER_PROTOCOL, encodeDeliverFrame, MAX_DELIVER_FRAME_BYTES, type DeliverStatus } from '../wire/deliver.ts'

export type DeliverPath = 'direct' | 'relayed'
export type EnvelopeHandler = (envelope: Uint8Array, info: { path: DeliverPath }) => Promise<void>

/** Opening a stream on a connection we already hold: it is local work plus one round trip. */
export const OPEN_CONNECTION_DEADLINE_MS = 3_000
/** A direct dial: TCP/WS connect + Noise + Yamux on a reachable address takes well under a second; unreachable ones should fail fast. */
export const DIRECT_DIAL_DEADLINE_MS = 5_000
/** A relayed circuit: a dial to the relay (often already open) plus the HOP/STOP exchange. */
export const RELAYED_DIAL_DEADLINE_MS = 10_000
/** From the envelope sent to the receiver's ack: its handler decrypts and stores before acking. */
export const ACK_DEADLINE_MS = 15_000
/** Inbound deliver streams per connection: a burst from one contact, not a flood. */
export const DELIVER_MAX_INBOUND_STREAMS = 64

/** A WebRTC connection is direct even though its address names the relay that signalled it (src/net/path.ts). */
function connPath (c: Connection): DeliverPath {
  return pathOf(c.remoteAddr)
}

/** The receiving side. `getHandler` returns the current handler (onEnvelope may be called after start). */
export function deliverHandler (getHandler: () => EnvelopeHandler | undefined, logger: Logger) {
  return (stream: Stream, connection: Connection): void => {
    const lp = lpStream(stream, { maxDataLength: MAX_DELIVER_FRAME_BYTES, maxBufferSize: 2 * MAX_DELIVER_FRAME_BYTES })
    const answer = async (status: DeliverStatus): Promise<void> => {
      await lp.write(atStream(() => encodeDeliverFrame({ type: 'ack', status })))
      await stream.close({ signal: AbortSignal.timeout(ACK_DEADLINE_MS) }).catch(() => {})
    }
    const run = async (): Promise<void> => {
      let raw: Uint8Array
      try {
        raw = (await lp.read({ signal: AbortSignal.timeout(ACK_DEADLINE_MS) })).subarray()
      } catch (err) {
        if (err instanceof InvalidDataLengthError || err instanceof InvalidDataLengthLengthError) {
          logger.info('deliver-refused', { reason: 'too-large' })
          await answer('too-large')
          return
        }
        throw err
      }
      let envelope: Uint8Array
      try {
        const f = atStream(() => decodeDeliverFrame(raw))
        if (f.type !== 'deliver') throw new NetError('BAD_FRAME', 'Expected a deliver frame.')
        envelope = f.envelope
      } catch (err) {
        logger.info('deliver-refused', { reason: NetError.is(err) ? err.code : 'bad-frame' })
        await answer(NetError.is(err, 'TOO_LARGE') ? 'too-large' : 'bad-frame')
        return
      }
      const h = getHandler()
      if (h === undefined) { await answer('rejected'); return }
      const path = connPath(connection)
      try {
        await h(envelope, { path })
      } catch (err) {
        logger.info('deliver-handler-rejected', { code: CodedError.is(err) ? err.code : err instanceof Error ? err.name : typeof err })
        await answer('rejected')
        return
      }
      logger.debug('deliver-received', { path, size: envelope.length })
      await answer('accepted')
    }
    run().catch((err: unknown) => {
      logger.debug('deliver-stream-error', { code: (err as Error).name })
      stream.abort(err instanceof Error ? err : new Error('deliver failed'))
    })
  }
}

/** Sends one envelope on a stream and waits for the ack. */
async function exchange (stream: Stream, envelope: Uint8Array, signal: AbortSignal): Promise<void> {
  const lp = lpStream(stream, { maxDataLength: MAX_DELIVER_FRAME_BYTES, maxBufferSize: 2 * MAX_DELIVER_FRAME_BYTES })
  try {
    await lp.write(atStream(() => encodeDeliverFrame({ type: 'deliver', envelope })), { signal })
    const reply = (await lp.read({ signal })).subarray()
    const f = atStream(() => decodeDeliverFrame(reply))
    if (f.type !== 'ack') throw new NetError('BAD_FRAME', 'Expected a deliver ack.')
    if (f.status === 'rejected') throw new NetError('REJECTED', 'The receiving device did not accept the envelope.')
    if (f.status === 'too-large') throw new NetError('TOO_LARGE', 'The receiving device refused the envelope as too large.')
    if (f.status === 'bad-frame') throw new NetError('BAD_FRAME', 'The receiving device could not parse the envelope frame.')
    // The ack is in hand: the graceful close finishes in the background (awaiting it cost the
    // sender several milliseconds per message for nothing).
    stream.close({ signal: AbortSignal.timeout(ACK_DEADLINE_MS) }).catch(() => { stream.abort(new Error('close failed')) })
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error('deliver failed'))
    throw err
  }
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
  o: { signal?: AbortSignal | undefined, relayOnly: boolean, logger: Logger, usable?: ((c: Connection) => boolean) | undefined }
): Promise<DeliverPath> {
  atStream(() => { checkEnvelope(envelope) })
  if (typeof to.peerId !== 'string' || to.peerId.length === 0) throw new TypeError('to.peerId must be a peer id string')
  const failures: unknown[] = []
  const abortedNow = (): boolean => o.signal?.aborted === true

  const attempt = async (label: DeliverPath, open: (signal: AbortSignal) => Promise<Connection>, dialMs: number): Promise<DeliverPath | undefined> => {
    if (abortedNow()) throw new NetError('ABORTED', 'Cancelled.', { cause: o.signal?.reason })
    let stream: Stream
    let path: DeliverPath = label
    try {
      const signal = deadline(o.signal, dialMs)
      const conn = await open(signal)
      // Report the path the bytes really take (libp2p may reuse a connection, DCUtR may have upgraded one).
      path = connPath(conn)
      if (o.relayOnly && path === 'direct') throw new NetError('UNREACHABLE', 'relayOnly: refusing a direct connection.')
      stream = await conn.newStream(DELIVER_PROTOCOL, { signal, runOnLimitedConnection: true })
    } catch (err) {
      failures.push(err)
      o.logger.debug('deliver-path-failed', { path, stage: 'dial', code: (err as Error).name })
      return undefined
    }
    try {
      await exchange(stream, envelope, deadline(o.signal, ACK_DEADLINE_MS))
      return path
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
    const r = await attempt(connPath(c), async () => c, OPEN_CONNECTION_DEADLINE_MS)
    if (r !== undefined) return r
  }

  // WebRTC addresses are not dialled here: the upgrade runs beside delivery (src/net/holepunch.ts), so a
  // message never waits on ICE.
  const addrs = to.addresses.map((a) => targetAddr(a, to.peerId)).filter((a): a is Multiaddr => a !== undefined && !isWebRTC(a))
  const direct = addrs.filter((a) => !isCircuit(a))
  const relayed = addrs.filter((a) => isCircuit(a))

  // 2. A direct dial of the known addresses (never in relayOnly mode: a contact must not learn our address).
  if (!o.relayOnly && direct.length > 0) {
    const r = await attempt('direct', async (signal) => await libp2p.dial(direct, { signal, force: true }), DIRECT_DIAL_DEADLINE_MS)
    if (r !== undefined) return r
  }

  // 3. A relayed circuit through one of the contact's relays.
  for (const a of relayed) {
    const r = await attempt('relayed', async (signal) => await libp2p.dial(a, { signal }), RELAYED_DIAL_DEADLINE_MS)
    if (r !== undefined) return r
  }

  if (abortedNow()) throw new NetError('ABORTED', 'Cancelled.', { cause: o.signal?.reason })
  throw new NetError('UNREACHABLE', 'The contact could not be reached directly or through a relay before the deadline.', { cause: new AggregateError(failures) })
}
