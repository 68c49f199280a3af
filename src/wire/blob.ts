// Frames of /0m1/blob/1.0.0 (a relay's blob store: encrypted file chunks parked for a contact) and of
// /0m1/file/1.0.0 (the same frames streamed straight to the contact, who plays the store for one blob). Each frame
// is one varint-length-prefixed message starting with a version byte; both sides bound the prefix before buffering.
// Layout: docs/protocol-network.md "Blobs and direct files".
import { Reader, Writer } from './bytes.ts'
import { WireError } from './errors.ts'
import { BLOB_CAPABILITY_BYTES, BLOB_ID_BYTES, FILE_CIPHER_CHUNK_BYTES } from './file.ts'

export const BLOB_PROTOCOL = '/0m1/blob/1.0.0'
/** Direct file streams. 1.2.0 separates flow control from durability: a put is answered 'received' once verified and
 * its write queued, and the receiver confirms what is on its disk with 'durable' frames of its own (background
 * fdatasyncs). 1.1.0 answers each put 'stored' once an fdatasync covers it, MAX_FILE_PUTS_IN_FLIGHT unanswered;
 * 1.0.0 (the first version) the same with MAX_BLOB_PUTS_IN_FLIGHT, which is all its receivers buffer. Both older
 * versions are still served and offered after 1.2.0, so a device of either generation still gets files straight. */
export const FILE_PROTOCOL = '/0m1/file/1.2.0'
export const FILE_PROTOCOL_V1_1 = '/0m1/file/1.1.0'
export const FILE_PROTOCOL_V1 = '/0m1/file/1.0.0'
/** Served and offered, in order of preference. */
export const FILE_PROTOCOLS: readonly string[] = [FILE_PROTOCOL, FILE_PROTOCOL_V1_1, FILE_PROTOCOL_V1]
export const BLOB_VERSION = 0x01
/** Refusal sentences are short and never hold identifiers. */
export const MAX_BLOB_REASON_BYTES = 200
/** Chunks a blob may have on the wire (the relay's and the device's byte quotas are lower). */
export const MAX_BLOB_CHUNKS = 1 << 24
/** Largest frame either side sends: a put or a chunk answer with one encrypted chunk. */
export const MAX_BLOB_FRAME_BYTES = 1 + 1 + 4 + BLOB_ID_BYTES + BLOB_CAPABILITY_BYTES + 4 + 4 + 4 + FILE_CIPHER_CHUNK_BYTES
/** Puts a client may have sent and not seen answered on one stream: 16 × 64 KiB = 1 MiB in flight keeps a
 * loopback or LAN link busy while bounding what the store side reads ahead. */
export const MAX_BLOB_PUTS_IN_FLIGHT = 16
/** Puts in flight on a direct /0m1/file/1.1.0 or 1.2.0 stream: 64 × 64 KiB = 4 MiB. On 1.1.0 the receiving device
 * answers a put only once an fdatasync covers it, and one fdatasync takes 1-10 ms or more on a busy disk: with 1 MiB
 * in flight the sender stood waiting for each sync (a file went at a third of the raw stream's speed). On 1.2.0 the
 * answer waits only for the chunk's check, so the window is what the receiver reads ahead: a contact's device holds
 * at most this much per stream; a relay keeps the lower MAX_BLOB_PUTS_IN_FLIGHT for its many clients. */
export const MAX_FILE_PUTS_IN_FLIGHT = 64

const T = { put: 0x01, status: 0x02, get: 0x03, del: 0x04, stored: 0x81, have: 0x82, chunk: 0x83, deleted: 0x84, error: 0x85, received: 0x86, durable: 0x87 } as const

/** Why a store refused: one byte on the wire. NOT_FOUND is also the answer to a wrong capability, so a
 * refusal never tells whether a blob id exists. */
export type BlobRefusal = 'NOT_FOUND' | 'TOO_LARGE' | 'QUOTA_BYTES' | 'OUT_OF_ORDER' | 'BAD_FRAME' | 'UNSUPPORTED_VERSION' | 'INTERNAL' | 'RATE_LIMITED'
/** Wire byte = index. RATE_LIMITED (7): the uploading peer used its upload budget for now (src/relay/blob-rate.ts). */
const REASONS: readonly BlobRefusal[] = ['NOT_FOUND', 'TOO_LARGE', 'QUOTA_BYTES', 'OUT_OF_ORDER', 'BAD_FRAME', 'UNSUPPORTED_VERSION', 'INTERNAL', 'RATE_LIMITED']

interface BlobRef { readonly reqId: number, readonly blobId: Uint8Array, readonly capability: Uint8Array }

export type BlobClientFrame =
  /** Stores chunk `index` of a blob of `chunks` chunks; the first put creates the blob with this capability, whose
   * id it must be (blobIdOf, src/wire/file.ts: a relay refuses any other id with BAD_FRAME). */
  | (BlobRef & { readonly type: 'put', readonly chunks: number, readonly index: number, readonly data: Uint8Array })
  /** How many chunks (from the first, in order) the store holds. */
  | (BlobRef & { readonly type: 'status' })
  | (BlobRef & { readonly type: 'get', readonly index: number })
  | (BlobRef & { readonly type: 'delete' })

export type BlobServerFrame =
  /** The chunk is durable (on disk before this answer). */
  | { readonly type: 'stored', readonly reqId: number, readonly index: number }
  | { readonly type: 'have', readonly reqId: number, readonly count: number, readonly chunks: number }
  | { readonly type: 'chunk', readonly reqId: number, readonly index: number, readonly data: Uint8Array }
  | { readonly type: 'deleted', readonly reqId: number }
  | { readonly type: 'error', readonly reqId: number, readonly reason: BlobRefusal, readonly message: string }
  /** /0m1/file/1.2.0 only: the put's chunk checked out and its write is queued; NOT yet durable (that is 'durable'). */
  | { readonly type: 'received', readonly reqId: number, readonly index: number }
  /** /0m1/file/1.2.0 only, unasked (reqId 0): chunks 0..count-1 of the stream's file are on the receiver's disk (an
   * fdatasync covered them). The sender counts a chunk confirmed, for its resume point, only from this. */
  | { readonly type: 'durable', readonly reqId: number, readonly count: number }

function head (w: Writer, type: number, reqId: number): void {
  w.u8(BLOB_VERSION); w.u8(type); w.u32(reqId)
}

export function encodeBlobClientFrame (f: BlobClientFrame): Uint8Array {
  const w = new Writer(f.type === 'put' ? MAX_BLOB_FRAME_BYTES : 64)
  head(w, f.type === 'put' ? T.put : f.type === 'status' ? T.status : f.type === 'get' ? T.get : T.del, f.reqId)
  w.fixed(f.blobId, BLOB_ID_BYTES, 'blobId')
  w.fixed(f.capability, BLOB_CAPABILITY_BYTES, 'capability')
  if (f.type === 'put') {
    if (f.chunks < 1 || f.chunks > MAX_BLOB_CHUNKS || f.index >= f.chunks) throw new RangeError('put: index must be below chunks, chunks 1..MAX_BLOB_CHUNKS')
    w.u32(f.chunks); w.u32(f.index)
    w.sized(4, FILE_CIPHER_CHUNK_BYTES, f.data, 'data')
    // A put fills its buffer exactly (chunks have one size): no second copy of the chunk.
    return w.finish()
  } else if (f.type === 'get') {
    w.u32(f.index)
  }
  return w.finish().slice()
}

/** Bytes of a put frame before its chunk: head, blob id, capability, chunks, index and the data's length. */
const PUT_HEAD_BYTES = MAX_BLOB_FRAME_BYTES - FILE_CIPHER_CHUNK_BYTES

/**
 * A put frame as two parts, its head and its chunk (the caller's buffer, not copied), whose concatenation is exactly
 * encodeBlobClientFrame's: the sender writes both to the stream as one message, so the chunk's 64 KiB is not
 * copied into a fresh frame per put (a copy and 64 KiB of garbage each, on the file sender's hot path).
 */
export function encodeBlobPutParts (f: Extract<BlobClientFrame, { type: 'put' }>): [head: Uint8Array, data: Uint8Array] {
  if (f.chunks < 1 || f.chunks > MAX_BLOB_CHUNKS || f.index >= f.chunks) throw new RangeError('put: index must be below chunks, chunks 1..MAX_BLOB_CHUNKS')
  if (f.data.length > FILE_CIPHER_CHUNK_BYTES) throw new RangeError(`data must be at most ${FILE_CIPHER_CHUNK_BYTES} bytes (got ${f.data.length})`)
  const w = new Writer(PUT_HEAD_BYTES)
  head(w, T.put, f.reqId)
  w.fixed(f.blobId, BLOB_ID_BYTES, 'blobId')
  w.fixed(f.capability, BLOB_CAPABILITY_BYTES, 'capability')
  w.u32(f.chunks); w.u32(f.index); w.u32(f.data.length)
  return [w.finish(), f.data]
}

export function decodeBlobClientFrame (bytes: Uint8Array): BlobClientFrame {
  if (bytes.length > MAX_BLOB_FRAME_BYTES) throw new WireError('TOO_LARGE', `The blob frame is over ${MAX_BLOB_FRAME_BYTES} bytes.`)
  const r = new Reader(bytes, 'blob frame')
  const version = r.u8('version')
  if (version !== BLOB_VERSION) throw new WireError('VERSION', `The blob frame has version ${version}; this program reads version ${BLOB_VERSION}.`)
  const type = r.u8('type')
  const reqId = r.u32('request id')
  const blobId = r.fixed(BLOB_ID_BYTES, 'blob id')
  const capability = r.fixed(BLOB_CAPABILITY_BYTES, 'capability')
  let f: BlobClientFrame
  switch (type) {
    case T.put: {
      const chunks = r.u32('chunk count')
      const index = r.u32('chunk index')
      if (chunks < 1 || chunks > MAX_BLOB_CHUNKS || index >= chunks) throw new WireError('INVALID', 'The put names a chunk outside its blob.')
      const n = r.u32('chunk')
      if (n > FILE_CIPHER_CHUNK_BYTES) throw new WireError('TOO_LARGE', `The blob frame has a chunk longer than ${FILE_CIPHER_CHUNK_BYTES} bytes.`)
      if (n !== FILE_CIPHER_CHUNK_BYTES) throw new WireError('INVALID', `A chunk is exactly ${FILE_CIPHER_CHUNK_BYTES} bytes.`)
      if (r.remaining < n) throw new WireError('TRUNCATED', 'The blob frame is cut short (in chunk).')
      if (r.remaining > n) throw new WireError('TRAILING', `The blob frame has ${r.remaining - n} unexpected bytes at its end.`)
      // The chunk is the frame's tail: a view of the caller's frame buffer, not a third copy of 64 KiB per chunk.
      return { type: 'put', reqId, blobId, capability, chunks, index, data: bytes.subarray(r.position) }
    }
    case T.status: f = { type: 'status', reqId, blobId, capability }; break
    case T.get: f = { type: 'get', reqId, blobId, capability, index: r.u32('chunk index') }; break
    case T.del: f = { type: 'delete', reqId, blobId, capability }; break
    default: throw new WireError('UNKNOWN_KIND', `The blob frame has type ${type}, which this version does not know.`)
  }
  r.end()
  return f
}

export function encodeBlobServerFrame (f: BlobServerFrame): Uint8Array {
  const w = new Writer(f.type === 'chunk' ? MAX_BLOB_FRAME_BYTES : 64)
  switch (f.type) {
    case 'stored': head(w, T.stored, f.reqId); w.u32(f.index); break
    case 'have': head(w, T.have, f.reqId); w.u32(f.count); w.u32(f.chunks); break
    // A chunk answer fills its buffer exactly (chunks have one size): no second copy of the chunk.
    case 'chunk': head(w, T.chunk, f.reqId); w.u32(f.index); w.sized(4, FILE_CIPHER_CHUNK_BYTES, f.data, 'data'); return w.finish()
    case 'deleted': head(w, T.deleted, f.reqId); break
    case 'error': head(w, T.error, f.reqId); w.u8(REASONS.indexOf(f.reason)); w.string(1, MAX_BLOB_REASON_BYTES, f.message, 'message'); break
    case 'received': head(w, T.received, f.reqId); w.u32(f.index); break
    case 'durable':
      if (!Number.isInteger(f.count) || f.count < 0 || f.count > MAX_BLOB_CHUNKS) throw new RangeError('durable: count must be 0..MAX_BLOB_CHUNKS')
      head(w, T.durable, f.reqId); w.u32(f.count); break
  }
  return w.finish().slice()
}

export function decodeBlobServerFrame (bytes: Uint8Array): BlobServerFrame {
  if (bytes.length > MAX_BLOB_FRAME_BYTES) throw new WireError('TOO_LARGE', `The blob frame is over ${MAX_BLOB_FRAME_BYTES} bytes.`)
  const r = new Reader(bytes, 'blob answer')
  const version = r.u8('version')
  if (version !== BLOB_VERSION) throw new WireError('VERSION', `The blob answer has version ${version}; this program reads version ${BLOB_VERSION}.`)
  const type = r.u8('type')
  const reqId = r.u32('request id')
  let f: BlobServerFrame
  switch (type) {
    case T.stored: f = { type: 'stored', reqId, index: r.u32('chunk index') }; break
    case T.have: {
      const count = r.u32('count')
      const chunks = r.u32('chunks')
      if (count > chunks || chunks > MAX_BLOB_CHUNKS) throw new WireError('INVALID', 'The blob answer holds more chunks than its blob.')
      f = { type: 'have', reqId, count, chunks }
      break
    }
    case T.chunk: {
      const index = r.u32('chunk index')
      const data = r.sized(4, FILE_CIPHER_CHUNK_BYTES, 'chunk')
      if (data.length !== FILE_CIPHER_CHUNK_BYTES) throw new WireError('INVALID', `A chunk is exactly ${FILE_CIPHER_CHUNK_BYTES} bytes.`)
      f = { type: 'chunk', reqId, index, data }
      break
    }
    case T.deleted: f = { type: 'deleted', reqId }; break
    case T.error: {
      const i = r.u8('reason')
      const reason = REASONS[i]
      if (reason === undefined) throw new WireError('UNKNOWN_KIND', `The blob answer has an unknown refusal ${i}.`)
      f = { type: 'error', reqId, reason, message: r.string(1, MAX_BLOB_REASON_BYTES, 'message') }
      break
    }
    case T.received: f = { type: 'received', reqId, index: r.u32('chunk index') }; break
    case T.durable: {
      const count = r.u32('durable count')
      if (count > MAX_BLOB_CHUNKS) throw new WireError('INVALID', 'The durable answer counts more chunks than a blob may have.')
      f = { type: 'durable', reqId, count }
      break
    }
    default: throw new WireError('UNKNOWN_KIND', `The blob answer has type ${type}, which this version does not know.`)
  }
  r.end()
  return f
}

/** Puts in flight on a direct file stream negotiated as `protocol` (one of FILE_PROTOCOLS). */
export function fileWindow (protocol: string | undefined): number {
  return protocol === FILE_PROTOCOL || protocol === FILE_PROTOCOL_V1_1 ? MAX_FILE_PUTS_IN_FLIGHT : MAX_BLOB_PUTS_IN_FLIGHT
}

/** Whether a direct file stream negotiated as `protocol` answers puts 'received' and confirms durability apart
 * ('durable' frames: /0m1/file/1.2.0), rather than one 'stored' per put once durable (1.1.0, 1.0.0). */
export function fileDurableApart (protocol: string | undefined): boolean {
  return protocol === FILE_PROTOCOL
}
