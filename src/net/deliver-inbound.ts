// The receiving end of /0m1/deliver/2.1.0 and 2.0.0: reads envelope frames only while fewer than DELIVER_WINDOW are unacked,
// runs the handler for all of them concurrently, and acks each as its handler resolves, the acks ready together
// going out in one frame, in the same connection write as what else this turn sends. On a 2.1.0 stream the handler
// may answer that the envelope counts as delivered, and its ack then says so (the delivered receipt).
import type { Connection, Stream } from '@libp2p/interface'
import { CodedError } from '../platform/coded-error.ts'
import type { Logger } from '../platform/logger.ts'
import type { DeliverPath, EnvelopeHandler } from './deliver.ts'
import { NetError, atStream } from './errors.ts'
import { FrameReader, lengthPrefixed } from './frame-reader.ts'
import { pathOf } from './path.ts'
import {
  acksCarryReceipts, decodeDeliverFrame, DELIVER_WINDOW, encodeDeliverFrame, MAX_ACKS_PER_FRAME, MAX_DELIVER_FRAME_BYTES, STREAM_ACK_ID,
  type DeliverAck, type DeliverStatus
} from '../wire/deliver.ts'

/**
 * Bytes one stream may leave unread here: a window of the largest frames with their prefixes. A sender that keeps
 * to its window never has more on the way, so more is a broken sender and the stream is refused.
 */
export const INBOUND_BUFFER_BYTES = DELIVER_WINDOW * (MAX_DELIVER_FRAME_BYTES + 3)

/**
 * Envelopes in handlers at once across all inbound deliver streams of a node. One stream holds at most a window,
 * but a node takes DELIVER_MAX_INBOUND_STREAMS streams on each of hundreds of connections: without a node-wide
 * bound, peers that dial in together could make it open and store thousands of envelopes at once (300
 * connections x 4 streams x 32 x 64 KiB is 2.4 GB). 256 envelopes is 16 MiB at most and far more than one
 * batch commit takes, so a busy node loses no throughput; a stream that finds the budget spent is paused
 * (yamux stops granting its sender credit) until handlers finish.
 */
export const NODE_INBOUND_ENVELOPES = 256

/** The node-wide count of envelopes in handlers (NODE_INBOUND_ENVELOPES), and the streams waiting for room. */
export class InboundBudget {
  #free: number
  readonly #waiting = new Set<() => void>()

  constructor (readonly size = NODE_INBOUND_ENVELOPES) {
    this.#free = size
  }

  get inUse (): number {
    return this.size - this.#free
  }

  take (): boolean {
    if (this.#free === 0) return false
    this.#free--
    return true
  }

  give (n: number): void {
    if (n <= 0) return
    this.#free = Math.min(this.size, this.#free + n)
    const waiting = [...this.#waiting]
    this.#waiting.clear()
    for (const wake of waiting) wake()
  }

  /** `wake` runs once, the next time room is given back (until `forget`). */
  wait (wake: () => void): void {
    this.#waiting.add(wake)
  }

  forget (wake: () => void): void {
    this.#waiting.delete(wake)
  }
}

/** The receiving side. `getHandler` returns the current handler (onEnvelope may be called after start). */
export function deliverHandler (getHandler: () => EnvelopeHandler | undefined, logger: Logger, budget = new InboundBudget()) {
  return (stream: Stream, connection: Connection): void => {
    serveInbound(stream, pathOf(connection.remoteAddr), acksCarryReceipts(stream.protocol), connection.remotePeer.toString(), getHandler, logger, budget)
  }
}

function serveInbound (stream: Stream, path: DeliverPath, ackReceipt: boolean, remotePeer: string, getHandler: () => EnvelopeHandler | undefined, logger: Logger, budget: InboundBudget): void {
  const reader = new FrameReader(MAX_DELIVER_FRAME_BYTES)
  /** Frames read whose ack is not yet written: the receiver's side of the window. */
  let inFlight = 0
  let ready: DeliverAck[] = []
  let flushQueued = false
  let paused = false
  /** The stream was refused: nothing more is read, acks still owed are sent, then it closes. */
  let refused = false
  let remoteDone = false
  let closing = false

  // libp2p's own bound on what a paused stream keeps, the same as ours.
  stream.maxReadBufferLength = INBOUND_BUFFER_BYTES

  const closeWhenDone = (): void => {
    if (closing || inFlight > 0 || ready.length > 0 || !(refused || remoteDone)) return
    closing = true
    stream.close().catch((err: unknown) => { stream.abort(err instanceof Error ? err : new Error('close failed')) })
  }

  const flush = (): void => {
    flushQueued = false
    const acks = ready
    ready = []
    const frames: Uint8Array[] = []
    for (let i = 0; i < acks.length; i += MAX_ACKS_PER_FRAME) frames.push(encodeDeliverFrame({ type: 'acks', acks: acks.slice(i, i + MAX_ACKS_PER_FRAME) }))
    try {
      stream.send(lengthPrefixed(frames))
    } catch (err) {
      // The stream is gone: the sender fails these envelopes with it and sends them again by another path.
      logger.debug('deliver-stream-error', { code: (err as Error).name })
    }
    const done = acks.filter((a) => a.id !== STREAM_ACK_ID).length
    inFlight -= done
    budget.give(done)
    pump()
  }

  const ack = (id: number, status: DeliverStatus): void => {
    ready.push({ id, status })
    if (!flushQueued) {
      flushQueued = true
      // After this turn's microtasks, not on the next turn: acks of handlers that resolve together (one batch
      // commit) share a frame, and the frame joins what the messenger sent in that same turn (the receipts the
      // commit sealed) in the connection's one write of the turn (src/net/muxer-writes.ts). On the next turn it
      // was a second write here and a second wake-up, read and decryption on the sender, per message.
      queueMicrotask(flush)
    }
  }

  const refuse = (err: unknown): void => {
    const tooLarge = NetError.is(err, 'TOO_LARGE')
    logger.info('deliver-refused', { reason: NetError.is(err) ? err.code : 'bad-frame' })
    refused = true
    reader.clear()
    ack(STREAM_ACK_ID, tooLarge ? 'too-large' : 'bad-frame')
  }

  const run = (id: number, envelope: Uint8Array): void => {
    const h = getHandler()
    if (h === undefined) { ack(id, 'rejected'); return }
    const rejected = (err: unknown): void => {
      logger.info('deliver-handler-rejected', { code: CodedError.is(err) ? err.code : err instanceof Error ? err.name : typeof err })
      ack(id, 'rejected')
    }
    let p: Promise<boolean>
    try {
      p = h(envelope, { path, ackReceipt, remotePeer })
    } catch (err) {
      rejected(err)
      return
    }
    p.then((delivered) => {
      logger.debug('deliver-received', { path, size: envelope.length })
      // Only where the sender asked for 2.1.0: a 2.0.0 sender would refuse the status (and its handler was told so).
      ack(id, delivered && ackReceipt ? 'delivered' : 'accepted')
    }, rejected)
  }

  /** The node's budget was spent when this stream had frames to read: it waits for room. */
  let starved = false
  const pump = (): void => {
    starved = false
    budget.forget(pump)
    while (!refused && inFlight < DELIVER_WINDOW) {
      if (reader.buffered === 0) break
      if (!budget.take()) {
        starved = true
        budget.wait(pump)
        break
      }
      let raw: Uint8Array | undefined
      let f
      try {
        raw = reader.next()
        if (raw === undefined) { budget.give(1); break }
        const bytes = raw
        f = atStream(() => decodeDeliverFrame(bytes))
        if (f.type !== 'deliver') throw new NetError('BAD_FRAME', 'Expected a deliver frame.')
      } catch (err) {
        budget.give(1)
        refuse(err)
        break
      }
      inFlight++
      run(f.id, f.envelope)
    }
    if (!refused && reader.buffered > INBOUND_BUFFER_BYTES) refuse(new NetError('BAD_FRAME', 'The sender went over its window.'))
    // Backpressure: with a full window nothing more is read, and yamux stops granting the sender credit.
    try {
      const full = inFlight >= DELIVER_WINDOW || starved
      if (!paused && full) { stream.pause(); paused = true } else if (paused && !full) { paused = false; stream.resume() }
    } catch {
      // pause()/resume() throw once the stream is closing: nothing is read any more either way.
    }
    closeWhenDone()
  }

  stream.addEventListener('message', (e) => {
    if (refused) return
    reader.push(e.data)
    pump()
  })
  stream.addEventListener('remoteCloseWrite', () => { remoteDone = true; closeWhenDone() })
  stream.addEventListener('close', () => { budget.forget(pump) })
}
