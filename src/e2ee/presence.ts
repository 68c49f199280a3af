// Presence records for the DHT: where a device can be reached now, readable only by one contact.
// Key and encryption key rotate daily, both derived (HKDF-SHA256) from a per-contact presence secret,
// and each record is signed by a per-contact Ed25519 key; secret and verification key travel only
// inside the encrypted contact card. A DHT node sees opaque bytes under a key it cannot link to any
// account or to the next day's key; whoever learns the secret still cannot forge a record.
import { createPrivateKey, createPublicKey, generateKeyPairSync, hkdfSync, randomBytes, sign, verify } from 'node:crypto'
import sodium from 'sodium-native'
import { Reader, Writer } from '../wire/bytes.ts'
import { WireError } from '../wire/errors.ts'
import { MAX_ADDRESSES, MAX_ADDRESS_BYTES, MAX_PEER_ID_BYTES, PRESENCE_KEY_BYTES as PRESENCE_VERIFY_KEY_BYTES, PRESENCE_SECRET_BYTES } from '../wire/payload.ts'
import { MAX_PRESENCE_CLOCK_SKEW_MS } from '../wire/presence.ts'

/** v2 (issue 9): signed by the per-contact presence key. */
export const PRESENCE_RECORD_VERSION = 0x02
const SIGNATURE_BYTES = 64
/** Domain separation of the record signature: `context || rendezvous key || record bytes before the signature`. */
const SIGNATURE_CONTEXT = Buffer.from('0m1 presence v2\0')
/** RFC 8410 SPKI prefix of a raw Ed25519 public key, so node:crypto can verify with it. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')
/** A record may be dated at most this far past the reader's clock (the DHT validator's bound, one definition). */
export const PRESENCE_UPDATED_AT_SKEW_MS = MAX_PRESENCE_CLOCK_SKEW_MS
export const PRESENCE_KEY_BYTES = 32
const NONCE_BYTES = 24
const TAG_BYTES = 16
const SALT = Buffer.from('0m1 presence')
/** Keys rotate at each UTC day; a lookup also tries the previous day (clock skew, late publish). */
export const PRESENCE_PERIOD_MS = 24 * 3600_000

export interface Presence {
  readonly peerId: string
  readonly addresses: readonly string[]
  readonly updatedAt: number
}

export function presenceDay (now: number): number {
  return Math.floor(now / PRESENCE_PERIOD_MS)
}

function derive (secret: Uint8Array, label: 'key' | 'enc', day: number): Buffer {
  if (secret.length !== PRESENCE_SECRET_BYTES) throw new RangeError(`presence secret must be ${PRESENCE_SECRET_BYTES} bytes`)
  const info = Buffer.alloc(label.length + 4)
  info.write(label, 0, 'latin1')
  info.writeUInt32BE(day, label.length)
  return Buffer.from(hkdfSync('sha256', secret, SALT, info, PRESENCE_KEY_BYTES))
}

/** The DHT rendezvous key of the record published with this secret on that day. */
export function presenceKey (secret: Uint8Array, day: number): Uint8Array {
  return derive(secret, 'key', day)
}

/** A per-contact presence signing key: PKCS#8 private key (stays on this device) and raw 32-byte public key (goes into the card). */
export function newPresenceKeys (): { privateKey: Uint8Array, publicKey: Uint8Array } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  return {
    privateKey: new Uint8Array(privateKey.export({ type: 'pkcs8', format: 'der' })),
    publicKey: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }).subarray(-PRESENCE_VERIFY_KEY_BYTES))
  }
}

function signedBytes (secret: Uint8Array, day: number, body: Uint8Array): Buffer {
  return Buffer.concat([SIGNATURE_CONTEXT, presenceKey(secret, day), body])
}

/** Encodes, signs (with the contact's presence signing key, PKCS#8) and encrypts a record for one contact and day. */
export function sealPresence (secret: Uint8Array, day: number, p: Presence, signingKey: Uint8Array, o: { nonce?: Uint8Array } = {}): Uint8Array {
  const w = new Writer(256)
  w.u8(PRESENCE_RECORD_VERSION)
  w.string(1, MAX_PEER_ID_BYTES, p.peerId, 'peerId')
  w.strings(MAX_ADDRESSES, MAX_ADDRESS_BYTES, p.addresses, 'addresses')
  w.u64(p.updatedAt)
  const body = w.finish()
  const key = createPrivateKey({ key: Buffer.from(signingKey), format: 'der', type: 'pkcs8' })
  const signature = sign(null, signedBytes(secret, day, body), key)
  const plain = Buffer.concat([body, signature])
  // A fixed nonce is for golden vectors only; every real record gets a random one.
  const nonce = o.nonce === undefined ? randomBytes(NONCE_BYTES) : Buffer.from(o.nonce)
  if (nonce.length !== NONCE_BYTES) throw new RangeError(`nonce must be ${NONCE_BYTES} bytes`)
  const out = Buffer.alloc(NONCE_BYTES + plain.length + TAG_BYTES)
  nonce.copy(out)
  sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(out.subarray(NONCE_BYTES), plain, null, null, nonce, derive(secret, 'enc', day))
  return out
}

/**
 * Opens a record. Throws WireError: AUTH when it was not sealed with this secret and day or not signed by
 * `verifyKey` (raw Ed25519), INVALID when dated more than PRESENCE_UPDATED_AT_SKEW_MS past `now`.
 */
export function openPresence (secret: Uint8Array, day: number, sealed: Uint8Array, o: { verifyKey: Uint8Array, now: number }): Presence {
  if (o.verifyKey.length !== PRESENCE_VERIFY_KEY_BYTES) throw new RangeError(`verifyKey must be ${PRESENCE_VERIFY_KEY_BYTES} bytes`)
  if (sealed.length < NONCE_BYTES + TAG_BYTES + 1 + SIGNATURE_BYTES) throw new WireError('TRUNCATED', 'The presence record is too short.')
  const buf = Buffer.from(sealed)
  const plain = Buffer.alloc(buf.length - NONCE_BYTES - TAG_BYTES)
  try {
    sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(plain, null, buf.subarray(NONCE_BYTES), null, buf.subarray(0, NONCE_BYTES), derive(secret, 'enc', day))
  } catch (err) {
    throw new WireError('AUTH', 'The presence record does not open with this contact\'s secret.', { cause: err })
  }
  const body = plain.subarray(0, plain.length - SIGNATURE_BYTES)
  const r = new Reader(body, 'presence record')
  const version = r.u8('version')
  if (version !== PRESENCE_RECORD_VERSION) throw new WireError('VERSION', `Presence record version ${version} is not supported.`)
  const peerId = r.string(1, MAX_PEER_ID_BYTES, 'peerId')
  const addresses = r.strings(MAX_ADDRESSES, MAX_ADDRESS_BYTES, 'addresses')
  const updatedAt = r.u64('updatedAt')
  r.end()
  const verifyKey = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, o.verifyKey]), format: 'der', type: 'spki' })
  if (!verify(null, signedBytes(secret, day, body), verifyKey, plain.subarray(plain.length - SIGNATURE_BYTES))) {
    throw new WireError('AUTH', 'The presence record is not signed by this contact\'s presence key.')
  }
  if (updatedAt > o.now + PRESENCE_UPDATED_AT_SKEW_MS) throw new WireError('INVALID', 'The presence record is dated in the future.')
  return { peerId, addresses, updatedAt }
}
