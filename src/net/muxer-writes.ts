// Yamux frames sent on the same turn of the event loop leave as one write to the encrypted connection. @libp2p/yamux
// hands every frame to Noise on its own: each is one ChaCha20-Poly1305 encryption, one socket write, and on the
// other end one wake-up, one read and one decryption. A busy messenger sends several envelopes (and receipt
// frames, and window updates) from one turn of the event loop, each a frame of a few hundred bytes, so this is a
// fixed cost per message on both devices (issue 10's throughput profile). Collected until the turn's microtasks
// and ticks have run (setImmediate) and written together, they cost one encryption of up to 64 KiB and one write.
//
// The bytes on the wire are the same frames in the same order (Noise cuts its own messages at 65,535 bytes).
// Backpressure is kept: the muxer's answer to its streams is the connection's own state (writableNeedsDrain, which
// Noise clears before it passes 'drain' on: a flag of ours cleared by a later 'drain' listener would still say
// "full" to a stream that sends from its own 'drain' handler, and that stream would wait for a drain that never
// comes), and the frames of one turn are bounded by what the streams may send, as before. On close
// and abort the frames the muxer produced on the way out (FIN, RST, GoAway) are written at once, before libp2p
// closes the connection under them.
import type { MessageStream } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { YamuxShapeError } from './yamux-shape.ts'

type Chunk = Uint8Array | Uint8ArrayList

/**
 * The connections holding frames for their end-of-turn flush, each by its flush. A turn is not always short: a
 * messenger batch (the ratchet steps of 32 envelopes and their commit, 15-40 ms) runs as one chain of promise
 * continuations and libsignal call-backs, and the event loop reaches setImmediate only after it. Frames queued just
 * before such a batch (envelopes the acks just let out) left after it, while the peer, with nothing in its window,
 * waited idle (issue 10: the throughput run alternated, each device idle while the other worked). flushWrites()
 * lets work that is about to hold the CPU send them first.
 */
const holding = new Set<() => void>()

/** Writes now what every connection holds for its end-of-turn flush (cheap when none holds anything). */
export function flushWrites (): void {
  if (holding.size === 0) return
  for (const flush of [...holding]) flush()
}

/** How many connections hold frames for their end-of-turn flush. */
export function heldWrites (): number {
  return holding.size
}

/** The AbstractStreamMuxer (@libp2p/utils 7) members this relies on. */
interface Muxer {
  send: (data: Chunk) => boolean
  close: (options?: unknown) => Promise<void>
  abort: (err: Error) => void
  maConn: MessageStream
}

export function coalesceWrites (muxer: unknown): void {
  const m = muxer as Partial<Muxer>
  const { send, close, abort, maConn } = m
  if (typeof send !== 'function' || typeof close !== 'function' || typeof abort !== 'function' || maConn === undefined) {
    throw new YamuxShapeError('the muxer has no send/close/abort/maConn')
  }
  let pending: Chunk[] = []
  let scheduled = false
  if (typeof maConn.writableNeedsDrain !== 'boolean') throw new YamuxShapeError('the connection has no writableNeedsDrain')
  // Writes what is held; the turn's scheduled flush (if any) stays scheduled and takes what comes after.
  const flush = (): void => {
    holding.delete(flush)
    if (pending.length === 0) return
    const frames = pending
    pending = []
    // A connection that closed meanwhile takes nothing; its streams are being torn down by libp2p.
    if (maConn.status !== 'open') return
    const data = frames.length === 1 ? frames[0] as Chunk : new Uint8ArrayList(...frames)
    try {
      send.call(muxer, data)
    } catch (err) {
      // No stream's send is on the stack to take this (as it would be without the deferral): end the connection
      // the way the muxer does when its input fails.
      const e = err instanceof Error ? err : new Error(String(err))
      abort.call(muxer, e)
      maConn.abort(e)
    }
  }
  const onTurnEnd = (): void => {
    scheduled = false
    flush()
  }
  m.send = (data: Chunk): boolean => {
    pending.push(data)
    holding.add(flush)
    if (!scheduled) { scheduled = true; setImmediate(onTurnEnd) }
    return !maConn.writableNeedsDrain
  }
  m.close = async (options?: unknown): Promise<void> => {
    try { await close.call(muxer, options) } finally { flush() }
  }
  m.abort = (err: Error): void => {
    try { abort.call(muxer, err) } finally { flush() }
  }
}
