// Two real messengers (e2ee Device with libsignal and SQLCipher, History on the same store) joined by
// an in-process network double: deliver() hands the envelope straight to the other side's handler, and
// an in-memory relay keeps deposits in mailboxes until a session acknowledges them. For counting the store's work per message (commits,
// statements) without libp2p's cost and noise; the real network is tested in test/net and test/messenger.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Device } from '../../src/e2ee/device.ts'
import { History } from '../../src/messenger/history.ts'
import { MessengerCore } from '../../src/messenger/messenger.ts'
import type { InboundMailbox, MailboxSessionPort, NetworkPort } from '../../src/messenger/ports.ts'
import type { MessageView, SettingsView } from '../../src/messenger/types.ts'
import { systemClock, type Clock, type Timer, type TimerOptions } from '../../src/platform/clock.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { addWalHook, type Database } from '../../src/store/db.ts'

const RELAY = '/memory/relay'

/** Counts the commits of a database: SQLite calls the WAL hook once per committed write transaction. */
export function countCommits (db: Database): { readonly count: number, reset: () => void } {
  const counter = { count: 0, reset: () => { counter.count = 0 } }
  addWalHook(db, () => { counter.count++ })
  return counter
}

export interface Side {
  readonly device: Device
  readonly history: History
  readonly core: MessengerCore
  /** This side's contact id for the other side. */
  readonly contactId: string
  readonly commits: { readonly count: number, reset: () => void }
}

type Handler = (envelope: Uint8Array, info: { path: 'direct' | 'relayed', ackReceipt: boolean, remotePeer: string }) => Promise<boolean>
interface Item { id: Uint8Array, envelope: Uint8Array }

/** A relay double: mailboxes of items, kept until acknowledged, pushed to open sessions. */
export class MemoryRelay {
  readonly boxes = new Map<string, Item[]>()
  readonly #push = new Map<string, Set<(item: Item) => void>>()
  #next = 0

  deposit (mailboxId: Uint8Array, envelope: Uint8Array): void {
    const key = Buffer.from(mailboxId).toString('hex')
    const item = { id: Buffer.from(String(this.#next++)), envelope }
    this.boxes.set(key, [...(this.boxes.get(key) ?? []), item])
    for (const cb of this.#push.get(key) ?? []) cb(item)
  }

  session (mailboxId: Uint8Array): MailboxSessionPort {
    const key = Buffer.from(mailboxId).toString('hex')
    let cb: ((item: Item) => void) | undefined
    // Like the real session (src/net/mailbox-client.ts): a position that only moves forward until a rewind,
    // so an item fetched and not acked comes back only after rewind() or in a new session.
    const seen = new Set<Item>()
    return {
      fetch: async () => {
        const page = (this.boxes.get(key) ?? []).filter((i) => !seen.has(i))
        for (const i of page) seen.add(i)
        return page
      },
      rewind: () => { seen.clear() },
      ack: async (ids) => {
        const gone = new Set(ids.map((i) => Buffer.from(i).toString('hex')))
        this.boxes.set(key, (this.boxes.get(key) ?? []).filter((i) => !gone.has(Buffer.from(i.id).toString('hex'))))
      },
      onPush: (f) => {
        cb = f
        const set = this.#push.get(key) ?? new Set()
        set.add(f)
        this.#push.set(key, set)
      },
      close: async () => { if (cb !== undefined) this.#push.get(key)?.delete(cb) }
    }
  }

  /** Items waiting in every mailbox. */
  size (): number {
    return [...this.boxes.values()].reduce((n, l) => n + l.length, 0)
  }
}

/** A NetworkPort double: direct delivery to the other side's handler, deposits on one MemoryRelay. */
export class LoopNet implements NetworkPort {
  readonly peerId: string
  readonly relay: MemoryRelay
  handler: Handler | undefined
  peer: LoopNet | undefined
  /** Off: direct deliveries to this side fail (its mailboxes still work). */
  online = true
  /** Held before deliver() resolves, after the other side's handler: a test can make a receipt overtake the ack. */
  ackAfter: (() => Promise<void>) | undefined
  /** Every envelope this side handed to deliver(), for tests that replay or count them. */
  readonly delivered: Uint8Array[] = []
  /** Deliveries to the peer carry delivered acks (/0m1/deliver/2.1.0); off (the default here): as 2.0.0, every
   * receipt sealed, which the tests of receipts count on. */
  ackReceipts = false
  constructor (peerId: string, relay: MemoryRelay) { this.peerId = peerId; this.relay = relay }
  addresses (): string[] { return [] }
  onEnvelope (h: Handler): void { this.handler = h }
  async deliver (_to: { peerId: string }, envelope: Uint8Array, o: { onSent?: (path: 'direct') => void } = {}): Promise<{ path: 'direct', delivered: boolean }> {
    this.delivered.push(envelope)
    const h = this.peer?.handler
    if (h === undefined || this.peer?.online !== true) throw new Error('unreachable')
    // As the real node: the path is told as the bytes go out, before the ack.
    o.onSent?.('direct')
    const delivered = await h(envelope, { path: 'direct', ackReceipt: this.ackReceipts, remotePeer: this.peerId })
    await this.ackAfter?.()
    return { path: 'direct', delivered }
  }

  async deposit (_relay: string, mailboxId: Uint8Array, envelope: Uint8Array): Promise<void> { this.relay.deposit(mailboxId, envelope) }
  async openMailbox (_relay: string, box: InboundMailbox): Promise<MailboxSessionPort> { return this.relay.session(box.mailboxId) }
}

/**
 * A clock for tests that count work: real until hold(); from then on the time stands still (no stored row
 * becomes due, no receipt wait runs out) and a timer that comes due waits for release(), so no retry, debounce
 * or backoff can add work to the window a test counts. Turns (setImmediate) stay real: the pump needs them.
 */
export class HoldClock implements Clock {
  #heldAt: number | undefined
  readonly #waiting: Array<{ fn: () => void, cancelled: boolean }> = []

  now = (): number => this.#heldAt ?? Date.now()
  hold (): void { this.#heldAt = Date.now() }
  release (): void {
    this.#heldAt = undefined
    for (const e of this.#waiting.splice(0)) if (!e.cancelled) e.fn()
  }

  /** Timers that came due while held (none run until release()). */
  get held (): number { return this.#waiting.filter((e) => !e.cancelled).length }

  #gate (fn: () => void): { run: () => void, entry: { cancelled: boolean } } {
    const entry = { cancelled: false }
    return {
      entry,
      run: () => {
        if (entry.cancelled) return
        if (this.#heldAt === undefined) { fn(); return }
        this.#waiting.push({ fn: () => { if (!entry.cancelled) fn() }, cancelled: false })
      }
    }
  }

  setTimeout = (fn: () => void, ms: number, o?: TimerOptions): Timer => {
    const g = this.#gate(fn)
    const t = systemClock.setTimeout(g.run, ms, o)
    return { cancel: () => { g.entry.cancelled = true; t.cancel() } }
  }

  setInterval = (fn: () => void, ms: number, o?: TimerOptions): Timer => {
    const g = this.#gate(fn)
    const t = systemClock.setInterval(g.run, ms, o)
    return { cancel: () => { g.entry.cancelled = true; t.cancel() } }
  }

  setImmediate = (fn: () => void): void => { systemClock.setImmediate(fn) }
  timeout = (ms: number): AbortSignal => systemClock.timeout(ms)
}

export interface TwoMessengers {
  a: Side & { net: LoopNet }
  b: Side & { net: LoopNet }
  relay: MemoryRelay
  close: () => Promise<void>
}

/** `o.now` replaces the receiving side's (b's) time; `o.clock` is both sides' clock (e.g. a HoldClock);
 * `o.searchIdleMs` is both stores' search indexer idle delay (false: no idle commits, for tests that count commits). */
export async function twoMessengers (o: { now?: () => number, clock?: Clock, searchIdleMs?: number | false } = {}): Promise<TwoMessengers> {
  const dir = mkdtempSync(join(tmpdir(), '0m1-two-'))
  const settings: SettingsView = { relayOnly: false, lanDiscovery: false, fetchIsolation: 'device', relays: [RELAY] }
  const alice = await Device.create(join(dir, 'alice'), { name: 'alice', synchronous: 'NORMAL' })
  const bob = await Device.create(join(dir, 'bob'), { name: 'bob', synchronous: 'NORMAL' })
  const invite = await alice.createInvite({ relays: [RELAY], addresses: [], peerId: 'alice' })
  const accepted = await bob.acceptInvite(invite.link, { card: { relays: [RELAY], addresses: [], peerId: 'bob' } })
  const opened = await alice.openEnvelope(accepted.envelope)
  const relay = new MemoryRelay()
  const netA = new LoopNet('alice', relay)
  const netB = new LoopNet('bob', relay)
  netA.peer = netB
  netB.peer = netA
  const side = (device: Device, net: LoopNet, contactId: string, now?: () => number): Side & { net: LoopNet } => {
    const history = new History(device.db, o.searchIdleMs !== undefined ? { searchIdleMs: o.searchIdleMs } : {})
    const core = new MessengerCore({ device, history, net, logger: silentLogger, settings: () => settings, ...(now !== undefined ? { now } : {}), ...(o.clock !== undefined ? { clock: o.clock } : {}) })
    return { device, history, core, contactId, commits: countCommits(device.db), net }
  }
  const a = side(alice, netA, opened.contact.id)
  const b = side(bob, netB, accepted.contact.id, o.now)
  await a.core.start()
  await b.core.start()
  return {
    a,
    b,
    relay,
    close: async () => {
      await a.core.stop()
      await b.core.stop()
      alice.close()
      bob.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** Resolves when `side` sees message `id` reach `state` (subscribed before looking, so no event slips between). */
export async function stateReached (side: Side, id: string, state: MessageView['state']): Promise<void> {
  let off = (): void => {}
  const seen = new Promise<void>((resolve) => {
    off = side.core.subscribe((e) => {
      if (e.type === 'message-state' && e.message.id === id && e.message.state === state) resolve()
    })
  })
  try {
    const now = side.history.message(side.contactId, 'out', id)
    if (now?.state !== state) await seen
  } finally {
    off()
  }
}
