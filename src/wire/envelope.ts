// The sealed envelope, the only bytes a relay or the network sees: a version, the recipient's
// per-contact mailbox id, and an XChaCha20-Poly1305 box (key = mailbox key) padded to a size bucket.
// Layout and reasons: docs/protocol.md "Envelope".
import sodium from 'sodium-native'
import { WireError } from './errors.ts'

export const ENVELOPE_VERSION = 0x01
export const MAILBOX_ID_BYTES = 32
export const MAILBOX_KEY_BYTES = 32
export const NONCE_BYTES = 24
export const TAG_BYTES = 16
/** version(1) | mailboxId(32) | nonce(24) */
export const ENVELOPE_HEADER_BYTES = 1 + MAILBOX_ID_BYTES + NONCE_BYTES
/** innerType(1) | length(4) */
export const INNER_HEADER_BYTES = 5
/** Total envelope sizes. Every envelope is exactly one of these, so a relay learns only a coarse size:
 * 1 KiB holds any ordinary text message, 4 KiB a session-starting (PreKey, sealed) message, the
 * larger ones long texts. 64 KiB caps what a relay must store per envelope. */
export const ENVELOPE_BUCKETS: readonly number[] = [1024, 4096, 16384, 65536]
export const MAX_ENVELOPE_BYTES = 65536
/** The largest libsignal message an envelope can carry. */
export const MAX_INNER_BODY_BYTES = MAX_ENVELOPE_BYTES - ENVELOPE_HEADER_BYTES - TAG_BYTES - INNER_HEADER_BYTES

/** 0x01: libsignal sealed-sender message (session not yet confirmed: it hides the PreKey message's
 * identity key from whoever knows the invite's mailbox key). 0x02: plain libsignal SignalMessage. */
export const INNER_SEALED = 0x01
export const INNER_SIGNAL = 0x02
/** Issue 11: a libsignal SenderKeyMessage (group), preceded by the sender's identity key (docs/protocol.md §10). */
export const INNER_GROUP = 0x03
export type InnerType = typeof INNER_SEALED | typeof INNER_SIGNAL | typeof INNER_GROUP

export interface EnvelopeHeader {
  readonly mailboxId: Uint8Array
  readonly nonce: Uint8Array
}

export interface Inner {
  readonly innerType: InnerType
  readonly body: Uint8Array
}

/** The smallest bucket that holds `bodyLength` bytes of libsignal message, or undefined if none. */
export function bucketFor (bodyLength: number): number | undefined {
  const need = ENVELOPE_HEADER_BYTES + TAG_BYTES + INNER_HEADER_BYTES + bodyLength
  return ENVELOPE_BUCKETS.find((b) => b >= need)
}

function check (bytes: Uint8Array, n: number, name: string): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== n) throw new TypeError(`${name} must be a Uint8Array of ${n} bytes`)
}

/**
 * Seals a libsignal message for a mailbox. `nonce` is for test vectors only; by default 24 random bytes
 * (XChaCha's 192-bit nonce makes random nonces safe under one long-lived mailbox key).
 */
export function sealEnvelope (o: { mailboxId: Uint8Array, mailboxKey: Uint8Array, innerType: InnerType, body: Uint8Array, nonce?: Uint8Array }): Uint8Array {
  check(o.mailboxId, MAILBOX_ID_BYTES, 'mailboxId')
  check(o.mailboxKey, MAILBOX_KEY_BYTES, 'mailboxKey')
  // For untyped (JavaScript) callers: the type already says 1 | 2.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
  if (o.innerType !== INNER_SEALED && o.innerType !== INNER_SIGNAL && o.innerType !== INNER_GROUP) throw new RangeError(`innerType must be 1, 2 or 3 (got ${String(o.innerType)})`)
  const size = bucketFor(o.body.length)
  if (size === undefined) throw new RangeError(`message too large for an envelope: ${o.body.length} > ${MAX_INNER_BODY_BYTES} bytes`)
  const out = Buffer.alloc(size)
  out[0] = ENVELOPE_VERSION
  out.set(o.mailboxId, 1)
  const nonce = out.subarray(1 + MAILBOX_ID_BYTES, ENVELOPE_HEADER_BYTES)
  if (o.nonce !== undefined) {
    check(o.nonce, NONCE_BYTES, 'nonce')
    nonce.set(o.nonce)
  } else {
    sodium.randombytes_buf(nonce)
  }
  // Inner plaintext: innerType | length | body | zero padding up to the bucket.
  const inner = Buffer.alloc(size - ENVELOPE_HEADER_BYTES - TAG_BYTES)
  inner[0] = o.innerType
  inner.writeUInt32BE(o.body.length, 1)
  inner.set(o.body, INNER_HEADER_BYTES)
  const ad = out.subarray(0, 1 + MAILBOX_ID_BYTES)
  sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(out.subarray(ENVELOPE_HEADER_BYTES), inner, ad, null, nonce, toBuffer(o.mailboxKey))
  return out
}

/** Reads what a relay may read: checks version and size, returns the mailbox id. Nothing is decrypted. */
export function readEnvelopeHeader (envelope: Uint8Array): EnvelopeHeader {
  if (!(envelope instanceof Uint8Array)) throw new TypeError('envelope must be a Uint8Array')
  if (envelope.length < 1) throw new WireError('TRUNCATED', 'The envelope is empty.')
  if (envelope[0] !== ENVELOPE_VERSION) throw new WireError('VERSION', `The envelope has version ${String(envelope[0])}; this program reads version ${ENVELOPE_VERSION}.`)
  if (envelope.length > MAX_ENVELOPE_BYTES) throw new WireError('TOO_LARGE', `The envelope is ${envelope.length} bytes, over the ${MAX_ENVELOPE_BYTES}-byte limit.`)
  if (!ENVELOPE_BUCKETS.includes(envelope.length)) {
    throw new WireError(envelope.length < ENVELOPE_HEADER_BYTES + TAG_BYTES + INNER_HEADER_BYTES ? 'TRUNCATED' : 'INVALID', `The envelope is ${envelope.length} bytes, not one of the padded sizes.`)
  }
  return {
    mailboxId: envelope.subarray(1, 1 + MAILBOX_ID_BYTES),
    nonce: envelope.subarray(1 + MAILBOX_ID_BYTES, ENVELOPE_HEADER_BYTES)
  }
}

/** Opens an envelope whose header was read; checks the tag first, then the inner layout and padding. */
export function openEnvelope (envelope: Uint8Array, mailboxKey: Uint8Array): Inner {
  const header = readEnvelopeHeader(envelope)
  check(mailboxKey, MAILBOX_KEY_BYTES, 'mailboxKey')
  const buf = toBuffer(envelope)
  const inner = Buffer.alloc(envelope.length - ENVELOPE_HEADER_BYTES - TAG_BYTES)
  try {
    sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(inner, null, buf.subarray(ENVELOPE_HEADER_BYTES), buf.subarray(0, 1 + MAILBOX_ID_BYTES), toBuffer(header.nonce), toBuffer(mailboxKey))
  } catch {
    throw new WireError('AUTH', 'The envelope failed authentication: it was altered or is not for this mailbox key.')
  }
  const innerType = inner[0]
  if (innerType !== INNER_SEALED && innerType !== INNER_SIGNAL && innerType !== INNER_GROUP) throw new WireError('UNKNOWN_KIND', `The envelope holds an unknown inner type ${String(innerType)}.`)
  const length = inner.readUInt32BE(1)
  if (length > inner.length - INNER_HEADER_BYTES) throw new WireError('TRUNCATED', 'The envelope declares a message longer than its box.')
  const end = INNER_HEADER_BYTES + length
  // The padding is authenticated, but a non-zero byte still means a sender that does not follow the format.
  if (!sodium.sodium_is_zero(inner.subarray(end))) throw new WireError('INVALID', 'The envelope padding is not zero.')
  return { innerType, body: inner.subarray(INNER_HEADER_BYTES, end) }
}

function toBuffer (b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength)
}
