// @libp2p/webrtc, loaded on first use. Its native half (node-datachannel: libdatachannel, libjuice, OpenSSL)
// costs a device ~19 MB of resident memory the moment it is imported, yet most of a device's life needs no
// WebRTC at all: only a contact that is online behind a NAT does (src/net/holepunch.ts). So the transport the
// node is built with is this stand-in: it listens (announcing `<circuit>/webrtc` like the real listener) and
// answers the signalling protocol itself, and imports the real transport at the first dial or the first
// signalling stream, then hands it the call. A stream that arrives while the import runs loses nothing:
// libp2p streams buffer what they read until a reader attaches.
import {
  serviceCapabilities, serviceDependencies, transportSymbol, TypedEventEmitter,
  type Connection, type CreateListenerOptions, type DialTransportOptions, type Listener, type ListenerEvents,
  type Startable, type StreamHandler, type Transport
} from '@libp2p/interface'
import type { WebRTCTransportComponents, WebRTCTransportInit } from '@libp2p/webrtc'
import { CODE_P2P_CIRCUIT, type Multiaddr } from '@multiformats/multiaddr'
import { P2P, WebRTC } from '@multiformats/multiaddr-matcher'
import { code, fmt } from '@multiformats/multiaddr-matcher/utils'

/** @libp2p/webrtc's signalling protocol: a peer that lists it (identify) accepts WebRTC dials. */
export const WEBRTC_SIGNALING_PROTOCOL = '/webrtc-signaling/0.0.1'

/** `<relay address>/p2p/<relay>/p2p-circuit`: a reservation, under which WebRTC is announced. */
const CIRCUIT = fmt(P2P.matchers[0] as Parameters<typeof fmt>[0], code(CODE_P2P_CIRCUIT))

interface Loaded {
  readonly transport: Transport & Startable
  /** The real transport's signalling handler (it registers it at start; we keep it instead). */
  readonly handler: StreamHandler
  /** The real transport's listener: closing it aborts the transport's shutdown signal (its WebRTC connections). */
  readonly listener: Listener
}

/** What the stand-in asks of the node: the components @libp2p/webrtc takes. */
export type LazyWebRTCComponents = WebRTCTransportComponents

/** Wraps what happens before the real transport sees a stream or a dial (webrtc-guard.ts: who may, how many). */
export interface LazyWebRTCHooks {
  /** Returns the handler to register for the signalling protocol, given the one that forwards to the real transport. */
  readonly wrapHandler: (handler: StreamHandler) => StreamHandler
  /** Stream limit of the signalling protocol per connection. */
  readonly maxInboundStreams: number
  /** Runs `dial` (the real transport's) for `ma`, or refuses. */
  readonly wrapDial: (ma: Multiaddr, dial: () => Promise<Connection>) => Promise<Connection>
}

/** Started transports in this process that have loaded the real one. node-datachannel's native threads and handles
 * hold the event loop open once loaded, even with every peer connection closed (a test run or a CLI that stopped its
 * device never exited); its cleanup() releases them, but for the whole process, so only once the last such transport
 * has stopped (several devices share one process in tests). */
let nativeUsers = 0

async function releaseNative (): Promise<void> {
  if (nativeUsers > 0) return
  // Best effort: a stop must finish (libp2p stops its components together, and one that throws leaves the node
  // half-stopped); at worst the process stays open until it exits, as before this release existed.
  try {
    const { cleanup } = await import('node-datachannel')
    if (nativeUsers === 0) cleanup()
  } catch {
    // Not released: the process exits when its owner ends it.
  }
}

export class LazyWebRTC implements Transport, Startable {
  readonly [transportSymbol] = true
  readonly [Symbol.toStringTag] = '@libp2p/webrtc'
  readonly [serviceCapabilities]: string[] = ['@libp2p/transport']
  readonly [serviceDependencies]: string[] = ['@libp2p/identify', '@libp2p/circuit-relay-v2-transport']
  /** The init the real transport gets (tests read its rtcConfiguration, as they would the real one's). */
  readonly init: WebRTCTransportInit
  readonly #components: LazyWebRTCComponents
  readonly #hooks: LazyWebRTCHooks
  #loaded: Promise<Loaded> | undefined
  #started = false
  #shutDown = false

  constructor (components: LazyWebRTCComponents, init: WebRTCTransportInit, hooks: LazyWebRTCHooks) {
    this.#components = components
    this.init = init
    this.#hooks = hooks
  }

  /** True once the real transport has been imported (tests, status). */
  get loaded (): boolean { return this.#loaded !== undefined }

  isStarted (): boolean { return this.#started }

  async start (): Promise<void> {
    const forward: StreamHandler = async (stream, connection) => {
      const real = await this.#load()
      await real.handler(stream, connection)
    }
    await this.#components.registrar.handle(WEBRTC_SIGNALING_PROTOCOL, this.#hooks.wrapHandler(forward), {
      runOnLimitedConnection: true,
      maxInboundStreams: this.#hooks.maxInboundStreams
    })
    this.#started = true
    if (this.#loaded !== undefined) this.#loaded.then(() => { if (this.#started && !this.#countedNative) { this.#countedNative = true; nativeUsers++ } }, () => {})
  }

  async stop (): Promise<void> {
    this.#started = false
    await this.#components.registrar.unhandle(WEBRTC_SIGNALING_PROTOCOL)
    await this.#shutdown()
    const real = await this.#loaded?.catch(() => undefined)
    await real?.transport.stop()
    if (real !== undefined && this.#countedNative) {
      this.#countedNative = false
      nativeUsers--
      await releaseNative()
    }
  }

  #countedNative = false

  createListener (_options: CreateListenerOptions): Listener {
    return new CircuitWebRTCListener(this.#components, async () => { await this.#shutdown() })
  }

  /** Closes the real listener once, which aborts the real transport's shutdown signal: its WebRTC connections close. */
  async #shutdown (): Promise<void> {
    if (this.#shutDown || this.#loaded === undefined) return
    this.#shutDown = true
    const real = await this.#loaded.catch(() => undefined)
    await real?.listener.close()
  }

  listenFilter (multiaddrs: Multiaddr[]): Multiaddr[] {
    return multiaddrs.filter((ma) => WebRTC.exactMatch(ma))
  }

  dialFilter (multiaddrs: Multiaddr[]): Multiaddr[] {
    return this.listenFilter(multiaddrs)
  }

  async dial (ma: Multiaddr, options: DialTransportOptions): Promise<Connection> {
    return await this.#hooks.wrapDial(ma, async () => {
      const real = await this.#load()
      options.signal.throwIfAborted()
      return await real.transport.dial(ma, options)
    })
  }

  #load (): Promise<Loaded> {
    if (!this.#started) return Promise.reject(new Error('the WebRTC transport is stopped'))
    if (this.#loaded === undefined) {
      const p = this.#import()
      this.#loaded = p
      // A failed import (a missing native binding, a transient error) is not kept: the stand-in still announces
      // /webrtc, so the next dial or inbound signal tries again instead of failing for the process's life.
      p.catch(() => { if (this.#loaded === p) this.#loaded = undefined })
      p.then(() => { if (!this.#countedNative) { this.#countedNative = true; nativeUsers++ } }, () => {})
    }
    return this.#loaded
  }

  async #import (): Promise<Loaded> {
    const { webRTC } = await import('@libp2p/webrtc')
    const c = this.#components
    let handler: StreamHandler | undefined
    // The real transport registers its signalling handler at start: keep it rather than register it (ours,
    // guarded, is already registered), and let it unregister nothing.
    const registrar = new Proxy(c.registrar, {
      get (target, prop) {
        if (prop === 'handle') {
          return async (protocol: string, h: StreamHandler, o?: Parameters<typeof target.handle>[2]): Promise<void> => {
            if (protocol === WEBRTC_SIGNALING_PROTOCOL) handler = h
            else await target.handle(protocol, h, o)
          }
        }
        if (prop === 'unhandle') {
          return async (protocol: string, o?: Parameters<typeof target.unhandle>[1]): Promise<void> => {
            if (protocol !== WEBRTC_SIGNALING_PROTOCOL) await target.unhandle(protocol, o)
          }
        }
        const v: unknown = Reflect.get(target, prop)
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
      }
    })
    // libp2p's components object resolves each member lazily (and throws for one not configured): delegate.
    const components = new Proxy(c, { get: (target, prop) => prop === 'registrar' ? registrar : Reflect.get(target, prop) as unknown })
    const transport = webRTC(this.init)(components) as Transport & Startable
    await transport.start()
    if (handler === undefined) throw new Error('@libp2p/webrtc registered no signalling handler')
    const listener = transport.createListener({ upgrader: c.upgrader })
    return { transport, handler, listener }
  }
}

/** What @libp2p/webrtc's listener does, without importing it: announces `/webrtc` under every reservation. */
class CircuitWebRTCListener extends TypedEventEmitter<ListenerEvents> implements Listener {
  readonly #components: LazyWebRTCComponents
  readonly #onClose: () => Promise<void>

  constructor (components: LazyWebRTCComponents, onClose: () => Promise<void>) {
    super()
    this.#components = components
    this.#onClose = onClose
  }

  readonly #onTransportListening = (event: CustomEvent<Listener>): void => {
    if (event.detail.getAddrs().some((ma) => CIRCUIT.exactMatch(ma))) this.safeDispatchEvent('listening')
  }

  async listen (): Promise<void> {
    this.#components.events.addEventListener('transport:listening', this.#onTransportListening)
  }

  getAddrs (): Multiaddr[] {
    return this.#components.transportManager.getListeners()
      .filter((l) => !(l instanceof CircuitWebRTCListener))
      .flatMap((l) => l.getAddrs().filter((ma) => CIRCUIT.exactMatch(ma)).map((ma) => ma.encapsulate('/webrtc')))
  }

  updateAnnounceAddrs (): void {}

  async close (): Promise<void> {
    this.#components.events.removeEventListener('transport:listening', this.#onTransportListening)
    await this.#onClose()
    queueMicrotask(() => { this.safeDispatchEvent('close') })
  }
}
