// Which path a libp2p connection is: the one place that decides it (deliver, status, hole punching).
// A WebRTC connection set up through a relay keeps the relay in its address
// (`<relay>/p2p-circuit/webrtc/p2p/<peer>`), yet its bytes flow peer to peer over UDP: it is direct.
import { WebRTC } from '@multiformats/multiaddr-matcher'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'

export type ConnectionPath = 'direct' | 'relayed'

function asMultiaddr (ma: Multiaddr | string): Multiaddr | undefined {
  if (typeof ma !== 'string') return ma
  try { return multiaddr(ma) } catch { return undefined }
}

/** A WebRTC connection (hole-punched, or on a LAN through host candidates): direct. */
export function isWebRTC (ma: Multiaddr | string): boolean {
  // Called on every send: the matcher walks components (~5% of a message's CPU). An address without a
  // `/webrtc` component (`/webrtc-direct` is another protocol) cannot match, and its string is cached.
  const text = ma.toString()
  if (!hasWebRTCComponent(text)) return false
  // Our own circuit WebRTC addresses do hold one: the address manager filters them (announceFilter) each
  // time it lists addresses, every second for the reservation keeper. A verdict is a function of the text.
  const known = webrtcVerdicts.get(text)
  if (known !== undefined) return known
  const m = asMultiaddr(ma)
  const verdict = m !== undefined && WebRTC.matches(m)
  if (webrtcVerdicts.size >= MAX_WEBRTC_VERDICTS) webrtcVerdicts.clear()
  webrtcVerdicts.set(text, verdict)
  return verdict
}

/** Matcher verdicts by address text; a node sees a few addresses with a /webrtc component, so this stays small. */
const MAX_WEBRTC_VERDICTS = 256
const webrtcVerdicts = new Map<string, boolean>()

/** Whether the text holds a `/webrtc` component, exactly (not `/webrtc-direct`). */
export function hasWebRTCComponent (text: string): boolean {
  return text.includes('/webrtc/') || text.endsWith('/webrtc')
}

/** Relayed: the bytes cross a circuit-relay server. */
export function isRelayed (ma: Multiaddr | string): boolean {
  return ma.toString().includes('/p2p-circuit') && !isWebRTC(ma)
}

export function pathOf (remoteAddr: Multiaddr | string): ConnectionPath {
  return isRelayed(remoteAddr) ? 'relayed' : 'direct'
}

/** What the status screen shows per connection: direct, direct through a punched hole, or relayed. */
export type LinkKind = 'direct' | 'hole-punched' | 'relayed'

export function linkOf (remoteAddr: Multiaddr | string): LinkKind {
  if (isWebRTC(remoteAddr)) return 'hole-punched'
  return pathOf(remoteAddr)
}
