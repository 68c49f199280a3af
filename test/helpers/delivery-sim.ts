// Runs two messenger cores (the real MessengerCore) against each other on a SimNetwork and SimClock
// through one schedule of sends, device restarts and relay outages and losses, then heals the
// network and reports what each side ended with. test/messenger/delivery-property.test.ts draws the
// schedules with fast-check and checks exactly-once, per-sender order and eventual 'delivered'.
import { E2eeError } from '../../src/e2ee/errors.ts'
import { MessengerError } from '../../src/messenger/errors.ts'
import { MessengerCore } from '../../src/messenger/messenger.ts'
import type { HistoryStore } from '../../src/messenger/history-store.ts'
import type { DevicePort } from '../../src/messenger/ports.ts'
import type { MessageView, SettingsView } from '../../src/messenger/types.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { StoreError } from '../../src/store/errors.ts'
import type { Payload } from '../../src/wire/payload.ts'
import { SimClock } from './sim-clock.ts'
import { NO_FAULTS, seeded, SimNetwork, type Faults, type SimNode } from './sim-net.ts'

export type Action =
  | { readonly kind: 'send', readonly at: number, readonly who: number }
  | { readonly kind: 'restart', readonly at: number, readonly who: number, readonly downMs: number }
  /** `relay` indexes World.relays; one past the last means all of them. */
  | { readonly kind: 'relay-down', readonly at: number, readonly relay: number, readonly downMs: number }
  | { readonly kind: 'relay-loss', readonly at: number, readonly relay: number }

export interface Schedule {
  readonly seed: number
  readonly faults: Faults
  readonly actions: readonly Action[]
}

/** What a party is made of; it outlives restarts (the data directory). */
export interface PartySetup {
  readonly name: string
  /** The libp2p peer id the other side's contact record names. */
  readonly peerId: string
  readonly device: DevicePort<Payload>
  readonly history: HistoryStore
  /** This party's contact id for the other party. */
  readonly contactId: string
}

export interface World {
  readonly parties: readonly [PartySetup, PartySetup]
  /** Relay addresses; both parties keep their mailboxes on all of them. */
  readonly relays: readonly string[]
}

export interface PartyOutcome {
  /** Texts this party's messenger accepted, in the order send() returned. */
  readonly sent: ReadonlyArray<{ id: string, seq: number, text: string }>
  /** Incoming messages in display order. */
  readonly received: readonly MessageView[]
  /** States of the sent messages, by id. */
  readonly states: ReadonlyMap<string, MessageView['state'] | undefined>
  readonly outbox: number
}

export interface Outcome {
  readonly converged: boolean
  readonly parties: readonly [PartyOutcome, PartyOutcome]
  /** Simulated ms from the first action to rest. */
  readonly simulatedMs: number
  readonly steps: number
}

/**
 * After the schedule's last event the network heals; everything must settle within this much
 * simulated time: the longest wait of a healthy outbox is STORED_RETRY_MS (5 min) after a backoff of
 * at most BACKOFF_MAX_MS (1 min), so two hours is generous, and keeps a failing schedule (which
 * runs to the deadline) cheap enough for fast-check to shrink.
 */
export const HEAL_DEADLINE_MS = 2 * 3600_000

/** Makes every method throw `closedError()` once `closed()` holds: the host closes the device and store on stop. */
function closable<T extends object> (target: T, closed: () => boolean, closedError: () => Error): T {
  const wrapped = new Map<string | symbol, unknown>()
  return new Proxy(target, {
    get (t, key) {
      // Getters run on the target: one reading a private field (History.database) fails on the proxy.
      const v: unknown = Reflect.get(t, key)
      if (typeof v !== 'function') return v
      let w = wrapped.get(key)
      if (w === undefined) {
        w = (...args: unknown[]) => {
          if (closed()) throw closedError()
          return (v as (...a: unknown[]) => unknown).apply(t, args)
        }
        wrapped.set(key, w)
      }
      return w
    }
  })
}

class Party {
  readonly setup: PartySetup
  readonly sent: Array<{ id: string, seq: number, text: string }> = []
  core: MessengerCore | undefined
  node: SimNode | undefined
  #sends = 0
  readonly #net: SimNetwork
  readonly #settings: SettingsView

  constructor (setup: PartySetup, net: SimNetwork, relays: readonly string[]) {
    this.setup = setup
    this.#net = net
    this.#settings = { relayOnly: false, lanDiscovery: false, fetchIsolation: 'device', relays: [...relays] }
  }

  async start (random: () => number): Promise<void> {
    let closed = false
    const node = this.#net.node(this.setup.peerId)
    const core = new MessengerCore({
      device: closable(this.setup.device, () => closed, () => new E2eeError('CLOSED', 'This device was closed; open it again.')),
      history: closable(this.setup.history, () => closed, () => new StoreError('CLOSED', 'The store was closed.')),
      net: node,
      logger: silentLogger,
      settings: () => this.#settings,
      clock: this.#net.clock,
      random
    })
    const stop = core.stop.bind(core)
    core.stop = async () => { await stop(); closed = true }
    this.node = node
    this.core = core
    await core.start()
  }

  async stop (): Promise<void> {
    const core = this.core
    this.core = undefined
    this.node?.kill()
    await core?.stop()
  }

  async send (): Promise<void> {
    const core = this.core
    if (core === undefined) return
    const text = `${this.setup.name} ${++this.#sends}`
    try {
      const m = await core.send(this.setup.contactId, text)
      this.sent.push({ id: m.id, seq: m.seq, text })
    } catch (err) {
      // Stopped while sending: nothing was queued.
      if (!MessengerError.is(err, 'STOPPED')) throw err
    }
  }

  outcome (): PartyOutcome {
    const h = this.setup.history
    const c = this.setup.contactId
    return {
      sent: [...this.sent],
      received: h.messages(c, { limit: 1000 }).filter((m) => m.direction === 'in'),
      states: new Map(this.sent.map((s) => [s.id, h.message(c, 'out', s.id)?.state])),
      outbox: h.outboxSize()
    }
  }

  settled (other: Party): boolean {
    const h = this.setup.history
    const c = this.setup.contactId
    if (this.core === undefined || h.outboxSize() !== 0) return false
    if (h.messages(c, { limit: 1000 }).filter((m) => m.direction === 'in').length < other.sent.length) return false
    return this.sent.every((s) => { const st = h.message(c, 'out', s.id)?.state; return st === 'delivered' || st === 'read' })
  }
}

export async function runSchedule (world: World, s: Schedule): Promise<Outcome> {
  const clock = new SimClock()
  const start = clock.now()
  const net = new SimNetwork(clock, s.seed, s.faults)
  const relays = world.relays.map((a) => net.addRelay(a))
  const parties = [new Party(world.parties[0], net, world.relays), new Party(world.parties[1], net, world.relays)] as const
  const random = seeded(s.seed ^ 0x5bd1e995)
  const busy = new Set<Promise<void>>()
  const errors: unknown[] = []
  const track = (job: () => Promise<void>): void => {
    const p = job().catch((err: unknown) => { errors.push(err) }).finally(() => { busy.delete(p) })
    busy.add(p)
  }
  const at = (ms: number, job: () => Promise<void>): void => { clock.setTimeout(() => { track(job) }, ms) }

  for (const p of parties) at(0, async () => { await p.start(random) })
  let end = 0
  for (const a of s.actions) {
    end = Math.max(end, a.at + ('downMs' in a ? a.downMs : 0))
    if (a.kind === 'send') {
      at(a.at, async () => { await parties[a.who % 2]?.send() })
    } else if (a.kind === 'restart') {
      const p = parties[a.who % 2] as Party
      at(a.at, async () => {
        if (p.core === undefined) return
        await p.stop()
        await clock.sleep(a.downMs)
        await p.start(random)
      })
    } else {
      // relay >= the number of relays: all of them at once (a copy survives only if one relay keeps it).
      const hit = a.relay < relays.length ? relays.slice(a.relay, a.relay + 1) : relays
      if (a.kind === 'relay-loss') {
        at(a.at, async () => { for (const r of hit) r.lose() })
      } else {
        at(a.at, async () => {
          for (const r of hit) { r.up = false; r.breakSessions() }
          await clock.sleep(a.downMs)
          for (const r of hit) r.up = true
        })
      }
    }
  }
  at(end + 1, async () => { net.faults = NO_FAULTS })
  const healAt = start + end + 1
  const converged = await clock.run(() => errors.length > 0 || (clock.now() >= healAt && busy.size === 0 &&
    parties[0].settled(parties[1]) && parties[1].settled(parties[0])), healAt + HEAL_DEADLINE_MS)
  const simulatedMs = clock.now() - start
  const outcome: Outcome = { converged: converged && errors.length === 0, parties: [parties[0].outcome(), parties[1].outcome()], simulatedMs, steps: clock.steps }
  for (const p of parties) await p.stop()
  if (errors.length > 0) throw errors[0] as Error
  return outcome
}
