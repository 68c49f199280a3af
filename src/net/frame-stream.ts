// Varint-length-prefixed frames of one libp2p stream, read in order with `await next()`, for bulk streams (direct
// file chunks). @libp2p/utils' lpStream reads a frame's prefix one byte at a time, each byte an awaited read, and its
// varint decoder throws a RangeError (a stack trace captured each time) until the prefix is whole: two exceptions per
// 64 KiB chunk, about a tenth of a file receiver's CPU. Here the frames are cut from the stream's 'message' events as
// they come (FrameReader: the prefix is bounded before any body is buffered), and next() returns a frame already
// buffered without waiting for anything.
import type { Stream } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { FrameReader, lengthPrefixed } from './frame-reader.ts'
import { NetError } from './errors.ts'

export class FrameStream {
  readonly #stream: Stream
  readonly #reader: FrameReader
  readonly #maxBuffered: number
  /** Why nothing more will come: undefined while the stream is readable; 'end' once the remote closed its side. */
  #ended: 'end' | Error | undefined
  #wake: (() => void) | undefined
  /** A 'drain' or 'close' wakes the sends waiting for the stream to take more (#drain). */
  #drained: (() => void) | undefined
  #drainWait: Promise<void> | undefined

  /**
   * `maxFrameBytes` bounds each frame; `maxBufferedBytes` what may wait here unread (the sender's window of frames):
   * a sender over it is broken, and next() throws NetError TOO_LARGE (the caller aborts the stream).
   */
  constructor (stream: Stream, maxFrameBytes: number, maxBufferedBytes: number) {
    this.#stream = stream
    this.#reader = new FrameReader(maxFrameBytes)
    this.#maxBuffered = maxBufferedBytes
    stream.addEventListener('message', (e) => {
      // Only an error drops what comes after it: bytes the stream still delivers after the remote closed its side
      // (its read buffer, dispatched later) are the sender's last frames.
      if (this.#ended instanceof Error) return
      this.#reader.push(e.data)
      if (this.#reader.buffered > this.#maxBuffered) {
        this.#reader.clear()
        this.#end(new NetError('TOO_LARGE', `The sender went over its window: more than ${this.#maxBuffered} bytes unread.`))
      }
      this.#wake?.()
    })
    // The remote's side closed: the end, unless the stream still holds bytes it has not delivered (it delivers them
    // to this 'message' listener, then says 'end').
    const ended = (): void => { if (stream.readBufferLength === 0) this.#end('end') }
    stream.addEventListener('remoteCloseWrite', ended)
    stream.addEventListener('end', () => { this.#end('end') })
    stream.addEventListener('close', (e) => { this.#end(e.error ?? 'end') })
    stream.addEventListener('drain', () => { this.#drained?.() })
    if (stream.status !== 'open') this.#end('end')
    else if (stream.remoteWriteStatus !== 'writable') ended()
  }

  #end (why: 'end' | Error): void {
    if (!(this.#ended instanceof Error) && (this.#ended === undefined || why instanceof Error)) this.#ended = why
    this.#wake?.()
    // Always: a send waiting for 'drain' when the stream ended (whatever ended it first) must not wait for ever.
    this.#drained?.()
  }

  /** Bytes received and not yet returned as frames. */
  get buffered (): number {
    return this.#reader.buffered
  }

  /**
   * The next frame (one reader: calls must not overlap); undefined once the remote has closed its side and every
   * whole frame has been read (bytes of a frame cut short by the end are dropped with it). Throws NetError TOO_LARGE
   * for a frame or a backlog over its bound, and the stream's error if it was aborted.
   */
  async next (): Promise<Uint8Array | undefined> {
    for (;;) {
      // Frames already here are returned before an end or error that came after them: a sender's last puts count.
      const frame = this.#reader.next()
      if (frame !== undefined) return frame
      if (this.#ended instanceof Error) throw this.#ended
      if (this.#ended === 'end') return undefined
      await new Promise<void>((resolve) => { this.#wake = resolve })
      this.#wake = undefined
    }
  }

  /** Sends frames as one write, each behind its length prefix; waits while the stream asks the writer to drain. */
  async send (frames: readonly Uint8Array[]): Promise<void> {
    if (this.#stream.send(lengthPrefixed(frames))) return
    await this.#drain()
  }

  /** Sends one frame given as parts (a put's head and its chunk), behind one length prefix, without copying them
   * into one buffer. */
  async sendParts (parts: readonly Uint8Array[]): Promise<void> {
    let total = 0
    for (const p of parts) total += p.length
    // Our uint8arraylist (2.x) is not the type @libp2p/interface names (3.x), but both mark their lists with the
    // same registered symbol and hold them as `bufs`, which is all the stream reads.
    const list = new Uint8ArrayList(varintPrefix(total), ...parts) as unknown as Parameters<Stream['send']>[0]
    if (this.#stream.send(list)) return
    await this.#drain()
  }

  /** Waits while the stream asks its writers to drain; any number of senders wait on the same 'drain'. */
  async #drain (): Promise<void> {
    while (this.#stream.writableNeedsDrain && this.#stream.status === 'open' && !(this.#ended instanceof Error)) {
      this.#drainWait ??= new Promise<void>((resolve) => {
        this.#drained = () => { this.#drainWait = undefined; this.#drained = undefined; resolve() }
      })
      await this.#drainWait
    }
  }
}

/** The unsigned-varint length prefix of a frame of `n` bytes. */
function varintPrefix (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128) }
  out.push(n)
  return Uint8Array.from(out)
}
