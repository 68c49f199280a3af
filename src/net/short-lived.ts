// Short-lived libp2p identities: mailbox deposits, DHT presence puts/gets and mailbox fetches leave the
// device under fresh Ed25519 keys, rotated at least hourly, never under the long-term peer id contacts know.
import { createLibp2p } from 'libp2p'
import { tcpWritingOnce } from './tcp-writes.ts'
import { webSockets } from '@libp2p/websockets'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../platform/logger.ts'
import { dhtService, peerIdOf, relayOnlyGater, type NodeLibp2p } from './libp2p.ts'
import type { MailboxSession } from './mailbox-client.ts'

/** An identity is replaced after this long ("rotated at least hourly", issue 9): a relay or DHT node can link what
 * one short-lived identity did within its hour, never one hour to the next by peer id. */
export const SHORT_LIVED_MAX_AGE_MS = 3600_000
/** A replaced identity stays up this long for requests already under way (a deposit or a DHT walk takes ≤ 20 s). */
export const RETIRED_IDENTITY_GRACE_MS = 30_000
/** How often identity ages are checked: mailbox sessions are long-lived and must move to a fresh identity too. */
export const ROTATION_CHECK_MS = 60_000

/** What an identity is for. 'send': deposits and DHT presence (needs the DHT). 'fetch': mailbox sessions of all
 * mailboxes (isolation `device`). 'fetch:<mailbox id hex>': one mailbox's sessions (isolation `contact`). */
export type IdentitySlot = 'send' | 'fetch' | `fetch:${string}`

export interface ShortLivedView {
  readonly slot: IdentitySlot
  readonly peerId: string
  readonly createdAt: number
  /** Peer ids this identity holds connections to now. */
  readonly connectedTo: readonly string[]
}

export interface ShortLivedOptions {
  readonly relays: readonly string[]
  readonly bootstrap: readonly string[]
  readonly relayOnly: boolean
  /** Keep private/loopback addresses in the DHT (LAN, tests), as the main node does. */
  readonly lan: boolean
  readonly logger: Logger
  readonly maxAgeMs?: number | undefined
  readonly now?: (() => number) | undefined
}

interface Slot {
  readonly name: IdentitySlot
  readonly node: Libp2p
  readonly createdAt: number
  busy: number
  readonly sessions: Set<MailboxSession>
  retired: boolean
  stopped: boolean
  /** Stops a retired identity that is still busy after the grace. */
  graceTimer?: NodeJS.Timeout
}

/**
 * A client-only libp2p node under a fresh key: TCP and WebSockets, Noise, Yamux, no listen address, no relay
 * reservation; the 'send' identity adds identify, ping and the DHT in client mode. In relay-only mode it gets the
 * main node's gater: it dials nothing but the configured relays and bootstrap peers.
 */
export async function createShortLivedLibp2p (o: ShortLivedOptions, dht: boolean): Promise<Libp2p> {
  const support = [...new Set([...o.bootstrap, ...o.relays])]
  const allowed = new Set(support.map(peerIdOf).filter((x): x is string => x !== undefined))
  const now = o.now ?? Date.now
  const services: Record<string, (components: never) => unknown> = dht
    ? { identify: identify(), ping: ping(), dht: await dhtService({ clientMode: true, lan: o.lan, now }) }
    : {}
  const node = await createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen: [] },
    transports: [tcpWritingOnce(), webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(o.relayOnly ? { connectionGater: relayOnlyGater(allowed) } : {}),
    services: services as never
  })
  if (dht) {
    // Fill the DHT routing table at once: the relays and bootstrap peers are DHT servers.
    for (const a of support) void node.dial(multiaddr(a)).catch(() => {})
  }
  return node
}

export class ShortLivedIdentities {
  readonly #o: ShortLivedOptions
  readonly #maxAge: number
  readonly #now: () => number
  readonly #slots = new Map<IdentitySlot, Slot>()
  readonly #creating = new Map<IdentitySlot, Promise<Slot>>()
  readonly #all = new Set<Slot>()
  readonly #timer: NodeJS.Timeout
  #stopped = false

  constructor (o: ShortLivedOptions) {
    this.#o = o
    this.#maxAge = o.maxAgeMs ?? SHORT_LIVED_MAX_AGE_MS
    this.#now = o.now ?? Date.now
    this.#timer = setInterval(() => { this.#expire() }, Math.min(ROTATION_CHECK_MS, Math.max(1_000, this.#maxAge / 2)))
    this.#timer.unref()
  }

  /** Runs `fn` on the slot's current identity (made on first use, replaced once older than the maximum age). */
  async use<T> (name: IdentitySlot, fn: (node: Libp2p) => Promise<T>): Promise<T> {
    return await this.#use(name, async (s) => await fn(s.node))
  }

  async #use<T> (name: IdentitySlot, fn: (slot: Slot) => Promise<T>): Promise<T> {
    const s = await this.#slot(name)
    s.busy++
    try {
      return await fn(s)
    } finally {
      s.busy--
      this.#maybeStop(s)
    }
  }

  /** The libp2p node of the 'send' identity, with its DHT. */
  async useDht<T> (fn: (node: NodeLibp2p) => Promise<T>): Promise<T> {
    return await this.use('send', async (node) => await fn(node as unknown as NodeLibp2p))
  }

  /** Whether a DHT walk has a way in: a peer to dial (`extra`, the relays, the bootstrap peers: DHT servers all), or a
   * DHT server already in the 'send' identity's routing table. With none, the walk could only wait and fail, after
   * loading kad-dht for nothing (an idle device: test/api/lazy-start.test.ts). */
  dhtReachable (extra: readonly string[]): boolean {
    if (extra.length > 0 || this.#o.relays.length > 0 || this.#o.bootstrap.length > 0) return true
    const dht = (this.#slots.get('send')?.node as { services?: { dht?: { routingTable: { size: number } } } } | undefined)?.services?.dht
    return dht !== undefined && dht.routingTable.size > 0
  }

  /** Opens a mailbox session on the slot's identity; the session closes when the identity is replaced. */
  async openSession (name: IdentitySlot, open: (node: Libp2p) => Promise<MailboxSession>): Promise<MailboxSession> {
    return await this.#use(name, async (slot) => {
      const session = await open(slot.node)
      slot.sessions.add(session)
      session.onClose(() => {
        slot.sessions.delete(session)
        this.#maybeStop(slot)
      })
      if (slot.retired) void session.close().catch(() => {})
      return session
    })
  }

  /** The identities in use now (status, tests, the observer ledger). */
  view (): ShortLivedView[] {
    return [...this.#slots.values()].map((s) => ({
      slot: s.name,
      peerId: s.node.peerId.toString(),
      createdAt: s.createdAt,
      connectedTo: [...new Set(s.node.getConnections().map((c) => c.remotePeer.toString()))]
    }))
  }

  /** Replaces every identity now (the next request makes a fresh one); sessions on the old ones close. */
  rotate (): void {
    for (const s of [...this.#slots.values()]) this.#retire(s)
  }

  async stop (): Promise<void> {
    this.#stopped = true
    clearInterval(this.#timer)
    await Promise.allSettled([...this.#creating.values()])
    await Promise.allSettled([...this.#all].map(async (s) => { await this.#stopSlot(s) }))
  }

  async #slot (name: IdentitySlot): Promise<Slot> {
    const current = this.#slots.get(name)
    if (current !== undefined && this.#now() - current.createdAt < this.#maxAge) return current
    if (current !== undefined) this.#retire(current)
    let making = this.#creating.get(name)
    if (making === undefined) {
      making = this.#make(name).finally(() => { this.#creating.delete(name) })
      this.#creating.set(name, making)
    }
    return await making
  }

  async #make (name: IdentitySlot): Promise<Slot> {
    if (this.#stopped) throw new Error('short-lived identities stopped')
    const node = await createShortLivedLibp2p(this.#o, name === 'send')
    const slot: Slot = { name, node, createdAt: this.#now(), busy: 0, sessions: new Set(), retired: false, stopped: false }
    this.#all.add(slot)
    // stop() may have run while the node was being made (the await above).
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
    if (this.#stopped) { await this.#stopSlot(slot); throw new Error('short-lived identities stopped') }
    this.#slots.set(name, slot)
    this.#o.logger.debug('short-lived-identity', { purpose: name === 'send' ? 'send' : 'fetch' })
    return slot
  }

  #expire (): void {
    const now = this.#now()
    for (const s of [...this.#slots.values()]) if (now - s.createdAt >= this.#maxAge) this.#retire(s)
  }

  #retire (s: Slot): void {
    if (this.#slots.get(s.name) === s) this.#slots.delete(s.name)
    if (s.retired) return
    s.retired = true
    // Sessions move to a fresh identity: the messenger reopens a session that closed.
    for (const session of [...s.sessions]) void session.close().catch(() => {})
    this.#maybeStop(s)
    if (!s.stopped) {
      s.graceTimer = setTimeout(() => { void this.#stopSlot(s) }, RETIRED_IDENTITY_GRACE_MS)
      s.graceTimer.unref()
    }
  }

  /** A retired identity stops once idle; a per-mailbox identity also stops when its last session is gone. */
  #maybeStop (s: Slot): void {
    if (s.busy > 0 || s.sessions.size > 0) return
    if (!s.retired && !s.name.startsWith('fetch:')) return
    if (!s.retired) this.#retire(s)
    else void this.#stopSlot(s)
  }

  async #stopSlot (s: Slot): Promise<void> {
    if (s.stopped) return
    s.stopped = true
    if (s.graceTimer !== undefined) clearTimeout(s.graceTimer)
    if (this.#slots.get(s.name) === s) this.#slots.delete(s.name)
    this.#all.delete(s)
    await Promise.resolve(s.node.stop()).catch(() => {})
  }
}
