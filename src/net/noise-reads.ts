// @chainsafe/libp2p-noise (17) with a length reader that does not throw. Each encrypted connection cuts what it reads
// into Noise messages with @libp2p/utils' LengthPrefixedDecoder, which asks for the next message's 2-byte length
// until the buffer runs out, and Noise's length reader (uint16BEDecode) answers "fewer than two bytes" by throwing a
// RangeError that the decoder catches. That is after every message read: each socket read ends in a thrown error
// with its stack trace captured (a few microseconds, more in a process woken from sleep), on every connection of
// every node, twice per read on a relayed connection (its own Noise inside the relay connection's), and on every
// frame a relay forwards (issue 10: relayed latency and the relay's CPU per message).
//
// Here the reader answers "fewer than two bytes" with a length that the buffer cannot yet hold, so the decoder
// waits for more bytes exactly as it does after the RangeError, without one. Only the answer to a short buffer
// changes: two bytes or more go to Noise's own reader, and the decoder's bounds are its own. Set per connection,
// on our nodes only; a later Noise or @libp2p/utils without the fields this sets fails every connection
// (NoiseShapeError) instead of quietly reading differently. test/net/noise-reads.test.ts.
import { noise, type NoiseInit } from '@chainsafe/libp2p-noise'
import type { ConnectionEncrypter } from '@libp2p/interface'

/** Thrown when @chainsafe/libp2p-noise or @libp2p/utils no longer has the members this module sets. */
export class NoiseShapeError extends Error {
  constructor (what: string) {
    super(`@chainsafe/libp2p-noise changed shape (${what}): check src/net/noise-reads.ts against the new version`)
    this.name = 'NoiseShapeError'
  }
}

/** What the length reader is given: the decoder's buffer (a Uint8ArrayList) or a plain array. */
interface Bytes { readonly byteLength: number }
type LengthReader = (data: Bytes) => number

/** Noise's length prefix: 2 bytes, big-endian. */
const LENGTH_BYTES = 2
/**
 * The answer to a buffer of fewer than LENGTH_BYTES: a message length the buffer cannot hold yet (the decoder
 * needs the prefix plus this many bytes, and has fewer than two), within any bound the decoder checks.
 */
export const NEEDS_MORE = LENGTH_BYTES

/** Noise's reader for LENGTH_BYTES or more; NEEDS_MORE below that. */
export function quietLengthReader (stock: LengthReader): LengthReader {
  return (data) => data.byteLength < LENGTH_BYTES ? NEEDS_MORE : stock(data)
}

/** The decoder of Noise's encrypted message stream (EncryptedMessageStream.decoder, a LengthPrefixedDecoder). */
interface DecoderHost { decoder?: { lengthDecoder?: unknown, decode?: unknown } }

export function quietReads (connection: unknown): void {
  const d = (connection as DecoderHost).decoder
  if (d === undefined || typeof d.decode !== 'function') throw new NoiseShapeError('the encrypted stream has no decoder')
  if (typeof d.lengthDecoder !== 'function') throw new NoiseShapeError('the decoder has no lengthDecoder')
  d.lengthDecoder = quietLengthReader(d.lengthDecoder as LengthReader)
}

type Secure = (...args: unknown[]) => Promise<{ connection: unknown }>

/** `noise(init)` whose encrypted connections read their message lengths without throwing. */
export function noiseQuietReads (init?: NoiseInit): (components: Parameters<ReturnType<typeof noise>>[0]) => ConnectionEncrypter {
  const factory = noise(init)
  return (components) => {
    const encrypter = factory(components)
    const e = encrypter as unknown as { secureInbound: Secure, secureOutbound: Secure }
    for (const method of ['secureInbound', 'secureOutbound'] as const) {
      const stock = e[method].bind(encrypter)
      e[method] = async (...args: unknown[]) => {
        const secured = await stock(...args)
        quietReads(secured.connection)
        return secured
      }
    }
    return encrypter
  }
}
