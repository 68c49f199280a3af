// A libp2p service that keeps a circuit-relay reservation on every configured relay: libp2p makes
// the first one at start but never comes back to a configured relay that was down or went away, so
// this service listens on it again, with backoff, until a reservation shows in our addresses.
import type { Startable } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../platform/logger.ts'
import { silentLogger } from '../platform/logger.ts'

/** First retry of a lost relay reservation; doubles up to the maximum while the relay stays unreachable. */
export const RESERVATION_RETRY_MIN_MS = 2_000
export const RESERVATION_RETRY_MAX_MS = 60_000
/** How often the relays are looked at; a retry waits for its own backoff on top. */
const CHECK_INTERVAL_MS = 1_000

/** What the service needs of the node (the libp2p components of those names). */
export interface ReservationKeeperComponents {
  readonly transportManager: { listen: (addrs: Multiaddr[]) => Promise<void> }
  readonly addressManager: { getAddresses: () => Multiaddr[] }
}

export interface ReservationKeeperInit {
  /** Relay multiaddrs ending in /p2p/<relay peer id>. */
  readonly relays: readonly string[]
  readonly logger?: Logger | undefined
  readonly now?: (() => number) | undefined
}

interface RelayState { readonly peerId: string, next: number, delay: number, busy: boolean }

export class ReservationKeeper implements Startable {
  readonly #components: ReservationKeeperComponents
  readonly #logger: Logger
  readonly #now: () => number
  readonly #relays = new Map<string, RelayState>()
  #timer: ReturnType<typeof setInterval> | undefined

  constructor (components: ReservationKeeperComponents, init: ReservationKeeperInit) {
    this.#components = components
    this.#logger = init.logger ?? silentLogger
    this.#now = init.now ?? Date.now
    for (const r of init.relays) {
      const peerId = multiaddr(r).getComponents().findLast((c) => c.name === 'p2p')?.value
      if (peerId === undefined) throw new RangeError('relays[] must be multiaddrs ending in /p2p/<relay peer id>')
      this.#relays.set(r, { peerId, next: 0, delay: RESERVATION_RETRY_MIN_MS, busy: false })
    }
  }

  readonly [Symbol.toStringTag] = '0m1/reservation-keeper'

  start (): void {
    // The initial listen (at libp2p start) already tried every relay once.
    for (const st of this.#relays.values()) st.next = this.#now() + RESERVATION_RETRY_MIN_MS
    this.#timer = setInterval(() => { this.#tick() }, CHECK_INTERVAL_MS)
    this.#timer.unref()
  }

  stop (): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** True when our addresses include a circuit address through this relay. */
  hasReservation (relayPeerId: string): boolean {
    return this.#components.addressManager.getAddresses().some((ma) => ma.toString().includes(`/p2p/${relayPeerId}/p2p-circuit`))
  }

  /** True while a reservation on this relay (by its configured address) is being made. */
  connecting (relayAddr: string): boolean {
    return this.#relays.get(relayAddr)?.busy === true
  }

  #tick (): void {
    const now = this.#now()
    for (const [addr, st] of this.#relays) {
      if (st.busy) continue
      if (this.hasReservation(st.peerId)) { st.delay = RESERVATION_RETRY_MIN_MS; st.next = 0; continue }
      if (now < st.next) continue
      st.busy = true
      this.#components.transportManager.listen([multiaddr(`${addr}/p2p-circuit`)])
        .catch(() => { /* judged below by whether a reservation appeared */ })
        .finally(() => {
          st.busy = false
          if (this.#timer === undefined || this.hasReservation(st.peerId)) return
          st.next = this.#now() + st.delay
          st.delay = Math.min(st.delay * 2, RESERVATION_RETRY_MAX_MS)
          this.#logger.debug('relay-reservation-retry', { inMs: st.delay })
        })
    }
  }
}

/** The service factory, js-libp2p style: `services: { reservations: reservationKeeper({ relays }) }`. */
export function reservationKeeper (init: ReservationKeeperInit): (components: ReservationKeeperComponents) => ReservationKeeper {
  return (components) => new ReservationKeeper(components, init)
}
