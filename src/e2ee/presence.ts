// Presence records for the DHT: where a device can be reached now, readable only by one contact.
// Key and encryption key rotate daily, both derived (HKDF-SHA256) from a per-contact presence secret
// that travels in the invite or inside the encrypted contact card, so a DHT node sees opaque bytes
// under a key it cannot link to any account or to the next day's key.
import { hkdfSync, randomBytes } from 'node:crypto'
import sodium from 'sodium-native'
import { Reader, Writer } from '../wire/bytes.ts'
import { WireError } from '../wire/errors.ts'
import { MAX_ADDRESSES, MAX_ADDRESS_BYTES, MAX_PEER_ID_BYTES, PRESENCE_SECRET_BYTES } from '../wire/payload.ts'

export const PRESENCE_RECORD_VERSION = 0x01
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

export function sealPresence (secret: Uint8Array, day: number, p: Presence): Uint8Array {
  const w = new Writer(256)
  w.u8(PRESENCE_RECORD_VERSION)
  w.string(1, MAX_PEER_ID_BYTES, p.peerId, 'peerId')
  w.strings(MAX_ADDRESSES, MAX_ADDRESS_BYTES, p.addresses, 'addresses')
  w.u64(p.updatedAt)
  const plain = Buffer.from(w.finish())
  const nonce = randomBytes(NONCE_BYTES)
  const out = Buffer.alloc(NONCE_BYTES + plain.length + TAG_BYTES)
  nonce.copy(out)
  sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(out.subarray(NONCE_BYTES), plain, null, null, nonce, derive(secret, 'enc', day))
  return out
}

/** Opens a record; throws WireError('AUTH') when it was not sealed with this secret and day. */
export function openPresence (secret: Uint8Array, day: number, sealed: Uint8Array): Presence {
  if (sealed.length < NONCE_BYTES + TAG_BYTES + 1) throw new WireError('TRUNCATED', 'The presence record is too short.')
  const buf = Buffer.from(sealed)
  const plain = Buffer.alloc(buf.length - NONCE_BYTES - TAG_BYTES)
  try {
    sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(plain, null, buf.subarray(NONCE_BYTES), null, buf.subarray(0, NONCE_BYTES), derive(secret, 'enc', day))
  } catch (err) {
    throw new WireError('AUTH', 'The presence record does not open with this contact\'s secret.', { cause: err })
  }
  const r = new Reader(plain, 'presence record')
  const version = r.u8('version')
  if (version !== PRESENCE_RECORD_VERSION) throw new WireError('VERSION', `Presence record version ${version} is not supported.`)
  const peerId = r.string(1, MAX_PEER_ID_BYTES, 'peerId')
  const addresses = r.strings(MAX_ADDRESSES, MAX_ADDRESS_BYTES, 'addresses')
  const updatedAt = r.u64('updatedAt')
  r.end()
  return { peerId, addresses, updatedAt }
}
