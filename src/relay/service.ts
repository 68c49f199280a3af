// The relay node (`0message1 relay`): circuit relay v2 server, DHT server and mailboxes, in one libp2p node
// whose identity and mailbox store live in one SQLCipher database in the relay's data directory.
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import type { Logger } from '../platform/logger.ts'
import { openDatabase, resolveDatabaseKey, type Database } from '../store/db.ts'
import { createProfileLibp2p, type NodeLibp2p } from '../net/libp2p.ts'
import { MAILBOX_MAX_STREAMS_PER_CONNECTION, MAILBOX_PROTOCOL } from '../wire/mailbox.ts'
import { PARK_PROTOCOL, ParkedInvites } from './parked-invites.ts'
import { MailboxService, type MailboxObservation } from './mailbox-service.ts'
import { Admission, reservationGate } from './admission.ts'
import { RELAY_MIGRATIONS, SqliteMailboxStore, type MailboxStore } from './store.ts'
import { resolveLimits, type RelayLimits } from './limits.ts'
import { BLOB_MIGRATION, SqliteBlobStore } from './blob-store.ts'
import { BlobService } from './blob-service.ts'
import { BLOB_PROTOCOL } from '../wire/blob.ts'
import { startStunServer, type StunServer } from './stun.ts'
import { serveStunPort } from '../net/stun-port.ts'
import { multiaddr } from '@multiformats/multiaddr'
import { renderMetrics, startMetricsServer, type MetricsServer, type RelayGauges } from './metrics.ts'
import { startRelayAdvertising, type RelayAdvertiser } from '../net/relay-info.ts'
import { RELAY_SERVICE } from '../wire/relay-record.ts'
import { RELAY_BUFFER_POOL_BYTES, shrinkBufferPool } from '../platform/buffer-pool.ts'
import { startHeapTrimmer, type HeapTrimmer, type HeapTrimOptions } from '../platform/heap-trim.ts'

/** Circuit relay v2's STOP protocol: the relay opens one such stream to the target of each relayed connection. */
const RELAY_STOP_PROTOCOL = '/libp2p/circuit/relay/0.2.0/stop'

export type { RelayLimits } from './limits.ts'
export { MetricsError } from './metrics.ts'
export type { MailboxObservation } from './mailbox-service.ts'

/** The relay's database file (a relay data directory is not a device data directory). */
export const RELAY_DATABASE_FILE = 'relay.db'
/** Concurrent mailbox streams per connection (the protocol's bound, src/wire/mailbox.ts): deposits take one
 * long-lived stream per connection whatever their rate, so the bound is sized for sessions, one per owned mailbox. */
export const MAILBOX_MAX_INBOUND_STREAMS = MAILBOX_MAX_STREAMS_PER_CONNECTION

/** Blob streams per connection: an uploader keeps one per file it parks, a downloader one per file it fetches. */
export const BLOB_MAX_INBOUND_STREAMS = 16

export interface RelayOptions {
  readonly dataDir: string
  readonly listen: string[]
  readonly bootstrap?: string[]
  readonly logger: Logger
  readonly limits?: Partial<RelayLimits>
  /** Clock (tests move it to check expiry). */
  readonly now?: () => number
  /** Passphrase-protected relay store (default: a random key file, mode 0600, in dataDir). */
  readonly passphrase?: string
  /** UDP port of the STUN responder (devices learn it over /0m1/stun-port/1.0.0), or 'off'. Default 0: an
   * ephemeral port (tests, demo); `0message1 relay` passes 3478 unless told `--stun PORT|off`. */
  readonly stun?: number | 'off'
  /** Addresses to advertise instead of the listen addresses (`--announce`): the relay behind port forwarding
   * or a cloud NAT, whose listen address is not the one devices dial. Without /p2p (it is added). */
  readonly announce?: string[]
  /** `127.0.0.1:PORT`: serve Prometheus metrics and /healthz there (src/relay/metrics.ts). Loopback only. */
  readonly metrics?: string
  /** Test hook (observer ledger): what the relay sees of each deposit and mailbox session; never stored or logged. */
  readonly observe?: (o: MailboxObservation) => void
  /** The relay is alone in its process (`0message1 relay`): process-wide memory settings are its to make. */
  readonly ownProcess?: boolean
  /** Test hook: the heap trimmer's intervals and slack (default: src/platform/heap-trim.ts's). */
  readonly heapTrim?: HeapTrimOptions
  /** Test hook: the address prefix a remote counts under (default: its IPv4 /24 or IPv6 /48), so loopback tests
   * can play several networks. Gets the remote multiaddr and, when known, the remote peer id. */
  readonly prefixOf?: (remoteAddr: string, remotePeer: string) => string
  /** Provide the relay key in the DHT so devices find this relay (default true; `relay --no-advertise`: false,
   * for private deployments; the signed record is still served to those who dial it). */
  readonly advertise?: boolean
  /** Who runs this relay (`relay --operator`), a hint devices use to spread their relays; '' when unstated. */
  readonly operator?: string
  /** How often the provider record is announced again (default hourly; tests shorten it). */
  readonly advertiseIntervalMs?: number
}

export interface RelayHandle {
  readonly peerId: string
  /** Dialable multiaddrs, each ending in /p2p/<peerId>. */
  readonly addresses: string[]
  /** The libp2p node (status, tests). */
  readonly libp2p: NodeLibp2p
  /** The mailbox store (tests, status). */
  readonly store: MailboxStore
  /** The mailbox protocol service (tests, status: sessions, commits, push bytes outstanding). */
  readonly mailboxes: MailboxService
  /** Owner memory, guest quota and per-prefix limits (issue 14.2; tests, status). */
  readonly admission: Admission
  /** The STUN responder, unless turned off. */
  readonly stun: StunServer | undefined
  readonly db: Database
  /** The metrics endpoint's base URL, when one was asked for. */
  readonly metricsUrl: string | undefined
  /** The DHT advertisement and the signed relay record (issue 16). */
  readonly advertiser: RelayAdvertiser
  /** The metrics text as the endpoint serves it (tests). */
  metrics(): string
  /** The idle heap trimmer (src/platform/heap-trim.ts) of a relay alone in its process (ownProcess), else undefined. */
  readonly heapTrimmer: HeapTrimmer | undefined
  /** The blob store (issue 12; tests, status). */
  readonly blobs: SqliteBlobStore
  readonly blobService: BlobService
  /** Deletes expired envelopes now; returns how many (also runs every limits.sweepIntervalMs). */
  sweep(): number
  stop(): Promise<void>
}

export async function startRelay (o: RelayOptions): Promise<RelayHandle> {
  // Before any connection: a relay keeps small arrays per connection for as long as it lasts (buffer-pool.ts). Only
  // for a relay alone in its process: the setting is the process's, and devices beside it would pay for it.
  if (o.ownProcess === true) shrinkBufferPool(RELAY_BUFFER_POOL_BYTES)
  const logger = o.logger.child('relay')
  const limits = resolveLimits(o.limits)
  const now = o.now ?? Date.now
  const key = resolveDatabaseKey(o.dataDir, { create: true, passphrase: o.passphrase })
  const db = openDatabase({ path: join(o.dataDir, RELAY_DATABASE_FILE), key, migrations: [...RELAY_MIGRATIONS, BLOB_MIGRATION], synchronous: 'FULL' })
  key.fill(0)
  let libp2p: NodeLibp2p | undefined
  let stun: StunServer | undefined
  try {
    const privateKey = await loadOrCreateIdentity(db)
    const store = new SqliteMailboxStore(db)
    const admission = new Admission({ db, store, limits })
    // Reservations per address prefix (issue 14.2), through the connection gater: bound once the node exists.
    const self: { node?: NodeLibp2p } = {}
    const denyReservation = reservationGate({
      maxPerPrefix: limits.maxReservationsPerPrefix,
      addrOf: (peer) => self.node?.getConnections(peer).find((c) => !c.remoteAddr.toString().includes('/p2p-circuit'))?.remoteAddr.toString(),
      reservations: () => (self.node?.services as { relay?: { reservations?: Iterable<[PeerId, { addr: { toString: () => string } }]> } } | undefined)?.relay?.reservations ?? [],
      prefixOf: o.prefixOf === undefined ? undefined : (addr) => (o.prefixOf as (a: string, p: string) => string)(addr, '')
    })
    libp2p = await createProfileLibp2p({
      profile: 'relay',
      privateKey,
      listen: o.listen,
      ...(o.announce !== undefined && o.announce.length > 0 ? { announce: o.announce } : {}),
      bootstrap: o.bootstrap,
      maxReservations: limits.maxReservations,
      denyReservation,
      now
    })
    self.node = libp2p
    const mailboxes = new MailboxService({ store, limits, logger, now, relayPeerId: libp2p.peerId.toMultihash().bytes, observe: o.observe, admission, prefixOf: o.prefixOf })
    await libp2p.handle(MAILBOX_PROTOCOL, mailboxes.handle, { maxInboundStreams: MAILBOX_MAX_INBOUND_STREAMS, maxOutboundStreams: 1 })
    // Issue 13: sealed invites behind short links (src/relay/parked-invites.ts).
    const parked = new ParkedInvites(db, { now, perPrefix: { bytesPerWindow: limits.parkedInvitesPerPrefixWindow, windowMs: limits.parkWindowMs }, prefixOf: o.prefixOf }).withLogger(logger)
    await libp2p.handle(PARK_PROTOCOL, parked.handle, { maxInboundStreams: 4, maxOutboundStreams: 1 })
    const blobs = new SqliteBlobStore(db)
    const blobService = new BlobService({ store: blobs, quota: { maxBlobBytes: limits.maxBlobBytes, maxTotalBytes: limits.maxBlobTotalBytes, expiryMs: limits.expiryMs }, logger, now, upload: { bytesPerWindow: limits.blobUploadBytesPerWindow, windowMs: limits.blobUploadWindowMs }, prefixUpload: { bytesPerWindow: limits.blobUploadBytesPerPrefixWindow, windowMs: limits.blobUploadWindowMs }, prefixOf: o.prefixOf })
    await libp2p.handle(BLOB_PROTOCOL, blobService.handle, { maxInboundStreams: BLOB_MAX_INBOUND_STREAMS, maxOutboundStreams: 1 })
    if (o.stun !== 'off') {
      stun = await startStunServer({ port: o.stun ?? 0, host: stunBindHost(o.listen), logger })
      await serveStunPort(libp2p, stun.port)
    }

    const relayService = libp2p.services.relay as { reservations?: { size: number } } | undefined
    const advertiser = await startRelayAdvertising(libp2p, {
      privateKey,
      advertise: o.advertise ?? true,
      operator: o.operator,
      intervalMs: o.advertiseIntervalMs,
      services: RELAY_SERVICE.circuit | RELAY_SERVICE.mailbox | RELAY_SERVICE.blobs | (stun !== undefined ? RELAY_SERVICE.stun : 0),
      capacity: () => ({
        reservationsMax: limits.maxReservations,
        reservationsFree: Math.max(0, limits.maxReservations - (relayService?.reservations?.size ?? 0)),
        mailboxFreeMiB: 0xffffffff
      }),
      logger,
      now
    })

    const sweep = (): number => {
      admission.sweep(now())
      parked.sweep()
      const n = store.sweep(now())
      const b = blobs.sweep(now())
      if (b > 0) logger.info('blob-expired', { blobs: b })
      if (n > 0) logger.info('mailbox-expired', { items: n })
      return n
    }
    sweep()
    const timer = setInterval(() => {
      try { sweep() } catch (err) { logger.error('mailbox-sweep-failed', { code: (err as Error).name }) }
    }, limits.sweepIntervalMs)
    timer.unref()

    const node = libp2p
    const addresses = node.getMultiaddrs().map((ma) => ma.toString())
    let stopped = false
    const metrics = (): string => renderMetrics(mailboxes.counters, relayGauges(node, store, mailboxes))
    let metricsServer: MetricsServer | undefined
    if (o.metrics !== undefined) metricsServer = await startMetricsServer({ listen: o.metrics, read: metrics, healthy: () => !stopped && node.status === 'started' })
    // Alone in its process: the heap its start and each burst of connections grew (V8's young generation at its
    // largest, old-space pages left half empty) is given back once idle, as a started device's is. Started here,
    // not by the CLI, so that every relay alone in its process runs it (bench relay.memory's included).
    const heapTrimmer = o.ownProcess === true ? startHeapTrimmer(o.heapTrim) : undefined
    logger.info('relay-started', { addresses: addresses.length })
    return {
      peerId: node.peerId.toString(),
      addresses,
      libp2p: node,
      store,
      mailboxes,
      admission,
      blobs,
      blobService,
      stun,
      db,
      metricsUrl: metricsServer?.url,
      advertiser,
      metrics,
      sweep,
      heapTrimmer,
      async stop () {
        if (stopped) return
        stopped = true
        heapTrimmer?.stop()
        clearInterval(timer)
        advertiser.stop()
        await metricsServer?.close()
        mailboxes.stop()
        blobService.stop()
        await stun?.close()
        await node.stop()
        db.close()
        logger.info('relay-stopped')
      }
    }
  } catch (err) {
    if (libp2p !== undefined) await Promise.resolve(libp2p.stop()).catch(() => {})
    await stun?.close()
    db.close()
    throw err
  }
}

/** Gauges read at scrape time: sizes and counts only (no peer id, mailbox id or address leaves this function). */
function relayGauges (node: NodeLibp2p, store: SqliteMailboxStore, mailboxes: MailboxService): RelayGauges {
  const relay = node.services.relay as { reservations?: { size: number } } | undefined
  let circuits = 0
  const connections = node.getConnections()
  // Each relayed connection is one STOP stream the relay opened towards its target.
  for (const c of connections) for (const s of c.streams) if (s.protocol === RELAY_STOP_PROTOCOL && s.direction === 'outbound') circuits++
  return {
    mailboxes: store.mailboxCount(),
    bytesStored: store.totalBytes(),
    ownerSessions: mailboxes.sessionCount(),
    reservations: relay?.reservations?.size ?? 0,
    circuits,
    connections: connections.length
  }
}

/** STUN answers on the one IPv4 host all TCP/WS listen addresses share (127.0.0.1 in tests: nothing reaches
 * beyond the machine), else on every interface. */
function stunBindHost (listen: readonly string[]): string {
  const hosts = new Set<string>()
  for (const a of listen) {
    try {
      const c = multiaddr(a).getComponents()[0]
      if (c?.name === 'ip4' && c.value !== undefined) hosts.add(c.value)
      else return '0.0.0.0'
    } catch {
      return '0.0.0.0'
    }
  }
  return hosts.size === 1 ? [...hosts][0] as string : '0.0.0.0'
}

/** The relay's libp2p key lives in its encrypted store, so its peer id (part of its address) survives restarts. */
async function loadOrCreateIdentity (db: Database): Promise<PrivateKey> {
  const row = db.prepare('SELECT private_key FROM relay_identity WHERE k = 1').get() as { private_key: Uint8Array } | undefined
  if (row !== undefined) return privateKeyFromProtobuf(new Uint8Array(row.private_key))
  const key = await generateKeyPair('Ed25519')
  db.prepare('INSERT INTO relay_identity (k, private_key) VALUES (1, ?)').run([Buffer.from(privateKeyToProtobuf(key))])
  return key
}
