// libp2p's TCP transport with one socket write per send. Noise hands each frame to the socket as two buffers (its
// 2-byte length and the ciphertext), and @libp2p/tcp writes them one by one: two syscalls, and two wake-ups of the
// receiving process, the first of which finds only the length and can do nothing with it. A message and its
// receipt cross four frames (plus Yamux window updates), so on a busy machine every useless wake-up is a
// scheduler delay on the delivery path (research/perf.md). Joining the buffers of one send into one write puts
// the same bytes on the wire, in the same order, in half the syscalls.
import type { MultiaddrConnection, Transport, Upgrader } from '@libp2p/interface'
import { tcp, type TCPOptions } from '@libp2p/tcp'

/** What @libp2p/tcp's connection takes from a stream: libp2p's own Uint8ArrayList (a separate copy of that class). */
interface Chunks extends Iterable<Uint8Array> {
  readonly bufs: Uint8Array[]
  subarray: () => Uint8Array
}
type SendData = (data: Chunks) => unknown

/** Gives the connection's sendData one buffer per call: libp2p's list class, built from the list it was given. */
function writeOnce (maConn: MultiaddrConnection): void {
  const target = maConn as unknown as { sendData?: SendData }
  const send = target.sendData
  if (typeof send !== 'function') return
  target.sendData = function (this: unknown, data: Chunks) {
    if (data.bufs.length <= 1) return send.call(this, data)
    const List = data.constructor as new (buf: Uint8Array) => Chunks
    return send.call(this, new List(data.subarray()))
  }
}

/** The upgrader as it is, but each connection it upgrades writes once per send. */
function writingOnce (upgrader: Upgrader): Upgrader {
  return new Proxy(upgrader, {
    get (target, prop) {
      if (prop === 'upgradeOutbound' || prop === 'upgradeInbound') {
        const fn = (prop === 'upgradeOutbound' ? target.upgradeOutbound.bind(target) : target.upgradeInbound.bind(target)) as
          (maConn: MultiaddrConnection, opts: unknown) => Promise<unknown>
        return async (maConn: MultiaddrConnection, opts: unknown) => {
          writeOnce(maConn)
          return await fn(maConn, opts)
        }
      }
      const v: unknown = Reflect.get(target, prop, target)
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
    }
  })
}

/** `tcp()` whose connections write each send in one syscall; everything else is @libp2p/tcp's. */
export function tcpWritingOnce (init?: TCPOptions): (components: Parameters<ReturnType<typeof tcp>>[0]) => Transport {
  const factory = tcp(init)
  return (components) => {
    const t = factory(components)
    const dial = t.dial.bind(t)
    const createListener = t.createListener.bind(t)
    t.dial = async (ma, options) => await dial(ma, { ...options, upgrader: writingOnce(options.upgrader) })
    t.createListener = (options) => createListener({ ...options, upgrader: writingOnce(options.upgrader) })
    return t
  }
}
