// @libp2p/ping (3.1.13) whose answering side lets go of each ping stream when it ends. The stock handler times each
// inbound ping with AbortSignal.timeout(10 s) and adds an 'abort' listener holding the stream that it never removes;
// Node keeps a timeout signal that has listeners alive until it fires, so every answered ping keeps its finished
// stream (Yamux buffers, event listeners: ~3 KB of heap) for the full 10 s. libp2p's connection monitor pings every
// connection every 10 s, so a relay held about one dead ping stream per connected device at all times (heap
// snapshots of the relay of bench relay.memory: 3.1 KB per reserved device retained only by timeout signals, issue 10).
//
// The answer here is the stock one (echo what arrives until the remote closes, then close; aborted after the same
// timeout) with a timer cleared when the stream ends. Outbound pings are the library's own. The handler is set on
// each service instance before it starts (it registers `handlePing` at start), for our nodes only; a later
// @libp2p/ping without the members read here fails at node creation (PingShapeError) instead of answering the old way.
import { TimeoutError, type Stream } from '@libp2p/interface'
import { ping, type PingInit } from '@libp2p/ping'

/** Thrown when @libp2p/ping no longer has the members this module sets. */
export class PingShapeError extends Error {
  constructor (what: string) {
    super(`@libp2p/ping changed shape (${what}): check src/net/ping-answers.ts against the new version`)
    this.name = 'PingShapeError'
  }
}

/** Echoes an inbound ping stream until the remote closes it, then closes it; aborted after `timeoutMs`. */
export async function answerPing (stream: Stream, timeoutMs: number): Promise<void> {
  const timer = setTimeout(() => { stream.abort(new TimeoutError('Ping timed out')) }, timeoutMs)
  try {
    for await (const buf of stream) {
      if (stream.status !== 'open') break
      if (!stream.send(buf)) await stream.onDrain()
    }
    await stream.close()
  } finally {
    clearTimeout(timer)
  }
}

/** The stock service's instance members this module reads and sets (plain fields at run time in 3.1.13). */
interface PingInternals { handlePing?: unknown, timeout?: unknown }

/** `ping(init)` whose inbound pings are answered by answerPing. */
export function pingAnswering (init?: PingInit): ReturnType<typeof ping> {
  const factory = ping(init)
  return (components) => {
    const service = factory(components)
    const s = service as unknown as PingInternals
    if (typeof s.handlePing !== 'function') throw new PingShapeError('no handlePing')
    const timeoutMs = s.timeout
    if (typeof timeoutMs !== 'number') throw new PingShapeError('no timeout')
    s.handlePing = async (stream: Stream): Promise<void> => { await answerPing(stream, timeoutMs) }
    return service
  }
}
