// The device's network node: one libp2p node (device profile) with the deliver protocol, mailbox client,
// presence in the DHT, relay reservations kept alive, and a view of relays and NAT for the status screen.
import { shareableAddresses } from './addresses.ts'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Libp2p } from '@libp2p/interface'
import { isPrivateIp } from '@libp2p/utils'
import type { Logger } from '../platform/logger.ts'
import { NetError, atStream } from './errors.ts'
import { anyPrivate, createProfileLibp2p, isCircuit, peerIdOf, type NodeLibp2p } from './libp2p.ts'
import { ShortLivedIdentities, type IdentitySlot, type ShortLivedView } from './short-lived.ts'
import { deliverEnvelope, DELIVER_MAX_INBOUND_STREAMS, type DeliverPath, type DeliverResult, type EnvelopeHandler } from './deliver.ts'
import { deliverHandler } from './deliver-inbound.ts'
import { depositTo, openMailboxSession, type MailboxBox, type MailboxSession } from './mailbox-client.ts'
import { parkRequest } from './park-client.ts'
import type { ParkAnswer, ParkRequest } from '../wire/parked-invite.ts'
import { DELIVER_PROTOCOLS } from '../wire/deliver.ts'
import { decodePresenceRecord, encodePresenceRecord, presenceDhtKey } from '../wire/presence.ts'
import { startHolePunching } from './holepunch.ts'
import { StunDirectory } from './stun-port.ts'
import { createWebRTCGate, type AllowWebRTC } from './webrtc-guard.ts'
import { pathOf, type LinkKind } from './path.ts'
import type { Connection, Stream } from '@libp2p/interface'
import { BlobChannel } from './blob-client.ts'
import { BLOB_PROTOCOL, FILE_PROTOCOLS, fileDurableApart, fileWindow } from '../wire/blob.ts'
import { discoverRelays, probeRelay, type Discovered, type ProbeResult } from './relay-info.ts'

export type { MailboxSession, MailboxBox } from './mailbox-client.ts'
export type { MailboxItem } from '../wire/mailbox.ts'
export type { DeliverPath, DeliverResult, EnvelopeHandler } from './deliver.ts'
export { RESERVATION_RETRY_MAX_MS, RESERVATION_RETRY_MIN_MS } from './reservation-keeper.ts'
export type { ShortLivedView } from './short-lived.ts'
export type { AllowWebRTC } from './webrtc-guard.ts'

/** How a device's mailboxes are fetched: 'device' = one short-lived identity (one connection per relay) for all of
 * them; 'contact' = a short-lived identity and connection per mailbox (docs/threat-model.md: the cost). */
export type FetchIsolation = 'device' | 'contact'
export const DEFAULT_FETCH_ISOLATION: FetchIsolation = 'device'

/** Opening a blob or file stream: a relay or contact on a decent link answers well within this. */
export const FILE_DIAL_DEADLINE_MS = 10_000
/** Inbound file streams per connection: a contact sends a few files at once at most. */
export const FILE_MAX_INBOUND_STREAMS = 8

/** A DHT put or get: a few hops on a small network, more on a big one. */
export const PRESENCE_DEADLINE_MS = 20_000
/** How long publish waits for the DHT routing table to hold at least one server (right after start). */
export const ROUTING_TABLE_WAIT_MS = 10_000

/** A configured relay as the device sees it (shown in the status and the UI's network panel). */
export interface RelayView {
  readonly address: string
  readonly state: 'connected' | 'connecting' | 'unreachable'
  readonly reservation: boolean
}

export interface DeviceNodeOptions {
  privateKey?: PrivateKey
  listen: string[]
  relays: string[]
  bootstrap?: string[]
  mdns?: boolean
  relayOnly?: boolean
  fetchIsolation?: FetchIsolation
  /** Short-lived identities are replaced after this long (default SHORT_LIVED_MAX_AGE_MS, an hour; tests shorten it). */
  identityMaxAgeMs?: number
  /** Who may negotiate WebRTC (hole punching) with this device and so learn its LAN and public addresses
   * through ICE: the messenger passes "is a current contact". Default: nobody (no WebRTC either way). */
  allowWebRTC?: AllowWebRTC
  /** Who besides relays and bootstrap peers this device may dial directly (libp2p.ts deviceDialGater): the
   * messenger passes "is a current contact". Default: anyone (net-layer tests, benchmarks). */
  allowDirectDial?: (peerId: string) => boolean
  logger: Logger
}

export interface DeviceNode {
  readonly peerId: string
  readonly libp2p: Libp2p
  addresses(): string[]
  onEnvelope(h: EnvelopeHandler): void
  /** `onSent(path)` runs as the envelope goes out on a path, before its ack (see deliverEnvelope). `delivered`: the
   * ack was the receiver's delivered receipt (2.1.0). */
  deliver(to: { peerId: string, addresses: string[] }, envelope: Uint8Array, o?: { signal?: AbortSignal, onSent?: (path: DeliverPath) => void }): Promise<DeliverResult>
  deposit(relayAddr: string, mailboxId: Uint8Array, envelope: Uint8Array, o?: { signal?: AbortSignal }): Promise<void>
  openMailbox(relayAddr: string, box: MailboxBox, o?: { signal?: AbortSignal }): Promise<MailboxSession>
  publishPresence(key: Uint8Array, value: Uint8Array, o?: { signal?: AbortSignal }): Promise<void>
  /** Issue 13: one request of /0m1/park/1.0.0 to a relay (short invites), through the sending identity. */
  park(relayAddr: string, req: ParkRequest, o?: { signal?: AbortSignal }): Promise<ParkAnswer>
  lookupPresence(key: Uint8Array, o?: { signal?: AbortSignal }): Promise<Uint8Array | undefined>
  relays(): RelayView[]
  nat(): 'public' | 'private' | 'unknown'
  onAddressesChanged(cb: () => void): void
  /** The best open link to a peer (direct, hole-punched, relayed), undefined without a connection. */
  linkTo(peerId: string): LinkKind | undefined
  /** Open connections, all kinds (relays included). */
  connections(): number
  /** The short-lived identities deposits, presence and fetches use now (never `peerId`). */
  shortLived(): ShortLivedView[]
  /** Issue 12: a blob stream to a relay on a short-lived identity ('send' uploads, 'fetch' downloads), closed after fn;
   * o.signal aborts the dial and, while fn runs, the stream (BlobChannel). */
  withBlobStore<T>(relayAddr: string, slot: 'send' | 'fetch', fn: (ch: BlobChannel) => Promise<T>, o?: { signal?: AbortSignal }): Promise<T>
  /** Issue 12: a /0m1/file/1.0.0 stream to a contact on an open direct (or hole-punched) connection; undefined when
   * only a relayed circuit (rate-limited, never used for bulk) or nothing is open. o.signal aborts it while open. */
  openFileStream(peerId: string, o?: { signal?: AbortSignal }): Promise<BlobChannel | undefined>
  /** Issue 12: who serves inbound /0m1/file/1.0.0 streams (direct connections only). */
  onFileStream(h: (stream: Stream, connection: Connection) => void): void
  /** Replaces every short-lived identity now (also happens by age); open mailbox sessions close and are reopened. */
  rotateIdentities(): void
  /** Issue 16: finds advertised relays through the DHT (short-lived 'send' identity, never `peerId`), starting from
   * the relays and bootstrap peers this node knows plus `bootstrap`; records are fetched and checked. */
  discoverRelays(o: { bootstrap: readonly string[], signal?: AbortSignal }): Promise<Discovered>
  /** Probes a relay (dial TCP then WebSocket, ping, a mailbox round trip) from the short-lived 'send' identity. */
  probeRelay(addresses: readonly string[], o?: { signal?: AbortSignal }): Promise<ProbeResult>
  stop(): Promise<void>
}

export async function createDeviceNode (o: DeviceNodeOptions): Promise<DeviceNode> {
  const logger = o.logger.child('net')
  const relayOnly = o.relayOnly === true
  for (const r of o.relays) {
    if (peerIdOf(r) === undefined) throw new RangeError('relays[] must be multiaddrs ending in /p2p/<relay peer id>')
  }
  const privateKey = o.privateKey ?? await generateKeyPair('Ed25519')
  const stun = new StunDirectory(o.relays)
  const gate = createWebRTCGate(o.allowWebRTC ?? ((): boolean => false))
  const libp2p = await createProfileLibp2p({
    rtcConfiguration: () => stun.rtcConfiguration(),
    webrtcGate: gate,
    allowDirectDial: o.allowDirectDial,
    profile: 'device',
    privateKey,
    listen: o.listen,
    relays: o.relays,
    bootstrap: o.bootstrap,
    mdns: o.mdns,
    relayOnly,
    logger
  })
  const puncher = startHolePunching(libp2p, { stun, gate, webrtc: !relayOnly, logger })
  let handler: EnvelopeHandler | undefined
  let stopped = false
  const sessions = new Set<MailboxSession>()
  // 2.0.0 stays served for older peers: the handler sees which one a stream speaks (its acks carry receipts or not).
  await libp2p.handle([...DELIVER_PROTOCOLS], deliverHandler(() => handler, logger), {
    runOnLimitedConnection: true,
    maxInboundStreams: DELIVER_MAX_INBOUND_STREAMS
  })

  const addresses = (): string[] => {
    const all = libp2p.getMultiaddrs().map((ma) => ma.toString())
    return relayOnly ? all.filter((a) => isCircuit(a)) : shareableAddresses(all)
  }

  const reservations = libp2p.services.reservations
  if (reservations === undefined) throw new Error('the device profile runs the reservation keeper')

  const addrListeners: Array<() => void> = []
  let lastAddrs = JSON.stringify(addresses().sort())
  const onSelfUpdate = (): void => {
    const now = JSON.stringify(addresses().sort())
    if (now === lastAddrs) return
    lastAddrs = now
    for (const cb of addrListeners) {
      try { cb() } catch { logger.warn('addresses-callback-failed') }
    }
  }
  libp2p.addEventListener('self:peer:update', onSelfUpdate)

  const lan = anyPrivate([...o.listen, ...o.relays, ...(o.bootstrap ?? [])])
  const ids = new ShortLivedIdentities({
    relays: o.relays,
    bootstrap: o.bootstrap ?? [],
    relayOnly,
    lan,
    logger,
    maxAgeMs: o.identityMaxAgeMs
  })
  const isolation = o.fetchIsolation ?? DEFAULT_FETCH_ISOLATION
  const fetchSlot = (box: MailboxBox): IdentitySlot => isolation === 'contact' ? `fetch:${Buffer.from(box.mailboxId).toString('hex')}` : 'fetch'

  let fileHandler: ((stream: Stream, connection: Connection) => void) | undefined
  await libp2p.handle([...FILE_PROTOCOLS], (stream, connection) => {
    // Bulk never crosses a relay's circuit (rate-limited, and the relay would see the transfer's timing and size).
    if (pathOf(connection.remoteAddr) === 'relayed' || fileHandler === undefined) { stream.abort(new NetError('REFUSED', 'No file streams here.')); return }
    fileHandler(stream, connection)
  }, { maxInboundStreams: FILE_MAX_INBOUND_STREAMS })

  const node: DeviceNode = {
    peerId: libp2p.peerId.toString(),
    libp2p,
    addresses,
    onEnvelope (h) { handler = h },
    async deliver (to, envelope, opts = {}) {
      if (stopped) throw new NetError('CLOSED', 'The network node is stopped.')
      return await deliverEnvelope(libp2p, to, envelope, { signal: opts.signal, relayOnly, logger, usable: puncher.usable, onSent: opts.onSent })
    },
    async deposit (relayAddr, mailboxId, envelope, opts = {}) {
      if (stopped) throw new NetError('CLOSED', 'The network node is stopped.')
      await ids.use('send', async (n) => { await depositTo(n, relayAddr, mailboxId, envelope, { signal: opts.signal }) })
    },
    async park (relayAddr, req, opts = {}) {
      if (stopped) throw new NetError('CLOSED', 'The network node is stopped.')
      return await ids.use('send', async (n) => await parkRequest(n, relayAddr, req, { signal: opts.signal }))
    },
    async openMailbox (relayAddr, box, opts = {}) {
      if (stopped) throw new NetError('CLOSED', 'The network node is stopped.')
      const s = await ids.openSession(fetchSlot(box), async (n) => await openMailboxSession(n, relayAddr, box, logger, { signal: opts.signal }))
      sessions.add(s)
      s.onClose(() => { sessions.delete(s) })
      return s
    },
    async publishPresence (key, value, opts = {}) {
      if (stopped) throw new NetError('CLOSED', 'The network node is stopped.')
      const dhtKey = atStream(() => presenceDhtKey(key))
      const record = atStream(() => encodePresenceRecord({ publishedAt: Date.now(), value }))
      const signal = withDeadline(opts.signal, PRESENCE_DEADLINE_MS)
      const stored = await ids.useDht(async (n) => {
        await waitForRoutingTable(n, signal)
        let copies = 0
        for await (const ev of n.services.dht.put(dhtKey, record, { signal })) {
          if (ev.name === 'PEER_RESPONSE' && ev.messageName === 'PUT_VALUE') copies++
        }
        return copies
      })
      if (stored === 0) throw new NetError('UNREACHABLE', 'No DHT server stored the presence record.')
      logger.debug('presence-published', { copies: stored })
    },
    async lookupPresence (key, opts = {}) {
      if (stopped) throw new NetError('CLOSED', 'The network node is stopped.')
      const dhtKey = atStream(() => presenceDhtKey(key))
      const signal = withDeadline(opts.signal, PRESENCE_DEADLINE_MS)
      try {
        const raw = await ids.useDht(async (n) => { await waitForRoutingTable(n, signal); return await n.contentRouting.get(dhtKey, { signal }) })
        return atStream(() => decodePresenceRecord(raw)).value
      } catch (err) {
        if (isNotFound(err)) return undefined
        if (signal.aborted) return undefined
        throw err
      }
    },
    relays () {
      return o.relays.map((address): RelayView => {
        const id = peerIdOf(address) ?? ''
        const connected = libp2p.getConnections().some((c) => c.remotePeer.toString() === id && c.status === 'open' && !isCircuit(c.remoteAddr))
        return {
          address,
          state: connected ? 'connected' : reservations.connecting(address) ? 'connecting' : 'unreachable',
          reservation: reservations.hasReservation(id)
        }
      })
    },
    nat () {
      // Public: we announce a dialable address that is not private/loopback and not a circuit. Private: all we
      // have are private or relayed addresses. Unknown: nothing to judge by yet.
      const addrs = libp2p.getMultiaddrs().map((ma) => ma.toString())
      if (addrs.length === 0) return 'unknown'
      const isPublic = addrs.some((a) => {
        if (isCircuit(a)) return false
        const host = multiaddr(a).getComponents().find((c) => c.name === 'ip4' || c.name === 'ip6')?.value
        return host !== undefined && isPrivateIp(host) === false
      })
      return isPublic ? 'public' : 'private'
    },
    onAddressesChanged (cb) { addrListeners.push(cb) },
    linkTo: (peerId) => puncher.linkTo(peerId),
    connections: () => libp2p.getConnections().filter((c) => c.status === 'open').length,
    async withBlobStore (relayAddr, slot, fn, opts = {}) {
      if (stopped) throw new NetError('CLOSED', 'The network node is stopped.')
      return await ids.use(slot, async (n) => {
        const signal = withDeadline(opts.signal, FILE_DIAL_DEADLINE_MS)
        // A connection libp2p still lists may be dead (the relay restarted): its first stream fails and libp2p drops
        // it, so one more dial goes out afresh (as for mailbox sessions).
        const dial = async (): Promise<Stream> => await n.dialProtocol(multiaddr(relayAddr), BLOB_PROTOCOL, { signal })
        let stream: Stream
        try {
          stream = await dial().catch(async (err: unknown) => { if (signal.aborted) throw err; return await dial() })
        } catch (err) {
          throw new NetError('UNREACHABLE', 'The relay could not be reached.', { cause: err })
        }
        const ch = new BlobChannel(stream, undefined, opts.signal)
        try { return await fn(ch) } finally { await ch.close() }
      })
    },
    async openFileStream (peerId, opts = {}) {
      if (stopped) throw new NetError('CLOSED', 'The network node is stopped.')
      const conn = libp2p.getConnections().find((c) => c.remotePeer.toString() === peerId && c.status === 'open' && pathOf(c.remoteAddr) === 'direct' && puncher.usable(c))
      if (conn === undefined) return undefined
      // The larger window only with a receiver that speaks 1.1.0 or later (a 1.0.0 one buffers 16 puts and aborts past
      // them); durability confirmed apart only by a 1.2.0 one.
      const stream = await conn.newStream([...FILE_PROTOCOLS], { signal: withDeadline(opts.signal, FILE_DIAL_DEADLINE_MS) })
      return new BlobChannel(stream, fileWindow(stream.protocol), opts.signal, fileDurableApart(stream.protocol))
    },
    onFileStream (h) { fileHandler = h },
    shortLived () { return ids.view() },
    rotateIdentities () { ids.rotate() },
    async discoverRelays (d) {
      if (stopped) throw new NetError('CLOSED', 'The network node is stopped.')
      if (!ids.dhtReachable(d.bootstrap)) throw new NetError('UNREACHABLE', 'No DHT server is known; add a relay or a bootstrap peer.')
      const signal = withDeadline(d.signal, PRESENCE_DEADLINE_MS)
      return await ids.useDht(async (n) => {
        // Any known peer that is a DHT server (a contact's relay, a bootstrap peer) is a way in.
        await Promise.allSettled(d.bootstrap.map(async (a) => { await n.dial(multiaddr(a), { signal }) }))
        await waitForRoutingTable(n, signal)
        // Private addresses in records are kept only for a device that is itself on a private network.
        return await discoverRelays(n, { signal, now: Date.now, allowPrivate: lan || anyPrivate(d.bootstrap) })
      })
    },
    async probeRelay (addresses, p = {}) {
      if (stopped) throw new NetError('CLOSED', 'The network node is stopped.')
      const signal = withDeadline(p.signal, PRESENCE_DEADLINE_MS)
      return await ids.useDht(async (n) => await probeRelay(n, addresses, signal))
    },
    async stop () {
      if (stopped) return
      stopped = true
      puncher.stop()
      libp2p.removeEventListener('self:peer:update', onSelfUpdate)
      await Promise.all([...sessions].map(async (s) => { await s.close() }))
      await ids.stop()
      await libp2p.stop()
    }
  }
  return node
}

/** Waits (≤ ROUTING_TABLE_WAIT_MS) until a DHT server is in the routing table (a fresh identity has just dialled them). */
async function waitForRoutingTable (n: NodeLibp2p, signal: AbortSignal): Promise<void> {
  const dht = n.services.dht as unknown as { routingTable: { size: number } }
  const until = Date.now() + ROUTING_TABLE_WAIT_MS
  while (dht.routingTable.size === 0) {
    if (signal.aborted || Date.now() > until) throw new NetError('UNREACHABLE', 'No DHT server is reachable yet; check the relays and bootstrap list.')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

function withDeadline (signal: AbortSignal | undefined, ms: number): AbortSignal {
  const t = AbortSignal.timeout(ms)
  return signal === undefined ? t : AbortSignal.any([signal, t])
}

/** libp2p's content routing answers "not found" as NotFoundError, or as an AggregateError of them (one per router). */
function isNotFound (err: unknown): boolean {
  if (err instanceof AggregateError) return err.errors.length > 0 && err.errors.every(isNotFound)
  return err instanceof Error && err.name === 'NotFoundError'
}
