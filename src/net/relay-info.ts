// Relay discovery through the DHT (issue 16): relays provide a well-known key and serve a record signed by
// their libp2p key on /0m1/relay-info/1.0.0; devices (under a short-lived identity) find the providers, fetch
// and check each record, and probe the relay (dial, ping, a mailbox round trip). Frames: src/wire/relay-record.ts.
import { randomBytes } from 'node:crypto'
import { Resolver } from 'node:dns/promises'
import { isIP } from 'node:net'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import { peerIdFromMultihash, peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import * as Digest from 'multiformats/hashes/digest'
import type { Logger } from '../platform/logger.ts'
import { decodeRelayFrame, encodeClientFrame, MAILBOX_PROTOCOL, MAX_RELAY_FRAME_BYTES } from '../wire/mailbox.ts'
import {
  decodeRelayRecord, encodeRelayRecord, encodeRelayRecordBody, MAX_RELAY_RECORD_BYTES, relayRecordSignedBytes, type RelayRecordBody
} from '../wire/relay-record.ts'
import { WireError } from '../wire/errors.ts'
import { NetError } from './errors.ts'
import { isPrivateIp } from '@libp2p/utils'
import { isCircuit, type NodeLibp2p } from './libp2p.ts'

export const RELAY_INFO_PROTOCOL = '/0m1/relay-info/1.0.0'
/** The DHT provider key every advertising relay provides: a CID of this fixed string (raw codec, sha2-256). */
export const RELAY_PROVIDER_STRING = '/0m1/relays/1'
/** Provider records in kad-dht expire after 48 h; re-announcing hourly keeps a relay findable across churn. */
export const RELAY_ADVERTISE_INTERVAL_MS = 3600_000
/** One record fetch or one probe step (dial, ping, mailbox round trip). */
export const RELAY_PROBE_STEP_MS = 5_000
/** A record dated further ahead than this is forged or from a broken clock. */
export const MAX_RELAY_RECORD_SKEW_MS = 10 * 60_000
/** Providers looked at per discovery: enough to choose among, bounded so a flood of fake providers costs little. */
export const MAX_DISCOVERED_PROVIDERS = 32

let providerCid: CID | undefined
/** The well-known provider key (computed once). */
export function relayProviderCid (): CID {
  if (providerCid !== undefined) return providerCid
  const d = sha256.digest(new TextEncoder().encode(RELAY_PROVIDER_STRING))
  if (d instanceof Promise) throw new Error('sha256 digest is expected to be synchronous on Node')
  providerCid = CID.createV1(raw.code, Digest.create(d.code, d.digest))
  return providerCid
}

/** A checked record: the relay's peer id, its addresses (each ending in /p2p/<id>), services and hints. */
export interface RelayInfo {
  readonly peerId: string
  readonly addresses: readonly string[]
  readonly services: number
  readonly operator: string
  readonly reservationsFree: number
  readonly reservationsMax: number
  readonly mailboxFreeMiB: number
  readonly issuedAt: number
}

/** Why a record was ignored (counted, never logged with the record's contents). */
export type RecordRejection = 'malformed' | 'oversized' | 'signature' | 'wrong-peer' | 'foreign-address' | 'future' | 'private-only'

export class RelayRecordError extends NetError {
  readonly rejection: RecordRejection
  constructor (rejection: RecordRejection, message: string, cause?: unknown) {
    super('BAD_FRAME', message, { cause })
    this.rejection = rejection
  }
}

// ---- relay side ------------------------------------------------------------------------------------

export interface AdvertiseOptions {
  readonly privateKey: PrivateKey
  /** false (`relay --no-advertise`): serve the record to those who dial us, never provide the key. */
  readonly advertise: boolean
  readonly operator?: string | undefined
  readonly services: number
  readonly capacity: () => { reservationsFree: number, reservationsMax: number, mailboxFreeMiB: number }
  readonly intervalMs?: number | undefined
  readonly logger: Logger
  readonly now?: (() => number) | undefined
}

export interface RelayAdvertiser {
  /** The current signed record (tests). */
  record(): Promise<Uint8Array>
  /** Provides the key now; resolves with how many DHT servers took the provider record. */
  announce(): Promise<number>
  stop(): void
}

export async function signRelayRecord (privateKey: PrivateKey, body: RelayRecordBody): Promise<Uint8Array> {
  const bytes = encodeRelayRecordBody(body)
  const sig = await privateKey.sign(relayRecordSignedBytes(bytes))
  return encodeRelayRecord(bytes, sig)
}

export async function startRelayAdvertising (node: NodeLibp2p, o: AdvertiseOptions): Promise<RelayAdvertiser> {
  const now = o.now ?? Date.now
  const record = async (): Promise<Uint8Array> => await signRelayRecord(o.privateKey, {
    issuedAt: now(),
    peerId: node.peerId.toMultihash().bytes,
    services: o.services,
    ...o.capacity(),
    // Our own addresses (announced ones when given), without the /p2p part (the record names the peer).
    addresses: [...new Set(node.getMultiaddrs().filter((ma) => !isCircuit(ma)).map((ma) => ma.decapsulateCode(421).toString()))].slice(0, 16),
    operator: o.operator ?? ''
  })
  await node.handle(RELAY_INFO_PROTOCOL, (stream) => {
    const lp = lpStream(stream, { maxDataLength: MAX_RELAY_RECORD_BYTES })
    const signal = AbortSignal.timeout(RELAY_PROBE_STEP_MS)
    record()
      .then(async (r) => { await lp.write(r, { signal }); await stream.close({ signal }) })
      .catch((err: unknown) => { stream.abort(err instanceof Error ? err : new Error('relay-info failed')) })
  }, { maxInboundStreams: 4, maxOutboundStreams: 1 })

  let stopped = false
  const announce = async (): Promise<number> => {
    let copies = 0
    for await (const ev of node.services.dht.provide(relayProviderCid(), { signal: AbortSignal.timeout(30_000) })) {
      if (ev.name === 'PEER_RESPONSE' && ev.messageName === 'ADD_PROVIDER') copies++
    }
    return copies
  }
  let timer: NodeJS.Timeout | undefined
  const loop = (delay: number): void => {
    if (stopped || !o.advertise) return
    timer = setTimeout(() => {
      announce()
        .then((copies) => { o.logger.debug('relay-advertised', { copies }); loop(o.intervalMs ?? RELAY_ADVERTISE_INTERVAL_MS) })
        // A lone relay (no DHT peer yet) retries soon rather than an hour later.
        .catch(() => { o.logger.debug('relay-advertise-failed'); loop(Math.min(o.intervalMs ?? RELAY_ADVERTISE_INTERVAL_MS, 5_000)) })
    }, delay)
    timer.unref()
  }
  loop(0)
  return {
    record,
    announce,
    stop: () => { stopped = true; clearTimeout(timer) }
  }
}

// ---- device side -----------------------------------------------------------------------------------

/** Whether private, loopback and reserved addresses in a record are kept (see verifyRelayRecord). */
export interface RecordScope {
  /**
   * False on the internet: an advertised relay that names LAN, loopback or reserved addresses would have devices
   * probe their own networks (a scan by proxy), so those addresses are dropped. True when the device itself is on
   * a private network (its relays or bootstrap peers are private: a LAN deployment, the tests on loopback).
   */
  readonly allowPrivate: boolean
  /** How host names in records are resolved to be checked (default: the system resolver); tests pass their own. */
  readonly resolve?: ResolveHost | undefined
  /** Ends the host-name checks early (the discovery's deadline). */
  readonly signal?: AbortSignal | undefined
}

/** A host name's IP addresses (A and AAAA), given up when `signal` aborts. */
export type ResolveHost = (name: string, signal: AbortSignal) => Promise<string[]>

/** One host name's check: a resolver that does not answer by then drops the address, not the discovery. */
export const DNS_CHECK_DEADLINE_MS = 5_000

/** The system's DNS servers through c-ares (not getaddrinfo on libuv's small thread pool, which many slow lookups
 * would tie up for the whole process), A and AAAA both, one try each, cancelled with the signal. */
export const systemResolve: ResolveHost = async (name, signal) => {
  const r = new Resolver({ timeout: DNS_CHECK_DEADLINE_MS, tries: 1 })
  const cancel = (): void => { r.cancel() }
  signal.addEventListener('abort', cancel, { once: true })
  try {
    const answers = await Promise.allSettled([r.resolve4(name), r.resolve6(name)])
    return answers.flatMap((a) => a.status === 'fulfilled' ? a.value : [])
  } finally {
    signal.removeEventListener('abort', cancel)
  }
}

/** Host names that by convention never leave the local network (RFC 6761, RFC 8375, and common LAN suffixes). */
const LOCAL_NAME = /(^|\.)(localhost|local|lan|home|internal|intranet|home\.arpa)\.?$/i

/**
 * Whether a device on the internet may dial this address found through the DHT: an IP that is public (not
 * private, loopback, link-local, reserved or unspecified — 0.0.0.0 reaches the device's own loopback on Linux),
 * or a DNS name that is not a local one. Other transports (unix sockets) never. A DNS name is not resolved here
 * (checkedAddress does).
 */
export function publiclyDialable (ma: Multiaddr): boolean {
  const first = ma.getComponents()[0]
  if (first === undefined) return false
  if (first.name === 'ip4' || first.name === 'ip6') return first.value !== undefined && isPrivateIp(first.value) !== true
  if (first.name === 'dns' || first.name === 'dns4' || first.name === 'dns6' || first.name === 'dnsaddr') return first.value !== undefined && !LOCAL_NAME.test(first.value)
  return false
}

/**
 * A publiclyDialable address whose host name is checked too: every address the name resolves to, of either family,
 * must be public (a name that points at a LAN address would have the device probe its own network, and one public
 * answer beside a private one proves nothing: the dial may take either). The name is kept (a relay behind a name
 * may move, and a TLS certificate names it), so the dial resolves it again: a DNS server that answers this check
 * and the dial differently (rebinding) is not stopped here (docs/threat-model.md). A dnsaddr name stands for further
 * multiaddrs in TXT records, which are not checked: dropped. Undefined: drop the address.
 */
export async function checkedAddress (ma: Multiaddr, resolve: ResolveHost, signal?: AbortSignal): Promise<Multiaddr | undefined> {
  if (!publiclyDialable(ma)) return undefined
  const first = ma.getComponents()[0]
  if (first === undefined || first.value === undefined) return undefined
  if (first.name === 'ip4' || first.name === 'ip6') return ma
  if (first.name === 'dnsaddr') return undefined
  const bound = AbortSignal.any([AbortSignal.timeout(DNS_CHECK_DEADLINE_MS), ...(signal !== undefined ? [signal] : [])])
  let ips: string[]
  try {
    ips = await Promise.race([resolve(first.value, bound), new Promise<never>((_resolve, reject) => {
      if (bound.aborted) reject(new Error('DNS check cut short'))
      bound.addEventListener('abort', () => { reject(new Error('DNS check cut short')) }, { once: true })
    })])
  } catch {
    return undefined
  }
  if (ips.length === 0 || ips.some((ip) => isIP(ip) === 0 || isPrivateIp(ip) !== false)) return undefined
  return ma
}

/**
 * Decodes and checks a record fetched from `expectedPeer`: bounded decode, the relay's signature over the
 * documented bytes, the record names that peer, and each address is a plain (non-circuit) multiaddr of that
 * peer. Unless `scope.allowPrivate`, addresses that fail checkedAddress are dropped (names resolved), and a record left with none is refused
 * ('private-only'). Throws RelayRecordError (with the rejection to count).
 */
export async function verifyRelayRecord (bytes: Uint8Array, expectedPeer: string, now: number, scope: RecordScope): Promise<RelayInfo> {
  let decoded
  try {
    decoded = decodeRelayRecord(bytes)
  } catch (err) {
    throw new RelayRecordError(WireError.is(err, 'TOO_LARGE') ? 'oversized' : 'malformed', 'The relay record does not decode.', err)
  }
  const { record, body } = decoded
  let peer
  try {
    peer = peerIdFromMultihash(Digest.decode(record.peerId))
  } catch (err) {
    throw new RelayRecordError('malformed', 'The relay record peer id does not parse.', err)
  }
  if (peer.toString() !== expectedPeer) throw new RelayRecordError('wrong-peer', 'The relay record names another peer.')
  const key = peer.publicKey
  if (key === undefined) throw new RelayRecordError('malformed', 'The relay peer id carries no public key.')
  if (!(await key.verify(relayRecordSignedBytes(body), record.signature))) throw new RelayRecordError('signature', 'The relay record signature does not verify.')
  if (record.issuedAt > now + MAX_RELAY_RECORD_SKEW_MS) throw new RelayRecordError('future', 'The relay record is dated in the future.')
  const parsed: Multiaddr[] = []
  for (const a of record.addresses) {
    let ma: Multiaddr
    try { ma = multiaddr(a) } catch (err) { throw new RelayRecordError('malformed', 'A relay record address does not parse.', err) }
    const p2p = ma.getComponents().filter((c) => c.name === 'p2p').map((c) => c.value)
    if (isCircuit(ma) || p2p.some((id) => id !== expectedPeer)) throw new RelayRecordError('foreign-address', 'A relay record address is not the relay\'s own.')
    parsed.push(ma)
  }
  const kept = scope.allowPrivate ? parsed : await checkedAddresses(parsed, scope.resolve ?? systemResolve, scope.signal)
  const addresses: string[] = []
  for (const ma of kept) {
    addresses.push(ma.getComponents().some((c) => c.name === 'p2p') ? ma.toString() : `${ma.toString()}/p2p/${expectedPeer}`)
  }
  if (addresses.length === 0) throw new RelayRecordError('private-only', 'The relay record names only private or reserved addresses.')
  return {
    peerId: expectedPeer,
    addresses,
    services: record.services,
    operator: record.operator,
    reservationsFree: record.reservationsFree,
    reservationsMax: record.reservationsMax,
    mailboxFreeMiB: record.mailboxFreeMiB,
    issuedAt: record.issuedAt
  }
}

/** Fetches the raw record from a peer over a (new or open) connection. */
export async function fetchRelayRecordBytes (node: Libp2p, peer: string, addrs: readonly Multiaddr[], signal: AbortSignal): Promise<Uint8Array> {
  const target = addrs.length > 0 ? addrs.map((a) => withPeer(a, peer)) : peerIdFromString(peer)
  const stream = await node.dialProtocol(target, RELAY_INFO_PROTOCOL, { signal })
  try {
    const lp = lpStream(stream, { maxDataLength: MAX_RELAY_RECORD_BYTES })
    const frame = (await lp.read({ signal })).subarray()
    await stream.close({ signal }).catch(() => {})
    return frame
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error('relay-info failed'))
    if (err instanceof Error && (err.name === 'InvalidDataLengthError' || err.name === 'InvalidDataLengthLengthError')) {
      throw new RelayRecordError('oversized', 'The relay record is over its size limit.', err)
    }
    throw err
  }
}

function withPeer (ma: Multiaddr, peer: string): Multiaddr {
  return ma.getComponents().some((c) => c.name === 'p2p') ? ma : ma.encapsulate(`/p2p/${peer}`)
}

export interface Discovered {
  readonly relays: RelayInfo[]
  /** Records ignored, by reason (forged, malformed, oversized, foreign addresses). */
  readonly rejected: Partial<Record<RecordRejection, number>>
  /** Providers the DHT named whose record could not be fetched (unreachable, no such protocol). */
  readonly unreachable: number
}

/** Finds providers of the relay key through `node`'s DHT and fetches each one's record. */
export async function discoverRelays (node: NodeLibp2p, o: RecordScope & { signal: AbortSignal, max?: number, now: () => number }): Promise<Discovered> {
  const max = o.max ?? MAX_DISCOVERED_PROVIDERS
  const providers = new Map<string, Multiaddr[]>()
  try {
    for await (const p of node.contentRouting.findProviders(relayProviderCid(), { signal: o.signal })) {
      const id = p.id.toString()
      if (id === node.peerId.toString()) continue
      // The DHT's addresses for a provider are dialled before its record is read: the same rule as the record's.
      providers.set(id, [...(providers.get(id) ?? []), ...p.multiaddrs])
      if (providers.size >= max) break
    }
  } catch (err) {
    // A walk cut short by the deadline still found what it found.
    if (!o.signal.aborted && !(err instanceof Error && err.name === 'NotFoundError')) throw err
  }
  const rejected: Partial<Record<RecordRejection, number>> = {}
  let unreachable = 0
  const relays: RelayInfo[] = []
  // The DHT's addresses for a provider are dialled before its record is read: the same rule as the record's, checked
  // after the walk (a slow name must not hold it up) and all at once, each name resolved once.
  const resolve = onceEach(o.resolve ?? systemResolve)
  await Promise.all([...providers].map(async ([id, found]) => {
    const addrs = o.allowPrivate ? found : await checkedAddresses(found, resolve, o.signal)
    // No address left to dial: dialling by peer id would let libp2p pick any address it holds for that peer.
    if (!o.allowPrivate && addrs.length === 0) { unreachable++; return }
    const signal = AbortSignal.any([o.signal, AbortSignal.timeout(RELAY_PROBE_STEP_MS)])
    try {
      const bytes = await fetchRelayRecordBytes(node, id, addrs, signal)
      relays.push(await verifyRelayRecord(bytes, id, o.now(), { ...o, resolve }))
    } catch (err) {
      if (err instanceof RelayRecordError) rejected[err.rejection] = (rejected[err.rejection] ?? 0) + 1
      else unreachable++
    }
  }))
  return { relays, rejected, unreachable }
}

async function checkedAddresses (addrs: readonly Multiaddr[], resolve: ResolveHost, signal?: AbortSignal): Promise<Multiaddr[]> {
  return (await Promise.all(addrs.map(async (a) => await checkedAddress(a, resolve, signal)))).filter((a): a is Multiaddr => a !== undefined)
}

/** A resolver that asks once per name (a discovery's providers often share their relays' names). */
function onceEach (resolve: ResolveHost): ResolveHost {
  const asked = new Map<string, Promise<string[]>>()
  return async (name, signal) => {
    let p = asked.get(name)
    if (p === undefined) { p = resolve(name, signal); asked.set(name, p) }
    return await p
  }
}

export interface ProbeResult {
  /** The address that answered (TCP first, then WebSocket), undefined when none did. */
  readonly address: string | undefined
  readonly rttMs: number | undefined
  /** The relay answered a mailbox request (an auth challenge) in time. */
  readonly mailbox: boolean
}

/** TCP addresses first, then WebSocket ones (a network that blocks odd TCP ports often lets port 443 through). */
export function dialOrder (addresses: readonly string[]): string[] {
  const ws = (a: string): boolean => /\/(ws|wss|tls\/ws)(\/|$)/.test(a)
  return [...addresses.filter((a) => !ws(a)), ...addresses.filter(ws)]
}

/**
 * Probes a relay from `node` (a short-lived identity): dials each address in dialOrder until one connects,
 * pings it, and asks for a mailbox auth challenge for a random mailbox id (no state is made on the relay:
 * the challenge lives with the stream, which we close).
 */
export async function probeRelay (node: NodeLibp2p, addresses: readonly string[], signal: AbortSignal): Promise<ProbeResult> {
  let address: string | undefined
  for (const a of dialOrder(addresses)) {
    try {
      const ma = multiaddr(a)
      const conn = await node.dial(ma, { signal: AbortSignal.any([signal, AbortSignal.timeout(RELAY_PROBE_STEP_MS)]) })
      // An open connection is reused whatever address was asked for: report the one it really uses.
      const used = conn.remoteAddr.toString()
      address = used.includes('/p2p/') ? used : `${used}/p2p/${conn.remotePeer.toString()}`
      break
    } catch {
      if (signal.aborted) break
    }
  }
  if (address === undefined) return { address: undefined, rttMs: undefined, mailbox: false }
  let rttMs: number | undefined
  try {
    rttMs = await node.services.ping.ping(multiaddr(address), { signal: AbortSignal.any([signal, AbortSignal.timeout(RELAY_PROBE_STEP_MS)]) })
  } catch { /* judged by rttMs undefined */ }
  const mailbox = await probeMailbox(node, address, signal)
  return { address, rttMs, mailbox }
}

async function probeMailbox (node: Libp2p, address: string, outer: AbortSignal): Promise<boolean> {
  const signal = AbortSignal.any([outer, AbortSignal.timeout(RELAY_PROBE_STEP_MS)])
  try {
    const stream = await node.dialProtocol(multiaddr(address), MAILBOX_PROTOCOL, { signal })
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_RELAY_FRAME_BYTES })
      await lp.write(encodeClientFrame({ type: 'auth-begin', reqId: 1, mailboxId: randomBytes(32) }), { signal })
      const f = decodeRelayFrame((await lp.read({ signal })).subarray())
      return f.type === 'challenge'
    } finally {
      stream.abort(new Error('probe done'))
    }
  } catch {
    return false
  }
}
