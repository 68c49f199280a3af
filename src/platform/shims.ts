// Node 20 lacks two globals that libp2p 3.x uses: Promise.withResolvers (it-queue via mortice) and
// WebSocket (@libp2p/websockets dials with the global). Import this module before anything else.
import { WebSocket as WsWebSocket } from 'ws'

interface Resolvers<T> {
  promise: Promise<T>
  resolve: (value: T | PromiseLike<T>) => void
  reject: (reason?: unknown) => void
}

const PromiseCtor = Promise as unknown as { withResolvers?: <T>() => Resolvers<T> }
if (typeof PromiseCtor.withResolvers !== 'function') {
  PromiseCtor.withResolvers = function withResolvers<T> (): Resolvers<T> {
    let resolve!: Resolvers<T>['resolve']
    let reject!: Resolvers<T>['reject']
    const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}

const g = globalThis as { WebSocket?: unknown }
if (g.WebSocket === undefined) {
  g.WebSocket = WsWebSocket
}
