// The relay's STUN Binding responder (RFC 5389, UDP): a device behind a NAT asks "which address and
// port do you see me from?" and puts the answer in its WebRTC ICE candidates, so two devices behind
// two NATs can punch a direct path. Only Binding Requests are answered; everything else arriving on
// the port is dropped with a debug line (never a crash). Parsing is @msimerson/stun's, not ours.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram'
import stun from '@msimerson/stun'
import type { Logger } from '../platform/logger.ts'

/** The IANA STUN port: what `0message1 relay` uses unless told `--stun PORT|off`. */
export const STUN_DEFAULT_PORT = 3478
/** A Binding Request is a 20-byte header plus a few attributes (ICE's USERNAME, PRIORITY, ICE-CONTROLLING,
 * MESSAGE-INTEGRITY, FINGERPRINT): about 100 bytes. RFC 5389 keeps STUN over UDP under 576 bytes when the
 * path MTU is unknown; anything larger is not a request we answer. */
export const STUN_MAX_PACKET_BYTES = 576
/** STUN header: type (2), length (2), magic cookie (4), transaction id (12). */
const STUN_HEADER_BYTES = 20
const STUN_MAGIC_COOKIE = 0x2112a442
/** Answers per second, all clients together: a reply (~32 bytes) is larger than a bare request (20 bytes),
 * so an open responder is a small reflector for spoofed sources; this caps what it can be made to send.
 * A device sends a handful of requests per connection attempt. */
export const STUN_MAX_ANSWERS_PER_SECOND = 1_000
/** Per source address (IP, any port), a token bucket in front of the global cap: otherwise one host sending
 * ~20 KB/s of requests uses up all 1,000 answers and starves every real device. One WebRTC attempt makes a
 * few Binding Requests per candidate pair plus retransmissions (a burst of some tens at most), and a device
 * makes few attempts; a burst of 40 refilled at 20 per second covers a household of devices behind one
 * public address attempting at once, and holds one flooder to 2% of the global cap. */
export const STUN_SOURCE_BURST = 40
export const STUN_SOURCE_PER_SECOND = 20
/** Sources tracked at once (one small entry each): a flood of spoofed addresses cannot grow the map beyond
 * this; the oldest entry goes first (a forgotten source starts again with a full bucket, no worse than the
 * global cap allows). */
export const STUN_MAX_SOURCES = 4_096

export type StunDrop = 'oversized' | 'not-stun' | 'malformed' | 'unsolicited' | 'rate-limited' | 'source-limited'

export interface StunServer {
  /** The bound UDP port (the chosen one, or the ephemeral one for port 0). */
  readonly port: number
  /** Packets dropped so far, by reason (tests, status). */
  readonly dropped: Readonly<Record<StunDrop, number>>
  readonly answered: number
  close: () => Promise<void>
}

export async function startStunServer (o: { port: number, host: string, logger: Logger }): Promise<StunServer> {
  const log = o.logger.child('stun')
  const socket: Socket = createSocket({ type: 'udp4' })
  const dropped: Record<StunDrop, number> = { oversized: 0, 'not-stun': 0, malformed: 0, unsolicited: 0, 'rate-limited': 0, 'source-limited': 0 }
  const sources = new Map<string, { tokens: number, at: number }>()
  /** Takes one token from this address's bucket; false when it is empty. */
  const sourceAllows = (address: string, now: number): boolean => {
    let b = sources.get(address)
    if (b === undefined) {
      if (sources.size >= STUN_MAX_SOURCES) {
        const oldest = sources.keys().next().value
        if (oldest !== undefined) sources.delete(oldest)
      }
      b = { tokens: STUN_SOURCE_BURST, at: now }
      sources.set(address, b)
    }
    b.tokens = Math.min(STUN_SOURCE_BURST, b.tokens + (now - b.at) * STUN_SOURCE_PER_SECOND / 1000)
    b.at = now
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
  }
  let answered = 0
  let windowStart = 0
  let windowCount = 0
  const drop = (reason: StunDrop, size: number): void => {
    dropped[reason]++
    // No address in the log: who asks a relay for its own address is nobody's business.
    log.debug('stun-dropped', { reason, size })
  }
  const onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    if (msg.length > STUN_MAX_PACKET_BYTES) { drop('oversized', msg.length); return }
    // RFC 5389 §6: the top two bits are zero and the magic cookie is fixed; other protocols sharing a port
    // (or noise) are told apart here before any parsing.
    if (msg.length < STUN_HEADER_BYTES || (msg[0] as number) > 0x3f || msg.readUInt32BE(4) !== STUN_MAGIC_COOKIE) { drop('not-stun', msg.length); return }
    let request
    try {
      request = stun.decode(msg)
    } catch {
      drop('malformed', msg.length)
      return
    }
    // Responses, indications and other methods are nothing we asked for.
    if (request.type !== stun.constants.STUN_BINDING_REQUEST) { drop('unsolicited', msg.length); return }
    const now = Date.now()
    if (!sourceAllows(rinfo.address, now)) { drop('source-limited', msg.length); return }
    if (now - windowStart >= 1000) { windowStart = now; windowCount = 0 }
    if (++windowCount > STUN_MAX_ANSWERS_PER_SECOND) { drop('rate-limited', msg.length); return }
    let reply: Buffer
    try {
      const response = stun.createMessage(stun.constants.STUN_BINDING_RESPONSE, request.transactionId)
      response.addXorAddress(rinfo.address, rinfo.port)
      response.addFingerprint()
      reply = response.toBuffer()
    } catch {
      drop('malformed', msg.length)
      return
    }
    answered++
    socket.send(reply, rinfo.port, rinfo.address, (err) => {
      if (err !== null) log.debug('stun-send-failed', { code: (err as NodeJS.ErrnoException).code ?? err.name })
    })
  }
  socket.on('message', onMessage)
  // A send or receive error on a UDP socket (ICMP unreachable, buffer full) is per packet: log it and go on.
  socket.on('error', (err: NodeJS.ErrnoException) => { log.debug('stun-socket-error', { code: err.code ?? err.name }) })
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => { reject(err) }
    socket.once('error', onError)
    socket.bind(o.port, o.host, () => { socket.off('error', onError); resolve() })
  })
  const port = socket.address().port
  log.info('stun-listening', { port })
  let closed = false
  return {
    port,
    dropped,
    get answered () { return answered },
    async close () {
      if (closed) return
      closed = true
      socket.off('message', onMessage)
      await new Promise<void>((resolve) => { socket.close(() => { resolve() }) })
    }
  }
}
