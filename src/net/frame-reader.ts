// Varint-length-prefixed frames on a long-lived libp2p stream, read from its 'message' events without a promise or
// an abort signal per frame (lpStream's read() costs both). The prefix is checked before the body is buffered.
import { Uint8ArrayList } from 'uint8arraylist'
import { NetError } from './errors.ts'

function varintBytes (n: number): number {
  let len = 1
  while (n >= 0x80) { n = Math.floor(n / 128); len++ }
  return len
}

/**
 * Each frame behind its unsigned-varint length prefix, all in one buffer for one send. (One copy: a Uint8ArrayList
 * would avoid it, but this package's and libp2p's copies of that class are different types.)
 */
export function lengthPrefixed (frames: readonly Uint8Array[]): Uint8Array {
  let total = 0
  for (const f of frames) total += varintBytes(f.length) + f.length
  const out = new Uint8Array(total)
  let at = 0
  for (const f of frames) {
    let v = f.length
    while (v >= 0x80) { out[at++] = (v & 0x7f) | 0x80; v = Math.floor(v / 128) }
    out[at++] = v
    out.set(f, at)
    at += f.length
  }
  return out
}

export class FrameReader {
  readonly #buf = new Uint8ArrayList()
  readonly #maxFrameBytes: number
  readonly #maxPrefixBytes: number
  /** Body length of the frame whose prefix was consumed, -1 between frames. */
  #need = -1

  constructor (maxFrameBytes: number) {
    this.#maxFrameBytes = maxFrameBytes
    this.#maxPrefixBytes = varintBytes(maxFrameBytes)
  }

  /** A chunk from a stream's 'message' event: bytes, or a list of them (libp2p's Uint8ArrayList iterates its parts). */
  push (chunk: Uint8Array | Iterable<Uint8Array>): void {
    if (chunk instanceof Uint8Array) this.#buf.append(chunk)
    else for (const part of chunk) this.#buf.append(part)
  }

  /** Bytes received and not yet returned as frames. */
  get buffered (): number {
    return this.#buf.byteLength
  }

  clear (): void {
    this.#buf.consume(this.#buf.byteLength)
    this.#need = -1
  }

  /** The next whole frame, or undefined until more bytes arrive. A prefix over the limit throws NetError TOO_LARGE. */
  next (): Uint8Array | undefined {
    if (this.#need < 0) {
      let value = 0
      let len = 0
      for (;;) {
        if (len >= this.#buf.byteLength) return undefined
        if (len >= this.#maxPrefixBytes) throw new NetError('TOO_LARGE', `A frame's length prefix is over the ${this.#maxFrameBytes}-byte limit.`)
        const b = this.#buf.get(len)
        value += (b & 0x7f) * 2 ** (7 * len)
        len++
        if (b < 0x80) break
      }
      if (value > this.#maxFrameBytes) throw new NetError('TOO_LARGE', `A frame of ${value} bytes is over the ${this.#maxFrameBytes}-byte limit.`)
      this.#buf.consume(len)
      this.#need = value
    }
    if (this.#buf.byteLength < this.#need) return undefined
    const frame = this.#buf.subarray(0, this.#need)
    this.#buf.consume(this.#need)
    this.#need = -1
    return frame
  }
}
