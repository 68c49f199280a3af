// Who may get our ICE candidates. A WebRTC negotiation hands the other side every host (LAN) and
// server-reflexive (public) address of this device, so it is only for peers the messenger says may have
// them (its current contacts: the net layer does not know contacts, it is given a predicate). Anyone else
// who reaches us over a relay circuit — knowing our peer id and one relay is enough — gets neither an
// answer to an offer nor a dial from us. One seam covers both directions: the @libp2p/webrtc transport is
// built with a registrar whose signalling handler checks the caller first (before any SDP is read), and
// with a dial that checks the target first. Both also share a small cap on negotiations in flight.
import type { Connection, Stream, StreamHandler, Transport } from '@libp2p/interface'
import type { WebRTCTransportInit } from '@libp2p/webrtc'
import type { Multiaddr } from '@multiformats/multiaddr'
import { NetError } from './errors.ts'
import { LazyWebRTC, WEBRTC_SIGNALING_PROTOCOL, type LazyWebRTCComponents } from './webrtc-lazy.ts'

export { WEBRTC_SIGNALING_PROTOCOL }
/** WebRTC negotiations (our dials plus our answers) in flight at once. Each holds a native peer connection
 * (ICE agent, UDP sockets, a thread's work) for up to 6 s; a device upgrades one connection per contact, and
 * at start a few contacts at a time is plenty (the rest follow on the next ticks, messages flow relayed
 * meanwhile). 3 keeps a burst — many contacts coming online at once, or one contact hammering us — to a
 * bounded cost without making the usual case wait. */
export const WEBRTC_MAX_CONCURRENT = 3
/** Signalling streams a peer may hold open on one connection: one negotiation at a time is all the protocol
 * needs (each attempt opens a fresh stream and closes it once SDP is exchanged). */
export const WEBRTC_SIGNALING_MAX_INBOUND_STREAMS = 1
/** An answer's slot is freed when its signalling stream closes, or after this long at the latest: a peer that
 * keeps the stream open cannot hold a slot forever. libp2p's inbound upgrade deadline is shorter than this. */
export const WEBRTC_ANSWER_SLOT_MAX_MS = 10_000

/** `true` only for peers that may learn this device's addresses through ICE (the messenger: its contacts). */
export type AllowWebRTC = (peerId: string) => boolean

export interface WebRTCGate {
  /** The predicate, made safe: a throwing predicate (store closed mid-stop) allows nobody. */
  allows: (peerId: string) => boolean
  /** No negotiation slot free right now (callers wait for the next tick rather than spend an attempt). */
  full: () => boolean
  /** Takes a slot; false when all are in use. */
  acquire: () => boolean
  release: () => void
  /** Counts a refusal (the stats below). */
  refused: (why: 'peer' | 'busy') => void
  /** Counters for tests and status: streams and dials refused (not allowed, or no slot). */
  readonly stats: { readonly inFlight: number, readonly refusedPeers: number, readonly refusedBusy: number }
}

export function createWebRTCGate (allow: AllowWebRTC, max = WEBRTC_MAX_CONCURRENT): WebRTCGate {
  const stats = { inFlight: 0, refusedPeers: 0, refusedBusy: 0 }
  return {
    allows (peerId) {
      try {
        return allow(peerId)
      } catch {
        return false
      }
    },
    full: () => stats.inFlight >= max,
    acquire () {
      if (stats.inFlight >= max) return false
      stats.inFlight++
      return true
    },
    release () { stats.inFlight = Math.max(0, stats.inFlight - 1) },
    refused (why) { if (why === 'peer') stats.refusedPeers++; else stats.refusedBusy++ },
    stats
  }
}

/** The target of `<...>/webrtc/p2p/<peer>`: its last /p2p/ component. */
function targetOf (ma: Multiaddr): string | undefined {
  return ma.getComponents().findLast((c) => c.name === 'p2p')?.value
}

/** Wraps the transport's signalling handler: refused peers' streams are reset before a byte is read. */
function guardedHandler (handler: StreamHandler, gate: WebRTCGate): StreamHandler {
  return (stream: Stream, connection: Connection) => {
    if (!gate.allows(connection.remotePeer.toString())) {
      gate.refused('peer')
      stream.abort(new NetError('REFUSED', 'WebRTC is only offered to contacts.'))
      return
    }
    if (!gate.acquire()) {
      gate.refused('busy')
      stream.abort(new NetError('REFUSED', 'Too many WebRTC negotiations at once; try again later.'))
      return
    }
    let held = true
    const free = (): void => {
      if (!held) return
      held = false
      clearTimeout(timer)
      gate.release()
    }
    const timer = setTimeout(free, WEBRTC_ANSWER_SLOT_MAX_MS)
    timer.unref()
    stream.addEventListener('close', free, { once: true })
    try {
      const done = handler(stream, connection)
      if (done instanceof Promise) done.catch(() => { free(); stream.abort(new NetError('REFUSED', 'WebRTC is not available here.')) })
      return done
    } catch (err) {
      free()
      throw err
    }
  }
}

/** @libp2p/webrtc's private-to-private transport (imported at first use, webrtc-lazy.ts), answering and dialling
 * only peers the gate allows. */
export function guardedWebRTC (init: WebRTCTransportInit, gate: WebRTCGate): (components: LazyWebRTCComponents) => Transport {
  return (components) => new LazyWebRTC(components, init, {
    wrapHandler: (handler) => guardedHandler(handler, gate),
    maxInboundStreams: WEBRTC_SIGNALING_MAX_INBOUND_STREAMS,
    async wrapDial (ma, dial) {
      const peer = targetOf(ma)
      if (peer === undefined || !gate.allows(peer)) {
        gate.refused('peer')
        throw new NetError('REFUSED', 'WebRTC is only offered to contacts.')
      }
      if (!gate.acquire()) {
        gate.refused('busy')
        throw new NetError('REFUSED', 'Too many WebRTC negotiations at once; try again later.')
      }
      try {
        return await dial()
      } finally {
        gate.release()
      }
    }
  })
}
