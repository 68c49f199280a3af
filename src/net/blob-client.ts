// Client side of /0m1/blob/1.0.0 (a relay's blob store) and /0m1/file/1.x (the same frames straight to a contact):
// one stream, requests pipelined and answered in order. A put is confirmed once the store says the chunk is durable:
// its answer on the blob protocol and file 1.0.0/1.1.0; on file 1.2.0 a 'durable' frame, the answer ('received')
// only freeing the window.
import type { Stream } from '@libp2p/interface'
import { NetError, atStream } from './errors.ts'
import { FrameStream } from './frame-stream.ts'
import {
  decodeBlobServerFrame, encodeBlobClientFrame, encodeBlobPutParts, MAX_BLOB_FRAME_BYTES, MAX_BLOB_PUTS_IN_FLIGHT,
  type BlobClientFrame, type BlobServerFrame
} from '../wire/blob.ts'

/** One answer from a relay or a contact on a LAN or the internet: a chunk is 64 KiB, a commit one fsync. */
export const BLOB_REQUEST_DEADLINE_MS = 20_000
/** How often a channel with requests waiting checks their deadlines (a deadline may pass by up to this much). One
 * timer per channel: an AbortSignal.timeout per chunk (a timer, a signal and a weak reference each) cost the garbage
 * collector a visible share of a direct file transfer. */
const DEADLINE_CHECK_MS = 1_000

export interface BlobRef { readonly blobId: Uint8Array, readonly capability: Uint8Array }

/** Waiting for a 1.2.0 receiver's 'durable' frames to reach `target` (putFrom's end). */
interface DurableWait { readonly target: number, resolve: () => void, reject: (e: Error) => void, deadline: number }

type Pending = { resolve: (f: BlobServerFrame) => void, reject: (e: Error) => void, deadline: number }

function refusal (f: Extract<BlobServerFrame, { type: 'error' }>): NetError {
  if (f.reason === 'NOT_FOUND') return new NetError('NOT_FOUND', f.message, { reason: f.reason })
  return new NetError('REFUSED', `Refused: ${f.message}`, { reason: f.reason })
}

export class BlobChannel {
  /** The stream's frames (src/net/frame-stream.ts: cut from its message events, not lpStream's byte-at-a-time reads,
   * which threw and caught two exceptions per 64 KiB chunk answer). */
  private readonly frames: FrameStream
  private readonly pending = new Map<number, Pending>()
  private nextReq = 1
  private done: Error | undefined
  private deadlines: NodeJS.Timeout | undefined
  /** Bytes of chunk payload written (tests and the benchmark count what crossed the wire). */
  bytesSent = 0
  /** 1.2.0: the highest count the receiver said is durable, and who hears of it (putFrom's confirmations). */
  private durable = 0
  private onDurable: ((count: number) => void) | undefined
  private durableWait: DurableWait | undefined

  /** `window`: puts putFrom keeps unanswered (MAX_BLOB_PUTS_IN_FLIGHT for a relay, MAX_FILE_PUTS_IN_FLIGHT for a
   * contact's device on a direct stream). `durableApart`: the store confirms durability with 'durable' frames of its
   * own, a put's answer only frees the window (/0m1/file/1.2.0, fileDurableApart). */
  constructor (private readonly stream: Stream, private readonly window: number = MAX_BLOB_PUTS_IN_FLIGHT, private readonly signal?: AbortSignal, private readonly durableApart = false) {
    // Unread answers: a download keeps at most MAX_BLOB_PUTS_IN_FLIGHT gets unanswered (whole chunks each); a put's
    // answer is a few bytes, whatever the window. The read loop takes each frame as it comes, so this is slack.
    this.frames = new FrameStream(stream, MAX_BLOB_FRAME_BYTES, (MAX_BLOB_PUTS_IN_FLIGHT + 1) * (MAX_BLOB_FRAME_BYTES + 3))
    this.readLoop().catch(() => {})
    if (signal?.aborted === true) this.onAbort()
    else signal?.addEventListener('abort', this.onAbort, { once: true })
  }

  /**
   * The owner's signal (a stopping device) ends the stream at once, both ways: requests waiting for an answer and a
   * write waiting for the muxer to drain fail now. Without it they waited for their deadline (a peer that stopped
   * reading: a frozen process keeps its TCP connection open, and no drain comes), and a put loop went on to the
   * file's last chunk.
   */
  private readonly onAbort = (): void => {
    this.stream.abort(new NetError('ABORTED', 'Cancelled: the device is stopping.'))
  }

  get inFlight (): number { return this.pending.size }

  private async readLoop (): Promise<void> {
    let error: Error = new NetError('CLOSED', 'The blob stream closed.')
    try {
      for (;;) {
        const raw = await this.frames.next()
        if (raw === undefined) break
        const f = atStream(() => decodeBlobServerFrame(raw))
        if (f.type === 'durable') {
          // Only a 1.2.0 file receiver confirms apart; anywhere else the frame is a broken peer's.
          if (!this.durableApart) throw new NetError('BAD_FRAME', 'The store sent a durable frame on a stream that has none.')
          if (f.reqId !== 0) throw new NetError('BAD_FRAME', 'The store sent a durable frame with a request id (it has none).')
          if (f.count > this.durable) {
            this.durable = f.count
            this.onDurable?.(f.count)
            // A receiver holding its answers back until a sync covers them (backpressure) is slow, not gone: while
            // its disk makes progress, the puts waiting for answers get a new deadline (else a slow disk's syncs of
            // up to MAX_FILE_UNSYNCED_BYTES failed the stream over to relays needlessly).
            const until = performance.now() + BLOB_REQUEST_DEADLINE_MS
            for (const p of this.pending.values()) p.deadline = until
            const w = this.durableWait
            if (w !== undefined) {
              if (f.count >= w.target) { this.durableWait = undefined; w.resolve() } else w.deadline = performance.now() + BLOB_REQUEST_DEADLINE_MS
            }
          }
          continue
        }
        const p = this.pending.get(f.reqId)
        if (p === undefined) {
          if (f.type === 'error') throw refusal(f)
          continue
        }
        this.pending.delete(f.reqId)
        p.resolve(f)
      }
    } catch (err) {
      error = NetError.is(err) ? err : new NetError('CLOSED', 'The blob stream failed.', { cause: err })
    } finally {
      this.done = error
      for (const p of this.pending.values()) p.reject(error)
      this.pending.clear()
      this.durableWait?.reject(error)
      this.durableWait = undefined
      this.signal?.removeEventListener('abort', this.onAbort)
      clearInterval(this.deadlines)
      this.deadlines = undefined
    }
  }

  async request (frame: BlobClientFrame, signal?: AbortSignal): Promise<BlobServerFrame> {
    if (this.done !== undefined) throw this.done
    if (signal?.aborted === true) throw new NetError('ABORTED', 'Cancelled.')
    const reqId = this.nextReq++
    // A put goes as its head and its chunk, one message without copying the chunk (encodeBlobPutParts).
    const parts = frame.type === 'put' ? encodeBlobPutParts({ ...frame, reqId }) : [encodeBlobClientFrame({ ...frame, reqId })]
    const reply = new Promise<BlobServerFrame>((resolve, reject) => {
      const onAbort = (): void => {
        this.pending.delete(reqId)
        reject(new NetError('ABORTED', 'Cancelled.'))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.pending.set(reqId, {
        // Monotonic: a wall-clock step (NTP, suspend) must not fire or hold back every deadline at once.
        deadline: performance.now() + BLOB_REQUEST_DEADLINE_MS,
        resolve: (f) => { signal?.removeEventListener('abort', onAbort); resolve(f) },
        reject: (e) => { signal?.removeEventListener('abort', onAbort); reject(e) }
      })
      this.watchDeadlines()
    })
    reply.catch(() => {})
    await this.frames.sendParts(parts)
    if (frame.type === 'put') this.bytesSent += frame.data.length
    const f = await reply
    if (f.type === 'error') throw refusal(f)
    return f
  }

  /** Fails the requests past their deadline; runs while any request waits. */
  private watchDeadlines (): void {
    if (this.deadlines !== undefined) return
    this.deadlines = setInterval(() => {
      const now = performance.now()
      for (const [reqId, p] of this.pending) {
        if (p.deadline > now) continue
        this.pending.delete(reqId)
        p.reject(new NetError('TIMEOUT', 'The store did not answer in time.'))
      }
      const w = this.durableWait
      if (w !== undefined && w.deadline <= now) { this.durableWait = undefined; w.reject(new NetError('TIMEOUT', 'The receiver did not confirm the chunks durable in time.')) }
      if (this.pending.size === 0 && this.durableWait === undefined) { clearInterval(this.deadlines); this.deadlines = undefined }
    }, DEADLINE_CHECK_MS)
    this.deadlines.unref()
  }

  /** Chunks the store holds, in order from the first; NOT_FOUND when it holds none (or the capability is wrong). */
  async status (ref: BlobRef, signal?: AbortSignal): Promise<number> {
    const f = await this.request({ type: 'status', reqId: 0, ...ref }, signal)
    if (f.type !== 'have') throw new NetError('BAD_FRAME', 'The store answered status with an unexpected frame.')
    return f.count
  }

  async get (ref: BlobRef, index: number, signal?: AbortSignal): Promise<Uint8Array> {
    const f = await this.request({ type: 'get', reqId: 0, ...ref, index }, signal)
    if (f.type !== 'chunk' || f.index !== index) throw new NetError('BAD_FRAME', 'The store answered get with an unexpected frame.')
    return f.data
  }

  async delete (ref: BlobRef, signal?: AbortSignal): Promise<void> {
    await this.request({ type: 'delete', reqId: 0, ...ref }, signal)
  }

  /**
   * Puts chunks `from`..chunks-1 in order, up to the channel's window unanswered (backpressure: the next put waits
   * for an answer, and each write for the muxer). `confirmed(n)` is called as the store confirms chunks 0..n-1
   * durable, and only then: from each put's answer, or on a durableApart stream (file 1.2.0) from the receiver's
   * 'durable' frames, never from a 'received' answer (the resume point must be on the receiver's disk). Resolves once
   * all are confirmed durable.
   */
  async putFrom (ref: BlobRef, chunks: number, from: number, read: (index: number) => Promise<Uint8Array>, confirmed: (count: number) => void, signal?: AbortSignal): Promise<void> {
    if (this.durableApart) {
      // The receiver counts chunks of the whole file; a count past it is a broken peer's and confirms no more.
      this.onDurable = (n) => { if (n > from) confirmed(Math.min(n, chunks)) }
      try {
        await this.putAll(ref, chunks, from, read, undefined, signal)
        await this.durableThrough(chunks, signal)
      } finally {
        this.onDurable = undefined
      }
      return
    }
    await this.putAll(ref, chunks, from, read, confirmed, signal)
  }

  /** Resolves once the receiver said chunks 0..target-1 are durable (a 1.2.0 stream); fails with the stream, or after
   * BLOB_REQUEST_DEADLINE_MS without progress. */
  private async durableThrough (target: number, signal?: AbortSignal): Promise<void> {
    if (this.durable >= target) return
    if (this.done !== undefined) throw this.done
    if (signal?.aborted === true) throw new NetError('ABORTED', 'Cancelled.')
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => { this.durableWait = undefined; reject(new NetError('ABORTED', 'Cancelled.')) }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.durableWait = {
        target,
        deadline: performance.now() + BLOB_REQUEST_DEADLINE_MS,
        resolve: () => { signal?.removeEventListener('abort', onAbort); resolve() },
        reject: (e) => { signal?.removeEventListener('abort', onAbort); reject(e) }
      }
      this.watchDeadlines()
    })
  }

  private async putAll (ref: BlobRef, chunks: number, from: number, read: (index: number) => Promise<Uint8Array>, confirmed: ((count: number) => void) | undefined, signal?: AbortSignal): Promise<void> {
    const window = new Set<Promise<void>>()
    let failure: Error | undefined
    // One waiter woken by each answer: a Promise.race over the window per chunk added a reaction to every put in
    // flight each time (16 × 16 per window), CPU and garbage on the transfer's hot path.
    let space: (() => void) | undefined
    for (let i = from; i < chunks; i++) {
      while (window.size >= this.window) await new Promise<void>((resolve) => { space = resolve })
      // A channel that ended (aborted by its owner's stop) reads and puts nothing more, whatever its window says.
      const ended = failure ?? this.done
      if (ended !== undefined) throw ended
      const data = await read(i)
      const index = i
      const p: Promise<void> = this.request({ type: 'put', reqId: 0, ...ref, chunks, index, data }, signal)
        .then((f) => {
          // A 'received' answer never stands for a durable chunk: only a 1.2.0 stream has it, and there it only
          // frees the window (durability comes in 'durable' frames).
          if (f.type !== (this.durableApart ? 'received' : 'stored') || f.index !== index) throw new NetError('BAD_FRAME', 'The store answered a put with an unexpected frame.')
          confirmed?.(index + 1)
        }).then(() => {}, (err: unknown) => { failure ??= err instanceof Error ? err : new Error('put failed') })
        .finally(() => { window.delete(p); space?.() })
      window.add(p)
    }
    await Promise.all(window)
    if (failure !== undefined) throw failure
  }

  async close (): Promise<void> {
    this.signal?.removeEventListener('abort', this.onAbort)
    await this.stream.close({ signal: AbortSignal.timeout(2000) }).catch(() => { this.stream.abort(new Error('closed')) })
  }
}
