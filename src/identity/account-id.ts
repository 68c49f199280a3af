// Account ids: a short, checksummed, human-copyable name for an identity key, and the libsignal
// address (a UUID) derived from the same key. Both are self-certifying: anyone holding the key can
// recompute them, nobody can pick them.
import { createHash } from 'node:crypto'
import { IdentityError } from './errors.ts'

/** 15 bytes = 120 bits of SHA-256: collisions need ~2^60 work, a second preimage 2^120. */
export const ACCOUNT_ID_HASH_BYTES = 15
/** 4 base32 characters = 20 bits of checksum: a typo slips through once in a million. */
export const ACCOUNT_ID_CHECK_CHARS = 4
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567'
const BODY_CHARS = (ACCOUNT_ID_HASH_BYTES * 8) / 5 // 24
const TOTAL_CHARS = BODY_CHARS + ACCOUNT_ID_CHECK_CHARS // 28
const GROUP = 4

function base32 (bytes: Uint8Array): string {
  let bits = 0
  let value = 0
  let out = ''
  for (const b of bytes) {
    value = (value << 8) | b
    bits += 8
    while (bits >= 5) {
      out += ALPHABET.charAt((value >>> (bits - 5)) & 31)
      bits -= 5
    }
  }
  if (bits > 0) out += ALPHABET.charAt((value << (5 - bits)) & 31)
  return out
}

function checksum (body: string): string {
  return base32(createHash('sha256').update('0m1 account id check\0').update(body).digest()).slice(0, ACCOUNT_ID_CHECK_CHARS)
}

/** SHA-256 of the serialized libsignal identity public key (33 bytes, type prefix included). */
export function identityHash (identityKey: Uint8Array): Buffer {
  return createHash('sha256').update(identityKey).digest()
}

/** `abcd-efgh-ijkl-mnop-qrst-uvwx-yz23`: 24 characters of hash + 4 of checksum, in groups of 4. */
export function accountIdFromIdentityKey (identityKey: Uint8Array): string {
  const body = base32(identityHash(identityKey).subarray(0, ACCOUNT_ID_HASH_BYTES))
  const all = body + checksum(body)
  return all.match(/.{1,4}/g)?.join('-') ?? all
}

/**
 * Normalizes a typed account id (any case, spaces or dashes anywhere) and checks it.
 * A typo is reported as ACCOUNT_ID_CHECKSUM; wrong length or characters as ACCOUNT_ID_INVALID.
 */
export function parseAccountId (text: string): string {
  if (typeof text !== 'string') throw new TypeError('account id must be a string')
  const compact = text.toLowerCase().replace(/[\s-]+/g, '')
  if (compact.length !== TOTAL_CHARS || !Array.from(compact).every((c) => ALPHABET.includes(c))) {
    throw new IdentityError('ACCOUNT_ID_INVALID', `That is not an account id: it must be ${TOTAL_CHARS} letters and digits 2–7, in groups of ${GROUP}.`)
  }
  const body = compact.slice(0, BODY_CHARS)
  if (checksum(body) !== compact.slice(BODY_CHARS)) {
    throw new IdentityError('ACCOUNT_ID_CHECKSUM', 'That account id has a typo: its checksum does not match. Check each character.')
  }
  return compact.match(/.{1,4}/g)?.join('-') ?? compact
}

/** RFC 9562 version-8 UUID from SHA-256 of the identity key: the libsignal address and sealed-sender
 * name of an account. Derived, so a certificate naming another key's UUID is detected. */
export function signalUuidFromIdentityKey (identityKey: Uint8Array): string {
  const h = createHash('sha256').update('0m1 signal address\0').update(identityKey).digest().subarray(0, 16)
  h[6] = ((h[6] as number) & 0x0f) | 0x80
  h[8] = ((h[8] as number) & 0x3f) | 0x80
  const x = h.toString('hex')
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`
}
