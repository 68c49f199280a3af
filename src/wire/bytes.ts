// Bounded binary reader and writer shared by the wire codecs: big-endian integers, fixed-size
// fields, length-prefixed bytes and UTF-8 strings whose every length is checked against a limit.
import { WireError } from './errors.ts'

const utf8Decoder = new TextDecoder('utf-8', { fatal: true })
const utf8Encoder = new TextEncoder()

export class Reader {
  private offset = 0
  private readonly view: DataView

  /** `what` names the message in error sentences ("invite", "envelope"...). */
  constructor (readonly bytes: Uint8Array, readonly what: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  get remaining (): number { return this.bytes.length - this.offset }
  get position (): number { return this.offset }

  private need (n: number, field: string): void {
    if (this.remaining < n) throw new WireError('TRUNCATED', `The ${this.what} is cut short (in ${field}).`)
  }

  u8 (field: string): number {
    this.need(1, field)
    return this.view.getUint8(this.offset++)
  }

  u16 (field: string): number {
    this.need(2, field)
    const v = this.view.getUint16(this.offset)
    this.offset += 2
    return v
  }

  u32 (field: string): number {
    this.need(4, field)
    const v = this.view.getUint32(this.offset)
    this.offset += 4
    return v
  }

  /** Unsigned 64-bit, refused above Number.MAX_SAFE_INTEGER (times in ms fit easily). */
  u64 (field: string): number {
    this.need(8, field)
    const v = this.view.getBigUint64(this.offset)
    this.offset += 8
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new WireError('INVALID', `The ${this.what} has an out-of-range ${field}.`)
    return Number(v)
  }

  /** A fixed-size field; returns a copy so callers may keep it. */
  fixed (n: number, field: string): Uint8Array {
    this.need(n, field)
    const out = this.bytes.slice(this.offset, this.offset + n)
    this.offset += n
    return out
  }

  /** Length-prefixed bytes (prefix of 1, 2 or 4 bytes), at most `max` long. */
  sized (prefix: 1 | 2 | 4, max: number, field: string): Uint8Array {
    const n = prefix === 1 ? this.u8(field) : prefix === 2 ? this.u16(field) : this.u32(field)
    if (n > max) throw new WireError('TOO_LARGE', `The ${this.what} has a ${field} longer than ${max} bytes.`)
    return this.fixed(n, field)
  }

  /** Length-prefixed UTF-8, at most `maxBytes` bytes, strictly valid UTF-8. */
  string (prefix: 1 | 2, maxBytes: number, field: string): string {
    const raw = this.sized(prefix, maxBytes, field)
    try {
      return utf8Decoder.decode(raw)
    } catch (err) {
      throw new WireError('INVALID', `The ${this.what} has a ${field} that is not valid UTF-8.`, { cause: err })
    }
  }

  /** Count-prefixed (1 byte) list of strings. */
  strings (maxCount: number, maxBytes: number, field: string): string[] {
    const n = this.u8(field)
    if (n > maxCount) throw new WireError('TOO_LARGE', `The ${this.what} lists more than ${maxCount} ${field}.`)
    const out: string[] = []
    for (let i = 0; i < n; i++) out.push(this.string(2, maxBytes, field))
    return out
  }

  /** Every decoder ends here: leftover bytes mean a different or damaged message. */
  end (): void {
    if (this.remaining !== 0) throw new WireError('TRAILING', `The ${this.what} has ${this.remaining} unexpected bytes at its end.`)
  }
}

export class Writer {
  private buf: Uint8Array
  private view: DataView
  private offset = 0

  constructor (initial = 256) {
    this.buf = new Uint8Array(initial)
    this.view = new DataView(this.buf.buffer)
  }

  private room (n: number): void {
    if (this.offset + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.offset + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.offset))
    this.buf = next
    this.view = new DataView(next.buffer)
  }

  u8 (v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`u8 out of range: ${v}`)
    this.room(1)
    this.view.setUint8(this.offset++, v)
    return this
  }

  u16 (v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError(`u16 out of range: ${v}`)
    this.room(2)
    this.view.setUint16(this.offset, v)
    this.offset += 2
    return this
  }

  u32 (v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`u32 out of range: ${v}`)
    this.room(4)
    this.view.setUint32(this.offset, v)
    this.offset += 4
    return this
  }

  u64 (v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`u64 out of range: ${v}`)
    this.room(8)
    this.view.setBigUint64(this.offset, BigInt(v))
    this.offset += 8
    return this
  }

  fixed (bytes: Uint8Array, n: number, field: string): this {
    if (bytes.length !== n) throw new RangeError(`${field} must be ${n} bytes (got ${bytes.length})`)
    this.room(n)
    this.buf.set(bytes, this.offset)
    this.offset += n
    return this
  }

  sized (prefix: 1 | 2 | 4, max: number, bytes: Uint8Array, field: string): this {
    if (bytes.length > max) throw new RangeError(`${field} must be at most ${max} bytes (got ${bytes.length})`)
    if (prefix === 1) this.u8(bytes.length)
    else if (prefix === 2) this.u16(bytes.length)
    else this.u32(bytes.length)
    return this.fixed(bytes, bytes.length, field)
  }

  string (prefix: 1 | 2, maxBytes: number, s: string, field: string): this {
    return this.sized(prefix, maxBytes, utf8Encoder.encode(s), field)
  }

  strings (maxCount: number, maxBytes: number, list: readonly string[], field: string): this {
    if (list.length > maxCount) throw new RangeError(`${field}: at most ${maxCount} entries (got ${list.length})`)
    this.u8(list.length)
    for (const s of list) this.string(2, maxBytes, s, field)
    return this
  }

  get length (): number { return this.offset }

  /** The bytes written so far (a view; copy if the writer is reused). */
  finish (): Uint8Array {
    return this.buf.subarray(0, this.offset)
  }
}

export function utf8Length (s: string): number {
  return utf8Encoder.encode(s).length
}

export function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let d = 0
  for (let i = 0; i < a.length; i++) d |= (a[i] as number) ^ (b[i] as number)
  return d === 0
}

export function toHex (b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
}
