// Presence records in the DHT: key `/0m1p/<hex of the caller's rendezvous key>`, value
// `version(1) | publishedAt(u64 ms) | opaque value` — the caller encrypts the value (contract: XChaCha20-Poly1305
// under a per-day HKDF key), so a DHT node sees an opaque key, an opaque value and a time it sees anyway.
import { WireError } from './errors.ts'

/** First path segment of every presence key: kad-dht 16 picks validators/selectors by it (`/0m1p/...` -> '0m1p'). */
export const PRESENCE_NAMESPACE = '0m1p'
export const PRESENCE_KEY_PREFIX = `/${PRESENCE_NAMESPACE}/`
export const PRESENCE_VERSION = 0x01
/** Rendezvous keys are HKDF outputs: 16..64 bytes covers any sane choice (the contract uses 32). */
export const MIN_PRESENCE_KEY_BYTES = 16
export const MAX_PRESENCE_KEY_BYTES = 64
/** Peer id + a handful of addresses, encrypted: 2 KiB is ample and keeps DHT nodes' storage per key small. */
export const MAX_PRESENCE_VALUE_BYTES = 2048
export const PRESENCE_HEADER_BYTES = 1 + 8
export const MAX_PRESENCE_RECORD_BYTES = PRESENCE_HEADER_BYTES + MAX_PRESENCE_VALUE_BYTES
/** A record dated further ahead than this is refused: otherwise one forged future date would win selection forever. */
export const MAX_PRESENCE_CLOCK_SKEW_MS = 10 * 60 * 1000

export interface PresenceRecord { readonly publishedAt: number, readonly value: Uint8Array }

/** Accepts either the raw rendezvous key bytes or an already-formed `/0m1p/<hex>` key, returns the DHT key bytes. */
export function presenceDhtKey (key: Uint8Array): Uint8Array {
  if (!(key instanceof Uint8Array)) throw new TypeError('key must be a Uint8Array')
  const text = new TextDecoder('utf-8', { fatal: false }).decode(key)
  if (text.startsWith(PRESENCE_KEY_PREFIX)) {
    parsePresenceDhtKey(key)
    return key
  }
  if (key.length < MIN_PRESENCE_KEY_BYTES || key.length > MAX_PRESENCE_KEY_BYTES) {
    throw new RangeError(`key must be ${MIN_PRESENCE_KEY_BYTES}..${MAX_PRESENCE_KEY_BYTES} bytes`)
  }
  return new TextEncoder().encode(PRESENCE_KEY_PREFIX + Buffer.from(key).toString('hex'))
}

/** Checks a DHT key of this namespace; returns the rendezvous key bytes. */
export function parsePresenceDhtKey (dhtKey: Uint8Array): Uint8Array {
  if (dhtKey.length > PRESENCE_KEY_PREFIX.length + 2 * MAX_PRESENCE_KEY_BYTES) throw new WireError('TOO_LARGE', 'Presence key is too long.')
  const text = new TextDecoder('utf-8', { fatal: false }).decode(dhtKey)
  if (!text.startsWith(PRESENCE_KEY_PREFIX)) throw new WireError('INVALID', 'Not a presence key.')
  const hex = text.slice(PRESENCE_KEY_PREFIX.length)
  if (!/^(?:[0-9a-f]{2})+$/.test(hex)) throw new WireError('INVALID', 'Presence key is not lower-case hex.')
  const raw = Buffer.from(hex, 'hex')
  if (raw.length < MIN_PRESENCE_KEY_BYTES || raw.length > MAX_PRESENCE_KEY_BYTES) throw new WireError('INVALID', 'Presence key length is out of range.')
  return new Uint8Array(raw)
}

export function encodePresenceRecord (r: PresenceRecord): Uint8Array {
  if (!(r.value instanceof Uint8Array)) throw new TypeError('value must be a Uint8Array')
  if (r.value.length === 0 || r.value.length > MAX_PRESENCE_VALUE_BYTES) throw new RangeError(`value must be 1..${MAX_PRESENCE_VALUE_BYTES} bytes`)
  if (!Number.isSafeInteger(r.publishedAt) || r.publishedAt < 0) throw new RangeError('publishedAt must be a non-negative safe integer')
  const out = new Uint8Array(PRESENCE_HEADER_BYTES + r.value.length)
  const view = new DataView(out.buffer)
  out[0] = PRESENCE_VERSION
  view.setBigUint64(1, BigInt(r.publishedAt))
  out.set(r.value, PRESENCE_HEADER_BYTES)
  return out
}

export function decodePresenceRecord (bytes: Uint8Array): PresenceRecord {
  if (bytes.length < 1) throw new WireError('TRUNCATED', 'Empty presence record.')
  if (bytes[0] !== PRESENCE_VERSION) throw new WireError('VERSION', `Presence record version ${bytes[0]} is not supported; this build speaks version ${PRESENCE_VERSION}.`)
  if (bytes.length > MAX_PRESENCE_RECORD_BYTES) throw new WireError('TOO_LARGE', 'Presence record is over its size limit.')
  if (bytes.length <= PRESENCE_HEADER_BYTES) throw new WireError('TRUNCATED', 'Presence record is truncated.')
  const at = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(1)
  if (at > BigInt(Number.MAX_SAFE_INTEGER)) throw new WireError('INVALID', 'Presence record time is out of range.')
  return { publishedAt: Number(at), value: new Uint8Array(bytes.subarray(PRESENCE_HEADER_BYTES)) }
}

/** kad-dht validator for the namespace: bounded key, bounded versioned value, not dated in the future. */
export function validatePresence (dhtKey: Uint8Array, value: Uint8Array, now: number): void {
  parsePresenceDhtKey(dhtKey)
  const r = decodePresenceRecord(value)
  if (r.publishedAt > now + MAX_PRESENCE_CLOCK_SKEW_MS) throw new WireError('INVALID', 'Presence record is dated in the future.')
}

/** kad-dht selector: the newest record wins (index into `values`); undecodable ones never win. */
export function selectPresence (values: readonly Uint8Array[]): number {
  let best = 0
  let bestAt = -1
  values.forEach((v, i) => {
    try {
      const at = decodePresenceRecord(v).publishedAt
      if (at > bestAt) { best = i; bestAt = at }
    } catch { /* invalid records lose */ }
  })
  return best
}
