// Keeps a device on at least N working relays (issue 16): probes the relays it uses, replaces one that fails
// for a while (unreachable, no reservation, no mailbox answer) with relays found in the DHT, and adds relays
// while it has fewer than N. A replaced relay stays listed (and drained) for a grace so contacts get the new
// card first. The choice goes only to contacts, inside cards (the messenger's settings change does that).
import type { Logger } from '../platform/logger.ts'
import { peerIdOf } from '../net/libp2p.ts'
import type { Discovered, ProbeResult, RecordRejection, RelayInfo } from '../net/relay-info.ts'
import { hasService } from '../wire/relay-record.ts'
import { MAX_RELAYS } from '../wire/payload.ts'
import { selectRelays, type RelayChoice } from './relay-select.ts'
import type { RelayView } from './types.ts'

/** Relays a device keeps by default (issue 16: "at least two", so one failure never leaves it without any). */
export const DEFAULT_RELAY_TARGET = 2
export const MIN_RELAY_TARGET = 1
/** Cards and invites carry at most MAX_RELAYS relays. */
export const MAX_RELAY_TARGET = MAX_RELAYS
/** How often the relays in use are probed (and discovery runs while fewer than the target work, or while two kept
 * relays share a stated operator). */
export const RELAY_CHECK_INTERVAL_MS = 60_000
/** A relay failing its probes this long is replaced: long enough to ride out a relay restart. */
export const RELAY_FAIL_AFTER_MS = 5 * 60_000
/** A replaced relay stays listed this long: contacts get the card naming its successors, and its mailboxes are
 * drained while it still answers. */
export const RELAY_DROP_AFTER_MS = 10 * 60_000
/** A relay we dropped as failing is not picked again for this long. */
export const RELAY_COOLDOWN_MS = 60 * 60_000
/** Candidates probed at once after a discovery. */
const PROBE_CONCURRENCY = 8

export interface RelayKeeperNet {
  relays?: () => readonly RelayView[]
  discoverRelays(o: { bootstrap: readonly string[] }): Promise<Discovered>
  probeRelay(addresses: readonly string[]): Promise<ProbeResult>
}

/** What the user set (Settings): how many relays, which are pinned or excluded, extra bootstrap peers. */
export interface RelayPrefs {
  readonly target: number
  readonly pinned: readonly string[]
  readonly excluded: readonly string[]
  readonly bootstrap: readonly string[]
}

export const DEFAULT_RELAY_PREFS: RelayPrefs = { target: DEFAULT_RELAY_TARGET, pinned: [], excluded: [], bootstrap: [] }

export interface RelayKeeperTiming {
  readonly intervalMs?: number
  readonly failAfterMs?: number
  readonly dropAfterMs?: number
  readonly cooldownMs?: number
  /** The first check (default: one interval after start). */
  readonly firstCheckMs?: number
}

export interface RelayKeeperOptions extends RelayKeeperTiming {
  readonly net: () => RelayKeeperNet | undefined
  /** The relays in use now (settings). */
  readonly relays: () => readonly string[]
  /** Stores a new relay list (the messenger restarts the network and sends cards). */
  readonly setRelays: (relays: string[]) => Promise<void>
  /** Ways into the DHT besides our relays: the host's bootstrap list and contacts' relays. */
  readonly bootstrap: () => readonly string[]
  readonly prefs: () => RelayPrefs
  readonly logger: Logger
  readonly now?: () => number
}

/** One relay as Settings and `status` show it. */
export interface KeptRelayView {
  readonly address: string
  readonly state: 'ok' | 'failing' | 'retiring' | 'unknown'
  readonly rttMs: number | undefined
  readonly operator: string
  readonly pinned: boolean
  readonly source: 'configured' | 'discovered'
}

export interface RelayKeeperView {
  readonly target: number
  readonly pinned: readonly string[]
  readonly excluded: readonly string[]
  readonly bootstrap: readonly string[]
  readonly relays: readonly KeptRelayView[]
  readonly lastCheckAt: number | undefined
  /** Discovered relays seen in the last discovery (never sent anywhere). */
  readonly known: number
  /** Provider records ignored since start, by reason (forged, malformed, oversized, foreign addresses). */
  readonly rejected: Partial<Record<RecordRejection, number>>
  /** The last replacement: how long from the first failed probe to the new list, in ms. */
  readonly lastReplacementMs: number | undefined
}

interface Health { failingSince?: number, rttMs?: number, ok?: boolean }

export class RelayKeeper {
  readonly #o: RelayKeeperOptions
  readonly #now: () => number
  readonly #health = new Map<string, Health>()
  /** Replaced relays still listed, by address: when they are dropped. */
  readonly #retiring = new Map<string, number>()
  readonly #cooldown = new Map<string, number>()
  readonly #known = new Map<string, RelayInfo>()
  readonly #discovered = new Set<string>()
  readonly #rejected: Partial<Record<RecordRejection, number>> = {}
  #timer: NodeJS.Timeout | undefined
  #busy: Promise<void> | undefined
  #stopped = false
  #lastCheckAt: number | undefined
  #lastReplacementMs: number | undefined

  constructor (o: RelayKeeperOptions) {
    this.#o = o
    this.#now = o.now ?? Date.now
  }

  start (): void {
    this.#schedule(this.#o.firstCheckMs ?? this.#o.intervalMs ?? RELAY_CHECK_INTERVAL_MS)
  }

  async stop (): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    await this.#busy?.catch(() => {})
  }

  /** Runs one check now (also on the schedule); resolves when it is done. */
  async check (): Promise<void> {
    this.#busy ??= this.#check().finally(() => { this.#busy = undefined })
    await this.#busy
  }

  view (): RelayKeeperView {
    const prefs = this.#o.prefs()
    const relays = this.#o.relays().map((address): KeptRelayView => {
      const h = this.#health.get(address)
      const info = this.#known.get(peerIdOf(address) ?? '')
      return {
        address,
        state: this.#retiring.has(address) ? 'retiring' : h?.ok === true ? 'ok' : h?.ok === false ? 'failing' : 'unknown',
        rttMs: h?.rttMs,
        operator: info?.operator ?? '',
        pinned: prefs.pinned.includes(address),
        source: this.#discovered.has(address) ? 'discovered' : 'configured'
      }
    })
    return {
      target: prefs.target,
      pinned: prefs.pinned,
      excluded: prefs.excluded,
      bootstrap: prefs.bootstrap,
      relays,
      lastCheckAt: this.#lastCheckAt,
      known: this.#known.size,
      rejected: { ...this.#rejected },
      lastReplacementMs: this.#lastReplacementMs
    }
  }

  #schedule (ms: number): void {
    if (this.#stopped) return
    this.#timer = setTimeout(() => {
      this.check()
        .catch((err: unknown) => { this.#o.logger.warn('relay-check-failed', { error: err instanceof Error ? err.name : typeof err }) })
        .finally(() => { this.#schedule(this.#o.intervalMs ?? RELAY_CHECK_INTERVAL_MS) })
    }, ms)
    this.#timer.unref()
  }

  async #check (): Promise<void> {
    const net = this.#o.net()
    if (net === undefined || this.#stopped) return
    const prefs = this.#o.prefs()
    const failAfter = this.#o.failAfterMs ?? RELAY_FAIL_AFTER_MS
    const current = [...this.#o.relays()]
    const views = net.relays?.() ?? []
    const excluded = (a: string): boolean => prefs.excluded.some((x) => x === a || peerIdOf(x) === peerIdOf(a))
    const pinned = (a: string): boolean => prefs.pinned.includes(a)

    await Promise.all(current.filter((a) => !this.#retiring.has(a)).map(async (address) => {
      const h = this.#health.get(address) ?? {}
      this.#health.set(address, h)
      const probe = await net.probeRelay([address]).catch(() => undefined)
      const reservation = views.find((v) => v.address === address)?.reservation ?? true
      const ok = probe?.address !== undefined && probe.mailbox && reservation
      h.ok = ok
      if (probe?.rttMs !== undefined) h.rttMs = probe.rttMs
      if (ok) delete h.failingSince
      else h.failingSince ??= this.#now()
    }))
    // stop() may have run during the probes.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
    if (this.#stopped) return
    const now = this.#now()
    this.#lastCheckAt = now
    let firstFailure: number | undefined
    for (const a of current) {
      if (this.#retiring.has(a) || pinned(a)) continue
      const since = this.#health.get(a)?.failingSince
      const dead = since !== undefined && now - since >= failAfter
      if (dead || excluded(a)) {
        this.#retiring.set(a, excluded(a) ? now : now + (this.#o.dropAfterMs ?? RELAY_DROP_AFTER_MS))
        const id = peerIdOf(a)
        if (id !== undefined && !excluded(a)) this.#cooldown.set(id, now + (this.#o.cooldownMs ?? RELAY_COOLDOWN_MS))
        if (since !== undefined) firstFailure = Math.min(firstFailure ?? since, since)
        this.#o.logger.info('relay-failing', { listedFor: 'replacement' })
      }
    }
    const kept = [...new Set([...prefs.pinned, ...current.filter((a) => !this.#retiring.has(a))])]
    const target = Math.min(MAX_RELAY_TARGET, Math.max(MIN_RELAY_TARGET, prefs.target))
    const added: string[] = []
    if (kept.length < target) {
      const picks = await this.#discover(net, current, kept, target - kept.length, excluded)
      added.push(...picks.map((p) => p.address))
      for (const a of added) this.#discovered.add(a)
    } else {
      // A list filled while discovery knew only one operator's relays (a young DHT, a slow walk) would otherwise
      // stay on that operator for good: keep looking, and let one of its relays make way for another operator's.
      const victim = this.#sharedOperator(kept, pinned)
      if (victim !== undefined) {
        const rest = kept.filter((a) => a !== victim)
        const ops = new Set(kept.map((a) => this.#operatorOf(a)))
        const [pick] = await this.#discover(net, current, rest, 1, excluded, (c) => c.operator !== '' && !ops.has(c.operator))
        if (pick !== undefined) {
          // Not failing: no cool-down, and it stays listed for the drop grace so contacts get the new card first.
          this.#retiring.set(victim, now + (this.#o.dropAfterMs ?? RELAY_DROP_AFTER_MS))
          kept.splice(kept.indexOf(victim), 1)
          added.push(pick.address)
          this.#discovered.add(pick.address)
          this.#o.logger.info('relay-diversified', { listedFor: 'replacement' })
        }
      }
    }
    // Retiring relays stay listed until their drop time, as room allows.
    const stay = [...this.#retiring].filter(([a, at]) => current.includes(a) && at > this.#now()).map(([a]) => a)
    const next = [...kept, ...added]
    for (const a of stay) if (next.length < MAX_RELAYS) next.push(a)
    for (const [a, at] of [...this.#retiring]) if (at <= this.#now() || !next.includes(a)) this.#retiring.delete(a)
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() may have run during discovery
    if (this.#stopped || same(next, current)) return
    await this.#o.setRelays(next)
    if (firstFailure !== undefined && added.length > 0) this.#lastReplacementMs = this.#now() - firstFailure
    this.#o.logger.info('relays-changed', { added: added.length, dropped: current.filter((a) => !next.includes(a)).length, relays: next.length })
  }

  /** A stated operator, from the last discovery ('' when unknown or not stated). */
  #operatorOf (address: string): string {
    return this.#known.get(peerIdOf(address) ?? '')?.operator ?? ''
  }

  /** A relay we may swap for diversity: not pinned, and its stated operator also runs another kept relay (a
   * discovered one before one the user configured). */
  #sharedOperator (kept: readonly string[], pinned: (a: string) => boolean): string | undefined {
    const shared = kept.filter((a) => !pinned(a) && this.#operatorOf(a) !== '' &&
      kept.some((b) => b !== a && this.#operatorOf(b) === this.#operatorOf(a)))
    return shared.findLast((a) => this.#discovered.has(a)) ?? shared.at(-1)
  }

  async #discover (net: RelayKeeperNet, current: readonly string[], kept: readonly string[], n: number, excluded: (a: string) => boolean,
    accept: (c: RelayChoice) => boolean = () => true): Promise<RelayChoice[]> {
    const bootstrap = [...new Set([...this.#o.bootstrap(), ...this.#o.prefs().bootstrap, ...[...this.#known.values()].flatMap((r) => r.addresses.slice(0, 1))])]
    let found: Discovered
    try {
      found = await net.discoverRelays({ bootstrap })
    } catch (err) {
      this.#o.logger.debug('relay-discovery-failed', { error: err instanceof Error ? err.name : typeof err })
      return []
    }
    for (const [reason, count] of Object.entries(found.rejected) as Array<[RecordRejection, number]>) this.#rejected[reason] = (this.#rejected[reason] ?? 0) + count
    this.#known.clear()
    for (const r of found.relays) this.#known.set(r.peerId, r)
    const now = this.#now()
    const inUse = new Set(current.map((a) => peerIdOf(a)))
    const fresh = found.relays.filter((r) => !inUse.has(r.peerId) && hasService(r, 'circuit') && hasService(r, 'mailbox') &&
      (this.#cooldown.get(r.peerId) ?? 0) <= now && !r.addresses.some(excluded))
    const candidates: RelayChoice[] = []
    for (let i = 0; i < fresh.length; i += PROBE_CONCURRENCY) {
      await Promise.all(fresh.slice(i, i + PROBE_CONCURRENCY).map(async (r) => {
        const p = await net.probeRelay(r.addresses).catch(() => undefined)
        if (p?.address === undefined || !p.mailbox) return
        candidates.push({ address: p.address, peerId: r.peerId, operator: r.operator, rttMs: p.rttMs ?? Number.MAX_SAFE_INTEGER })
      }))
    }
    const keptInfo = kept.map((address) => ({ address, peerId: peerIdOf(address) ?? '', operator: this.#known.get(peerIdOf(address) ?? '')?.operator ?? '' }))
    return selectRelays(keptInfo, candidates.filter(accept), n)
  }
}

function same (a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}
