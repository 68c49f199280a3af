// One libp2p setup, two profiles: 'device' (no DHT: see short-lived.ts; circuit-relay transport with reservations on the
// configured relays, DCUtR, AutoNAT) and 'relay' (DHT server, circuit-relay v2 server sized for messaging).
import { createLibp2p, type Libp2p, type Libp2pOptions } from 'libp2p'
import { tcpWritingOnce } from './tcp-writes.ts'
import { webSockets } from '@libp2p/websockets'
import { noiseQuietReads } from './noise-reads.ts'
import { yamuxHalfWindow } from './yamux-window.ts'
import { identify, identifyPush } from '@libp2p/identify'
import type { ping } from '@libp2p/ping'
import { pingAnswering } from './ping-answers.ts'
import type { KadDHT, kadDHT } from '@libp2p/kad-dht'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import { autoNAT } from '@libp2p/autonat'
import { FaultTolerance, type ConnectionGater, type PeerId, type PrivateKey } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { isPrivateIp } from '@libp2p/utils'
import type { Logger } from '../platform/logger.ts'
import { isWebRTC } from './path.ts'
import { PRESENCE_NAMESPACE, selectPresence, validatePresence } from '../wire/presence.ts'
import { reservationKeeper, type ReservationKeeper } from './reservation-keeper.ts'
import { createWebRTCGate, guardedWebRTC, type WebRTCGate } from './webrtc-guard.ts'
import { libp2pLoggerOption } from './libp2p-logger.ts'

/** Our own Kademlia protocol name: a node of ours never joins (or pollutes) the public IPFS DHT. */
export const DHT_PROTOCOL = '/0m1/kad/1.0.0'
/** Circuit-relay server reservations: the library default (15) is far too few for a relay serving a community. */
export const RELAY_MAX_RESERVATIONS = 1024
/** A relay holds one connection per reserved device plus DHT traffic and deposits. */
export const RELAY_MAX_CONNECTIONS = 4096
/** libp2p refuses more than 5 inbound connections per second per IP by default; behind one NAT (or on loopback
 * in tests) many devices share an IP, so relays allow far more and devices a little more. */
export const RELAY_INBOUND_CONNECTION_THRESHOLD = 1000
export const DEVICE_INBOUND_CONNECTION_THRESHOLD = 100
/** A device needs one connection to a relay; a few more cover reconnect races and a WebSocket beside TCP.
 * More from one peer is someone trying to exhaust the relay's connection table. */
export const RELAY_MAX_CONNECTIONS_PER_PEER = 4
/** Circuit streams per relay (each relayed connection uses one STOP stream). */
export const RELAY_MAX_STOP_STREAMS = 1024
/**
 * A relay writes each frame as it comes instead of collecting a turn's frames into one write (src/net/muxer-writes.ts).
 * Nearly all it sends is relayed bytes: one read from one side is one frame to the other, so there is rarely a second
 * frame of the same turn to join, and the deferral cost every relayed frame a turn of the event loop and a scheduled
 * task. Measured (bench/standalone/relay-probe.ts, our relay, 1 KiB circuit round trips 5 ms apart, loaded machine):
 * the relay's read-to-write delay p50 0.28 -> 0.19 ms and its CPU per round trip 1.97 -> 1.61 ms. Its own
 * protocols write whole frames (a mailbox page, a batch of deposit acks) through lpStream, one send each.
 */
export const RELAY_COALESCES_WRITES = false

export type NodeServices = {
  identify: ReturnType<ReturnType<typeof identify>>
  ping: ReturnType<ReturnType<typeof ping>>
  /** Relays and short-lived identities only: a device's main node has no DHT. */
  dht: KadDHT
  /** Device profile only. */
  reservations?: ReservationKeeper
} & Record<string, unknown>

export type NodeLibp2p = Libp2p<NodeServices>

export interface ProfileOptions {
  readonly profile: 'device' | 'relay'
  readonly privateKey?: PrivateKey | undefined
  readonly listen: readonly string[]
  /** Relay: the addresses to advertise instead of the listen ones (`relay --announce`: port forwarding, cloud NAT). */
  readonly announce?: readonly string[] | undefined
  /** Device: relay multiaddrs (with /p2p/<id>) on which to hold reservations. */
  readonly relays?: readonly string[] | undefined
  readonly bootstrap?: readonly string[] | undefined
  readonly mdns?: boolean | undefined
  readonly relayOnly?: boolean | undefined
  /** Relay: circuit limits. false -> relayed connections carry no data/time limit (messaging needs long-lived circuits). */
  readonly applyDefaultLimit?: boolean | undefined
  readonly maxReservations?: number | undefined
  /** Relay: refuse a circuit reservation from this peer (the relay's per-prefix bound, src/relay/admission.ts). */
  readonly denyReservation?: ((peer: PeerId) => boolean) | undefined
  readonly now?: (() => number) | undefined
  readonly logger?: Logger | undefined
  /** Device (not relayOnly): the ICE configuration of each WebRTC attempt (src/net/stun-port.ts StunDirectory:
   * our own relays' STUN servers only). Default: none (host candidates only), never the library's public ones. */
  readonly rtcConfiguration?: (() => RTCConfiguration) | undefined
  /** Devices: who may negotiate WebRTC with us, and the cap on negotiations in flight (default: nobody). */
  readonly webrtcGate?: WebRTCGate | undefined
  /** Device (not relayOnly): whose addresses this node may dial directly, besides its relays and bootstrap peers
   * (the messenger passes "is a current contact"). Default: anyone. See deviceDialGater. */
  readonly allowDirectDial?: ((peerId: string) => boolean) | undefined
}

function peerIdOf (addr: string): string | undefined {
  try {
    return multiaddr(addr).getComponents().findLast((c) => c.name === 'p2p')?.value
  } catch {
    return undefined
  }
}

/** Listening on every interface says nothing about where the node is (isPrivateIp counts these as private). */
const UNSPECIFIED = new Set(['0.0.0.0', '::'])

/**
 * True when any configured address is loopback/private: then the DHT must keep such addresses (LAN, tests).
 * A wildcard listen address does not count: a public relay run with the defaults (0.0.0.0) would otherwise
 * hand out its peers' private addresses through the DHT.
 */
export function anyPrivate (addrs: readonly string[]): boolean {
  return addrs.some((a) => {
    try {
      const host = multiaddr(a).getComponents().find((c) => c.name === 'ip4' || c.name === 'ip6')?.value
      return host !== undefined && !UNSPECIFIED.has(host) && isPrivateIp(host) === true
    } catch {
      return false
    }
  })
}

/**
 * relayOnly gater: never open a non-circuit connection except to our own relays and bootstrap peers (support
 * nodes). A contact is therefore only ever reached through a circuit and never learns our IP address.
 */
export function relayOnlyGater (allowedPeers: ReadonlySet<string>): ConnectionGater {
  return {
    denyDialMultiaddr: (ma: Multiaddr) => {
      // A WebRTC address carries /p2p-circuit too, but its ICE candidates would hand out our IP address.
      if (isWebRTC(ma)) return true
      if (isCircuit(ma)) return false
      const id = peerIdOf(ma.toString())
      return id === undefined || !allowedPeers.has(id)
    },
    denyDialPeer: () => false,
    denyInboundConnection: () => false
  }
}

/**
 * Device gater: a direct (non-circuit) dial goes only to our relays and bootstrap peers and to peers the
 * messenger allows (its contacts). DCUtR, started by any peer that opens a circuit to us, otherwise dials
 * whatever public address that peer names (and so tells a stranger our public IP and port). Circuits stay
 * open to all: they show a stranger only the relay. WebRTC has its own gate (webrtc-guard.ts).
 */
export function deviceDialGater (allowedPeers: ReadonlySet<string>, allow: (peerId: string) => boolean): ConnectionGater {
  return {
    denyDialMultiaddr: (ma: Multiaddr) => {
      if (isCircuit(ma)) return false
      const id = peerIdOf(ma.toString())
      if (id === undefined || allowedPeers.has(id)) return false
      try { return !allow(id) } catch { return true }
    }
  }
}

/** Our Kademlia DHT, with the presence validator and selector; devices (and their short-lived identities) run it in client mode.
 * Loaded when first needed: a device's own node never runs it, and an idle device that publishes and looks up no
 * presence (no relay, no bootstrap peer) would otherwise hold its code and tables for nothing (kad-dht's routing
 * table imports a 480 KB generated prefix list; ~3 MB of an idle device's RSS, issue 10, device.idle_rss). */
export async function dhtService (o: { clientMode: boolean, lan: boolean, now: () => number }): Promise<ReturnType<typeof kadDHT>> {
  const kad = await import('@libp2p/kad-dht')
  return kad.kadDHT({
    protocol: DHT_PROTOCOL,
    clientMode: o.clientMode,
    peerInfoMapper: o.lan ? kad.passthroughMapper : kad.removePrivateAddressesMapper,
    validators: {
      [PRESENCE_NAMESPACE]: async (key, value) => { validatePresence(key, value, o.now()) }
    },
    selectors: {
      [PRESENCE_NAMESPACE]: (_key, values) => selectPresence(values)
    }
  })
}

export async function createProfileLibp2p (o: ProfileOptions): Promise<NodeLibp2p> {
  const relays = o.relays ?? []
  const bootstrapList = [...new Set([...(o.bootstrap ?? []), ...(o.profile === 'device' ? relays : [])])]
  const device = o.profile === 'device'
  const relayOnly = device && o.relayOnly === true
  const now = o.now ?? Date.now
  const lan = anyPrivate([...o.listen, ...relays, ...bootstrapList])
  // WebRTC (hole punching through NATs, src/net/holepunch.ts): devices only, never in relayOnly mode (ICE
  // candidates carry our IP address), and only with an ICE configuration that names our own relays.
  const withWebRTC = device && !relayOnly
  // Without one, ICE uses host candidates only: never let the library fall back to its public STUN servers.
  const rtcConfiguration = o.rtcConfiguration ?? ((): RTCConfiguration => ({ iceServers: [] }))

  // Devices listen on their own addresses (unless relayOnly) and on a reservation at each configured relay;
  // '/webrtc' accepts WebRTC upgrades signalled over those circuits.
  const listen = [
    ...(relayOnly ? [] : o.listen),
    ...(device ? relays.map((r) => `${r}/p2p-circuit`) : []),
    ...(withWebRTC ? ['/webrtc'] : [])
  ]

  // The services differ per profile; libp2p checks each factory's components at start.
  const services: Record<string, (components: never) => unknown> = {
    identify: identify(),
    identifyPush: identifyPush(),
    // Inbound pings answered without keeping each finished stream for the ping timeout (src/net/ping-answers.ts).
    ping: pingAnswering(),
    // A device's long-term peer id never speaks DHT: its presence puts and gets go out under a short-lived
    // identity (src/net/short-lived.ts). Relays are the DHT servers.
    ...(device ? {} : { dht: await dhtService({ clientMode: false, lan, now }) })
  }
  if (!relayOnly) services.autoNAT = autoNAT()
  if (device && !relayOnly) services.dcutr = dcutr()
  if (device) services.reservations = reservationKeeper({ relays, logger: o.logger, now })
  if (!device) {
    services.relay = circuitRelayServer({
      maxOutboundStopStreams: RELAY_MAX_STOP_STREAMS,
      reservations: {
        maxReservations: o.maxReservations ?? RELAY_MAX_RESERVATIONS,
        applyDefaultLimit: o.applyDefaultLimit ?? false
      }
    })
  }
  // mDNS and bootstrap load only when asked for (--lan; relays or bootstrap peers): a module loaded stays in an idle
  // device's memory (issue 10, device.idle_rss).
  if (o.mdns === true && !relayOnly) services.mdns = (await import('@libp2p/mdns')).mdns()

  const allowed = new Set([...relays, ...bootstrapList].map(peerIdOf).filter((x): x is string => x !== undefined))

  // The relay's gater counts the node's own connections; it is bound once the node exists.
  const self: { node?: Libp2p } = {}
  const node: Libp2p = await createLibp2p({
    ...(o.privateKey !== undefined ? { privateKey: o.privateKey } : {}),
    ...libp2pLoggerOption(),
    addresses: {
      listen,
      ...(!device && o.announce !== undefined && o.announce.length > 0 ? { announce: [...o.announce] } : {}),
      // relayOnly: announce circuit addresses only, never an observed or listen address of our own.
      // Others: never announce `<relay>/p2p-circuit/webrtc` addresses. The upgrade is dialled from the open
      // circuit (src/net/holepunch.ts); announced, DCUtR (which takes them for public addresses) would dial
      // them from both sides at once and open two half-working connections.
      announceFilter: relayOnly
        ? (mas: Multiaddr[]) => mas.filter((ma) => isCircuit(ma))
        : (mas: Multiaddr[]) => mas.filter((ma) => !isWebRTC(ma))
    },
    transports: [
      tcpWritingOnce(),
      webSockets(),
      ...(device ? [circuitRelayTransport({ reservationCompletionTimeout: 10_000, reservationConcurrency: Math.max(1, relays.length), maxInboundStopStreams: RELAY_MAX_STOP_STREAMS })] : []),
      ...(withWebRTC ? [guardedWebRTC({ rtcConfiguration }, o.webrtcGate ?? createWebRTCGate(() => false))] : [])
    ],
    connectionEncrypters: [noiseQuietReads()],
    // Relay: no Yamux keep-alive. Its pings only measure a round trip (a missed one closes nothing); libp2p's
    // connection monitor already pings every connection and aborts those that do not answer. The keep-alive
    // costs a repeating task per connection (~1-2 KB of relay heap per reserved device, issue 10).
    // Window updates once half the receive window is used, not after every data frame (src/net/yamux-window.ts).
    streamMuxers: [yamuxHalfWindow(device ? {} : { enableKeepAlive: false }, { coalesce: device || RELAY_COALESCES_WRITES })],
    peerDiscovery: bootstrapList.length > 0 ? [(await import('@libp2p/bootstrap')).bootstrap({ list: bootstrapList })] : [],
    connectionManager: device
      ? { inboundConnectionThreshold: DEVICE_INBOUND_CONNECTION_THRESHOLD }
      : { inboundConnectionThreshold: RELAY_INBOUND_CONNECTION_THRESHOLD, maxConnections: RELAY_MAX_CONNECTIONS, maxIncomingPendingConnections: 256 },
    // A dead relay at start must not stop a device from starting: it stays dial-only and retries reservations.
    transportManager: { faultTolerance: FaultTolerance.NO_FATAL },
    ...(relayOnly ? { connectionGater: relayOnlyGater(allowed) } : {}),
    ...(device && !relayOnly && o.allowDirectDial !== undefined ? { connectionGater: deviceDialGater(allowed, o.allowDirectDial) } : {}),
    ...(device ? {} : { connectionGater: perPeerGater((peer): number => self.node?.getConnections(peer).length ?? 0, o.denyReservation) }),
    services: services as NonNullable<Libp2pOptions['services']>
  })
  self.node = node
  return node as unknown as NodeLibp2p
}

/**
 * Relay gater: refuses a peer's connection once it already holds RELAY_MAX_CONNECTIONS_PER_PEER, checked
 * after the Noise handshake (the first point where the remote peer id is authenticated).
 */
function perPeerGater (connectionsOf: (peer: PeerId) => number, denyReservation?: (peer: PeerId) => boolean): ConnectionGater {
  return {
    denyInboundUpgradedConnection: (peer: PeerId) => connectionsOf(peer) >= RELAY_MAX_CONNECTIONS_PER_PEER,
    // circuit-relay-v2's server asks the gater before each reservation (PERMISSION_DENIED when it says deny).
    ...(denyReservation !== undefined ? { denyInboundRelayReservation: denyReservation } : {})
  }
}

export function isCircuit (ma: Multiaddr | string): boolean {
  return ma.toString().includes('/p2p-circuit')
}

/** Devices listen on loopback only unless configured otherwise (nothing reaches beyond this machine by default). */
export const DEFAULT_DEVICE_LISTEN: readonly string[] = ['/ip4/127.0.0.1/tcp/0']

export { peerIdOf }
