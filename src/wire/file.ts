// The file descriptor inside a 'file' payload (issue 12): everything the recipient needs to fetch, check and open
// one file, carried only inside the end-to-end encryption. Layout: docs/protocol.md "File payload".
import { createHash } from 'node:crypto'
import type { Reader, Writer } from './bytes.ts'
import { WireError } from './errors.ts'
import { MAX_ADDRESS_BYTES, MAX_RELAYS } from './payload.ts'

/** Plaintext bytes per chunk. Every chunk is padded to this size, so a relay or an observer sees only a count of
 * equal chunks (the size is known to ±64 KiB); 64 KiB keeps a chunk inside one yamux window and one blob frame. */
export const FILE_CHUNK_BYTES = 64 * 1024
/** libsodium secretstream's per-message overhead (crypto_secretstream_xchacha20poly1305_ABYTES). */
export const FILE_CHUNK_OVERHEAD = 17
/** Bytes of one encrypted chunk on the wire and at rest: all chunks are this size. */
export const FILE_CIPHER_CHUNK_BYTES = FILE_CHUNK_BYTES + FILE_CHUNK_OVERHEAD
export const FILE_KEY_BYTES = 32
/** secretstream header (crypto_secretstream_xchacha20poly1305_HEADERBYTES). */
export const FILE_HEADER_BYTES = 24
export const FILE_HASH_BYTES = 32
/** A blob id: names the encrypted chunks on a relay; derived from the fetch capability (blobIdOf), so unlinkable to
 * anything else. */
export const BLOB_ID_BYTES = 16
/** The fetch capability: only its SHA-256 is on the relay; only the two ends know it. */
export const BLOB_CAPABILITY_BYTES = 32
/** Domain of the blob id's derivation. */
const BLOB_ID_DOMAIN = '0m1/blob-id/1'

/**
 * A blob's id from the SHA-256 of its capability (the fetch token, what a relay stores): the first 16 bytes of
 * SHA-256(domain || token). A relay creates a blob only under the id its capability derives (issue 12 review): every
 * member of a group knows a group file's blob id, and could otherwise create that blob first under a capability of
 * its own, so that the sender's puts were refused and offline members never got the file.
 */
export function blobIdOfToken (token: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(createHash('sha256').update(BLOB_ID_DOMAIN).update(token).digest().subarray(0, BLOB_ID_BYTES))
}

export function blobIdOf (capability: Uint8Array): Uint8Array<ArrayBuffer> {
  return blobIdOfToken(createHash('sha256').update(capability).digest())
}
/** File names: 255 bytes of UTF-8, the common file-system limit. */
export const MAX_FILE_NAME_BYTES = 255
/** Media types ("image/png"): RFC 6838 caps each part at 127 characters. */
export const MAX_FILE_TYPE_BYTES = 255
/** The wire bound on a file's size, whatever a device's configured limit (which may only be lower): 4 GiB of
 * chunks fits the u32 chunk count many times over; 1 GiB keeps a bad descriptor from promising absurd work. */
export const MAX_FILE_WIRE_BYTES = 1024 * 1024 * 1024

export interface FileDescriptor {
  readonly name: string
  readonly type: string
  readonly size: number
  readonly sha256: Uint8Array
  readonly key: Uint8Array
  readonly header: Uint8Array
  readonly chunks: number
  readonly blobId: Uint8Array
  readonly capability: Uint8Array
  /** The relays (the recipient's own) the sender parks the chunks on when it cannot stream them directly. */
  readonly relays: readonly string[]
}

/** Chunks of a file of `size` bytes: at least one (an empty file still has its one padded, final chunk). */
export function chunkCount (size: number): number {
  return Math.max(1, Math.ceil(size / FILE_CHUNK_BYTES))
}

export function encodeFileDescriptor (w: Writer, f: FileDescriptor): void {
  if (!Number.isSafeInteger(f.size) || f.size < 0 || f.size > MAX_FILE_WIRE_BYTES) throw new RangeError(`file size must be 0..${MAX_FILE_WIRE_BYTES}`)
  if (f.chunks !== chunkCount(f.size)) throw new RangeError('file chunks must be chunkCount(size)')
  w.string(1, MAX_FILE_NAME_BYTES, f.name, 'file name')
  w.string(1, MAX_FILE_TYPE_BYTES, f.type, 'file type')
  w.u64(f.size)
  w.fixed(f.sha256, FILE_HASH_BYTES, 'file sha256')
  w.fixed(f.key, FILE_KEY_BYTES, 'file key')
  w.fixed(f.header, FILE_HEADER_BYTES, 'file header')
  w.u32(FILE_CHUNK_BYTES)
  w.u32(f.chunks)
  w.fixed(f.blobId, BLOB_ID_BYTES, 'blob id')
  w.fixed(f.capability, BLOB_CAPABILITY_BYTES, 'blob capability')
  w.strings(MAX_RELAYS, MAX_ADDRESS_BYTES, f.relays, 'blob relays')
}

export function decodeFileDescriptor (r: Reader): FileDescriptor {
  const name = r.string(1, MAX_FILE_NAME_BYTES, 'file name')
  const type = r.string(1, MAX_FILE_TYPE_BYTES, 'file type')
  const size = r.u64('file size')
  if (size > MAX_FILE_WIRE_BYTES) throw new WireError('TOO_LARGE', `The file is over ${MAX_FILE_WIRE_BYTES} bytes.`)
  const sha256 = r.fixed(FILE_HASH_BYTES, 'file sha256')
  const key = r.fixed(FILE_KEY_BYTES, 'file key')
  const header = r.fixed(FILE_HEADER_BYTES, 'file header')
  const chunkBytes = r.u32('chunk size')
  if (chunkBytes !== FILE_CHUNK_BYTES) throw new WireError('INVALID', `The file uses ${chunkBytes}-byte chunks; this version reads ${FILE_CHUNK_BYTES}-byte chunks.`)
  const chunks = r.u32('chunk count')
  if (chunks !== chunkCount(size)) throw new WireError('INVALID', 'The file\'s chunk count does not match its size.')
  const blobId = r.fixed(BLOB_ID_BYTES, 'blob id')
  const capability = r.fixed(BLOB_CAPABILITY_BYTES, 'blob capability')
  const relays = r.strings(MAX_RELAYS, MAX_ADDRESS_BYTES, 'blob relays')
  if (name.length === 0 || /[/\\\0]/.test(name)) throw new WireError('INVALID', 'The file name is empty or holds a path separator.')
  return { name, type, size, sha256, key, header, chunks, blobId, capability, relays }
}
