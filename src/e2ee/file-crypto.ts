// Per-file encryption (issue 12): a random key per file and libsodium's secretstream (XChaCha20-Poly1305), one
// message per 64 KiB chunk, the last tagged FINAL. A truncated, reordered, replayed or altered chunk fails to open at
// that chunk. Every plaintext chunk is padded to FILE_CHUNK_BYTES with zeros (the size is in the descriptor), so all
// encrypted chunks have one size.
import sodium from 'sodium-native'
import { FILE_CHUNK_BYTES, FILE_CIPHER_CHUNK_BYTES, FILE_HEADER_BYTES, FILE_KEY_BYTES } from '../wire/file.ts'
import { E2eeError } from './errors.ts'

const TAG_MESSAGE = 0
const TAG_FINAL = 3

export function newFileKey (): Buffer {
  const k = Buffer.alloc(FILE_KEY_BYTES)
  sodium.randombytes_buf(k)
  return k
}

/** Encrypts chunks in order; `header` goes into the descriptor. */
export class FileSealer {
  readonly header = Buffer.alloc(FILE_HEADER_BYTES)
  private readonly state = Buffer.alloc(sodium.crypto_secretstream_xchacha20poly1305_STATEBYTES)

  /** `header`: the header of a file sealed before (a restart that must seal it again, byte for byte): see resume(). */
  constructor (key: Uint8Array, header?: Uint8Array) {
    if (header === undefined) {
      sodium.crypto_secretstream_xchacha20poly1305_init_push(this.state, this.header, Buffer.from(key))
      return
    }
    if (header.length !== FILE_HEADER_BYTES || key.length !== FILE_KEY_BYTES) throw new RangeError('bad file key or header length')
    // init_push picks a random header and derives the state from it and the key (HChaCha20 subkey, nonce, counter
    // 1); init_pull derives the very same state from a given header. Push is deterministic in state and input, so
    // the same plaintext seals to the same chunks: a sender that restarts mid-file seals again from chunk 0 and
    // produces exactly the chunks the contact already confirmed (test/e2ee/file-crypto.test.ts checks this).
    this.header.set(header)
    sodium.crypto_secretstream_xchacha20poly1305_init_pull(this.state, this.header, Buffer.from(key))
  }

  /** A sealer that produces the same chunks as the one that made `header` (given the same plaintext). */
  static resume (key: Uint8Array, header: Uint8Array): FileSealer { return new FileSealer(key, header) }

  /** `plain`: at most FILE_CHUNK_BYTES; padded here. */
  seal (plain: Uint8Array, last: boolean): Buffer {
    const out = Buffer.alloc(FILE_CIPHER_CHUNK_BYTES)
    this.sealInto(plain, last, out)
    return out
  }

  /** seal() into `out` (exactly FILE_CIPHER_CHUNK_BYTES, e.g. a place in a larger buffer): sealing a file this way
   * allocates nothing per chunk. */
  sealInto (plain: Uint8Array, last: boolean, out: Uint8Array): void {
    if (plain.length > FILE_CHUNK_BYTES) throw new RangeError(`a chunk holds at most ${FILE_CHUNK_BYTES} bytes`)
    if (out.length !== FILE_CIPHER_CHUNK_BYTES) throw new RangeError(`out must be ${FILE_CIPHER_CHUNK_BYTES} bytes`)
    // A full chunk needs no padding: encrypted from where it is.
    let padded: Buffer
    if (plain.length === FILE_CHUNK_BYTES) padded = Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength)
    else { padded = Buffer.alloc(FILE_CHUNK_BYTES); padded.set(plain) }
    sodium.crypto_secretstream_xchacha20poly1305_push(this.state, Buffer.from(out.buffer, out.byteOffset, out.byteLength), padded, null, last ? TAG_FINAL : TAG_MESSAGE)
  }
}

/** Opens chunks in order; throws E2eeError BAD_CHUNK for a chunk that does not verify or comes out of place. */
export class FileOpener {
  private readonly state = Buffer.alloc(sodium.crypto_secretstream_xchacha20poly1305_STATEBYTES)
  private opened = 0

  constructor (key: Uint8Array, header: Uint8Array, private readonly chunks: number) {
    if (header.length !== FILE_HEADER_BYTES || key.length !== FILE_KEY_BYTES) throw new RangeError('bad file key or header length')
    sodium.crypto_secretstream_xchacha20poly1305_init_pull(this.state, Buffer.from(header), Buffer.from(key))
  }

  get count (): number { return this.opened }

  /** The padded plaintext of the next chunk. A failure leaves the state unchanged (the chunk can be fetched again).
   * `into` (FILE_CHUNK_BYTES): a buffer to reuse, for a caller done with each plaintext before the next chunk. */
  open (cipher: Uint8Array, into?: Buffer): Buffer {
    if (cipher.length !== FILE_CIPHER_CHUNK_BYTES) throw new E2eeError('BAD_CHUNK', 'A file chunk has the wrong size.')
    if (into !== undefined && into.length !== FILE_CHUNK_BYTES) throw new RangeError(`into must be ${FILE_CHUNK_BYTES} bytes`)
    const before = Buffer.from(this.state)
    const out = into ?? Buffer.alloc(FILE_CHUNK_BYTES)
    const tag = Buffer.alloc(1)
    try {
      sodium.crypto_secretstream_xchacha20poly1305_pull(this.state, out, tag, Buffer.from(cipher.buffer, cipher.byteOffset, cipher.byteLength), null)
    } catch (err) {
      this.state.set(before)
      throw new E2eeError('BAD_CHUNK', 'A file chunk did not verify: it was altered, or is not the expected chunk.', { cause: err })
    }
    const last = this.opened === this.chunks - 1
    if ((tag[0] === TAG_FINAL) !== last) {
      this.state.set(before)
      throw new E2eeError('BAD_CHUNK', 'A file chunk is out of place (the stream ends early or goes on past its end).')
    }
    this.opened++
    return out
  }
}
