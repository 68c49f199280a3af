// @libp2p/yamux with go-yamux's window-update rule. @libp2p/yamux 8.0.3 answers every data frame it receives with a
// WINDOW_UPDATE frame (YamuxStream.handleData -> sendWindowUpdate, which sends whenever any of the receive window is
// used). On a long-lived stream carrying small frames (a deliver stream: one envelope or one receipt batch per
// frame) that is one more frame per message each way: a Noise encryption, a socket write and a wake-up of the
// peer, which then decrypts, decodes and applies it (issue 10's throughput profile). go-yamux and rust-yamux send
// an update only once at least half of the receive window has been consumed; the sender still has the other half
// to keep sending while the update travels, so a stream never waits on it.
//
// What changes is only *when* an update is sent, never how much: when one is sent, @libp2p/yamux's own
// sendWindowUpdate runs unchanged (the same delta, SYN/ACK flags and pause handling). Window auto-tuning runs inside
// that method, so with fewer updates the window grows more slowly: a review measured 4-8 MiB after 8 MiB sent
// against 16 MiB with every update, and no clear change in transfer time (less memory held per stream). Frames
// with flags (a stream's opening SYN or ACK) and a paused stream go to it at once, as before.
//
// There is no option for this in @libp2p/yamux, and its muxer builds YamuxStream itself, so the rule is set on each
// stream the muxer creates, for our own nodes only (never on the library's prototype, which other libp2p nodes in
// the same process share). The fields and methods it relies on are checked when this module loads and on every
// stream it adjusts: a later @libp2p/yamux that renames them makes stream creation throw (and every connection
// test fail) instead of silently falling back to an update per frame. test/net/yamux-window.test.ts counts the frames on a real
// connection and runs a large transfer to a slow, pausing reader.
import { yamux, type YamuxMuxerInit } from '@libp2p/yamux'
import { StreamState, YamuxStream } from '@libp2p/yamux/stream'
import type { StreamMuxerFactory } from '@libp2p/interface'
import { YamuxShapeError } from './yamux-shape.ts'
import { coalesceWrites } from './muxer-writes.ts'

/** An update is sent once this fraction of the receive window is used (go-yamux, rust-yamux: half). Less would
 * send more frames; more would let the sender's window run dry before the update arrives. */
export const WINDOW_UPDATE_FRACTION = 0.5

/** The parts of a @libp2p/yamux 8 stream the rule reads (private in its types, plain fields at run time). */
interface StreamWindow {
  state: StreamState
  recvWindow: number
  recvWindowCapacity: number
  sendWindowUpdate: () => void
}

/** The muxer's private stream constructor (YamuxMuxer._newStream in 8.0.3), wrapped per muxer. */
interface MuxerInternals {
  _newStream?: (this: unknown, ...args: unknown[]) => unknown
}

const stockUpdate = YamuxStream.prototype.sendWindowUpdate // eslint-disable-line @typescript-eslint/unbound-method

/** True when an update may wait: the stream is open for data, sends no flag, and less than the fraction is used. */
function canWait (s: StreamWindow): boolean {
  return s.state === StreamState.Established && s.recvWindow - s.recvWindowCapacity < s.recvWindow * WINDOW_UPDATE_FRACTION
}

function thresholdUpdate (this: StreamWindow): void {
  if (canWait(this)) return
  stockUpdate.call(this as unknown as YamuxStream)
}

function checkStream (s: unknown): StreamWindow {
  const w = s as Partial<StreamWindow>
  for (const field of ['state', 'recvWindow', 'recvWindowCapacity'] as const) {
    if (typeof w[field] !== 'number') throw new YamuxShapeError(`YamuxStream has no numeric ${field}`)
  }
  if (w.sendWindowUpdate !== stockUpdate) throw new YamuxShapeError('YamuxStream.sendWindowUpdate is not the prototype method')
  return s as StreamWindow
}

function hookMuxer (muxer: unknown): void {
  const m = muxer as MuxerInternals
  const newStream = m._newStream
  if (typeof newStream !== 'function') throw new YamuxShapeError('YamuxMuxer has no _newStream')
  m._newStream = function (this: unknown, ...args: unknown[]) {
    const s = checkStream(newStream.apply(this, args))
    s.sendWindowUpdate = thresholdUpdate
    return s
  }
}

if (typeof stockUpdate !== 'function' || typeof (YamuxStream.prototype as { handleData?: unknown }).handleData !== 'function') {
  throw new YamuxShapeError('YamuxStream has no sendWindowUpdate/handleData')
}

/** `yamux(init)` whose streams send a window update only once half the receive window is used, and whose frames
 * of one turn of the event loop leave in one write (src/net/muxer-writes.ts) unless `coalesce` is false (a relay:
 * see RELAY_COALESCES_WRITES in src/net/libp2p.ts). */
export function yamuxHalfWindow (init?: YamuxMuxerInit, o: { coalesce?: boolean } = {}): () => StreamMuxerFactory {
  const factory = yamux(init)
  return () => {
    const f = factory()
    const create = f.createStreamMuxer.bind(f)
    f.createStreamMuxer = (maConn) => {
      const muxer = create(maConn)
      hookMuxer(muxer)
      if (o.coalesce !== false) coalesceWrites(muxer)
      return muxer
    }
    return f
  }
}
