// A simulated network implementing the messenger's NetworkPort on a SimClock: direct deliveries and
// relay mailboxes, with faults drawn from a seeded random source (lost requests, lost answers,
// duplicates, delays past the caller's deadline), nodes that go offline, relays that go down or
// lose everything they hold. For unit tests of the delivery state machine; the real network is
// tested on loopback libp2p in test/net and test/messenger.
import type { DeliverOutcome, InboundMailbox, MailboxSessionPort, NetworkPort } from '../../src/messenger/ports.ts'
import type { SimClock } from './sim-clock.ts'

export interface Faults {
  /** Probability that a request never arrives. */
  drop: number
  /** Probability that a request arrives but its answer is lost. */
  dropAnswer: number
  /** Probability that a request arrives twice. */
  duplicate: number
  /** Each hop takes a uniform delay in [0, maxDelayMs). */
  maxDelayMs: number
}

export const NO_FAULTS: Faults = { drop: 0, dropAnswer: 0, duplicate: 0, maxDelayMs: 1 }

/** mulberry32: a small seeded generator, so a failing schedule replays from its seed. */
export function seeded (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

class Unreachable extends Error {
  constructor (what: string) { super(`simulated: ${what}`); this.name = 'SimUnreachable' }
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

interface Item { id: Uint8Array, envelope: Uint8Array }

export class SimRelay {
  readonly address: string
  up = true
  /** mailbox id (hex) -> items, in deposit order. */
  readonly #boxes = new Map<string, Item[]>()
  readonly #sessions = new Set<{ box: string, push: ((item: Item) => void) | undefined, open: boolean }>()
  #nextId = 0

  constructor (address: string) {
    this.address = address
  }

  store (mailboxId: Uint8Array, envelope: Uint8Array): Item {
    const key = hex(mailboxId)
    const item = { id: Buffer.from(String(this.#nextId++).padStart(8, '0')), envelope }
    const list = this.#boxes.get(key) ?? []
    list.push(item)
    this.#boxes.set(key, list)
    return item
  }

  items (mailboxId: Uint8Array): Item[] {
    return [...(this.#boxes.get(hex(mailboxId)) ?? [])]
  }

  ack (mailboxId: Uint8Array, ids: Uint8Array[]): void {
    const key = hex(mailboxId)
    const drop = new Set(ids.map(hex))
    this.#boxes.set(key, (this.#boxes.get(key) ?? []).filter((i) => !drop.has(hex(i.id))))
  }

  held (): number {
    let n = 0
    for (const l of this.#boxes.values()) n += l.length
    return n
  }

  /** The relay's disk is gone: every copy it held, and every session, is lost. */
  lose (): void {
    this.#boxes.clear()
    this.breakSessions()
  }

  breakSessions (): void {
    for (const s of this.#sessions) s.open = false
    this.#sessions.clear()
  }

  session (mailboxId: Uint8Array): { box: string, push: ((item: Item) => void) | undefined, open: boolean } {
    const s = { box: hex(mailboxId), push: undefined, open: true }
    this.#sessions.add(s)
    return s
  }

  closeSession (s: { open: boolean }): void {
    s.open = false
    this.#sessions.delete(s as never)
  }

  sessionsFor (mailboxId: Uint8Array): Array<{ push: ((item: Item) => void) | undefined, open: boolean }> {
    const key = hex(mailboxId)
    return [...this.#sessions].filter((s) => s.box === key && s.open)
  }
}

export class SimNetwork {
  readonly clock: SimClock
  faults: Faults
  readonly #random: () => number
  readonly #nodes = new Map<string, SimNode>()
  readonly relays = new Map<string, SimRelay>()

  constructor (clock: SimClock, seed: number, faults: Faults = NO_FAULTS) {
    this.clock = clock
    this.#random = seeded(seed)
    this.faults = faults
  }

  chance (p: number): boolean {
    return p > 0 && this.#random() < p
  }

  delay (): number {
    return Math.floor(this.#random() * this.faults.maxDelayMs)
  }

  addRelay (address: string): SimRelay {
    const r = new SimRelay(address)
    this.relays.set(address, r)
    return r
  }

  /** A node for `peerId`: replaces (and kills) the one that had the id, as a restarted device does. */
  node (peerId: string): SimNode {
    this.#nodes.get(peerId)?.kill()
    const n = new SimNode(this, peerId)
    this.#nodes.set(peerId, n)
    return n
  }

  live (peerId: string): SimNode | undefined {
    const n = this.#nodes.get(peerId)
    return n?.alive === true ? n : undefined
  }

  relay (address: string): SimRelay {
    const r = this.relays.get(address)
    if (r === undefined || !r.up) throw new Unreachable('relay down')
    return r
  }

  /** One hop: waits a random delay (bounded by the caller's deadline); may lose the request. */
  async hop (signal?: AbortSignal): Promise<void> {
    await this.clock.sleep(this.delay(), signal)
    if (this.chance(this.faults.drop)) {
      // A lost request is noticed only when the caller's deadline passes.
      await this.clock.sleep(Number.MAX_SAFE_INTEGER / 2, signal)
    }
  }
}

type Handler = (envelope: Uint8Array, info: { path: 'direct' | 'relayed', ackReceipt: boolean, remotePeer: string }) => Promise<boolean>

export class SimNode implements NetworkPort {
  readonly peerId: string
  alive = true
  /** Streams to this node carry delivered acks (/0m1/deliver/2.1.0); off: as a 2.0.0 peer, sealed receipts only. */
  ackReceipts = true
  #handler: Handler | undefined
  readonly #net: SimNetwork

  constructor (net: SimNetwork, peerId: string) {
    this.#net = net
    this.peerId = peerId
  }

  kill (): void {
    this.alive = false
    this.#handler = undefined
  }

  addresses (): string[] {
    return [`/sim/${this.peerId}`]
  }

  onEnvelope (h: Handler): void {
    this.#handler = h
  }

  async #receive (envelope: Uint8Array, path: 'direct' | 'relayed', from: string): Promise<boolean> {
    const h = this.#handler
    if (!this.alive || h === undefined) throw new Unreachable('peer offline')
    return await h(envelope, { path, ackReceipt: this.ackReceipts, remotePeer: from })
  }

  #check (): void {
    if (!this.alive) throw new Unreachable('this node was stopped')
  }

  async deliver (to: { peerId: string }, envelope: Uint8Array, o: { signal?: AbortSignal, onSent?: (path: 'direct' | 'relayed') => void }): Promise<DeliverOutcome> {
    const net = this.#net
    this.#check()
    const path = net.chance(0.5) ? 'direct' : 'relayed'
    await net.hop(o.signal)
    const target = net.live(to.peerId)
    if (target === undefined) throw new Unreachable('peer offline')
    o.onSent?.(path)
    if (net.chance(net.faults.duplicate)) {
      // A second copy of the stream, arriving later; its fate is nobody's business.
      void net.clock.sleep(net.delay()).then(async () => { const again = net.live(to.peerId); if (again !== undefined) await again.#receive(envelope, path, this.peerId) }).catch(() => {})
    }
    const delivered = await target.#receive(envelope, path, this.peerId)
    if (net.chance(net.faults.dropAnswer)) await net.clock.sleep(Number.MAX_SAFE_INTEGER / 2, o.signal)
    await net.clock.sleep(net.delay(), o.signal)
    this.#check()
    return { path, delivered }
  }

  async deposit (relayAddr: string, mailboxId: Uint8Array, envelope: Uint8Array, o: { signal?: AbortSignal } = {}): Promise<void> {
    const net = this.#net
    this.#check()
    await net.hop(o.signal)
    const relay = net.relay(relayAddr)
    const copies = net.chance(net.faults.duplicate) ? 2 : 1
    for (let i = 0; i < copies; i++) {
      const item = relay.store(mailboxId, envelope)
      for (const s of relay.sessionsFor(mailboxId)) {
        void net.clock.sleep(net.delay()).then(() => { if (s.open) s.push?.(item) })
      }
    }
    if (net.chance(net.faults.dropAnswer)) await net.clock.sleep(Number.MAX_SAFE_INTEGER / 2, o.signal)
    await net.clock.sleep(net.delay(), o.signal)
    this.#check()
  }

  async openMailbox (relayAddr: string, box: InboundMailbox): Promise<MailboxSessionPort> {
    const net = this.#net
    this.#check()
    await net.clock.sleep(net.delay())
    const relay = net.relay(relayAddr)
    const s = relay.session(box.mailboxId)
    const usable = (): SimRelay => {
      if (!s.open || !this.alive) throw new Unreachable('mailbox session closed')
      return net.relay(relayAddr)
    }
    return {
      fetch: async () => {
        await net.clock.sleep(net.delay())
        return usable().items(box.mailboxId)
      },
      ack: async (ids) => {
        await net.clock.sleep(net.delay())
        usable().ack(box.mailboxId, ids)
      },
      onPush: (cb) => { s.push = cb },
      close: async () => { relay.closeSession(s) }
    }
  }
}
