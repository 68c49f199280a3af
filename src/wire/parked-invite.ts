// Issue 13: short invites. The full invite (src/wire/invite.ts) is sealed with a random key and parked on one
// of the inviter's relays under a random id; the short link names the relay, the id and the key, in at most
// MAX_SHORT_LINK_CHARS characters. Expanding it fetches the sealed invite and opens it: the invite inside is
// then verified as any invite (its signature), so the relay can withhold it but never change it.
//
// /0m1/park/1.0.0: one request frame, one answer frame per stream (length-prefixed, both bounded).
//   request: version u8 | op u8 (1 park, 2 fetch, 3 remove) | id bytes[8] |
//            park: expiresAt u64 | removeToken bytes[16] | sealed bytes16<MAX_PARKED_BYTES>
//            remove: removeToken bytes[16]
//   answer:  version u8 | status u8 (0 ok, 1 not found, 2 refused) | fetch ok: sealed bytes16<MAX_PARKED_BYTES>
// Short link: `0m1s:` + base64url( version u8 | relay multiaddr bytes8<MAX_RELAY_REF_BYTES> | id bytes[8] | key bytes[16] ).
import { multiaddr } from '@multiformats/multiaddr'
import { Reader, Writer } from './bytes.ts'
import { WireError } from './errors.ts'

export const PARK_PROTOCOL = '/0m1/park/1.0.0'
export const PARK_VERSION = 0x01
export const SHORT_LINK_PREFIX = '0m1s:'
/** The bound: a link a person can paste into any chat or read off a QR code at a glance. */
export const MAX_SHORT_LINK_CHARS = 120
/** A parked invite's id: random, per relay; 64 bits make a guess useless (and the blob is sealed anyway). */
export const PARK_ID_BYTES = 8
/** AES-128-GCM key of the parked invite: 128 bits is the standard strength, and keeps the link short. */
export const PARK_KEY_BYTES = 16
export const PARK_REMOVE_TOKEN_BYTES = 16
/** A sealed invite: an invite link is about 3.2 KB of text (src/api/invite-text.ts); room for larger prekeys. */
export const MAX_PARKED_BYTES = 6 * 1024
/** The relay's address in binary multiaddr form (ip4/ip6/dns + tcp + p2p is 40-70 bytes). */
export const MAX_RELAY_REF_BYTES = 80
/** The longest frame either side accepts. */
export const MAX_PARK_FRAME_BYTES = MAX_PARKED_BYTES + 64

export type ParkRequest =
  | { readonly op: 'park', readonly id: Uint8Array, readonly expiresAt: number, readonly removeToken: Uint8Array, readonly sealed: Uint8Array }
  | { readonly op: 'fetch', readonly id: Uint8Array }
  | { readonly op: 'remove', readonly id: Uint8Array, readonly removeToken: Uint8Array }
export type ParkStatus = 'ok' | 'not-found' | 'refused'
export interface ParkAnswer { readonly status: ParkStatus, readonly sealed?: Uint8Array }

const OPS = { park: 1, fetch: 2, remove: 3 } as const
const STATUSES: readonly ParkStatus[] = ['ok', 'not-found', 'refused']

export function encodeParkRequest (r: ParkRequest): Uint8Array {
  const w = new Writer(64 + (r.op === 'park' ? r.sealed.length : 0))
  w.u8(PARK_VERSION).u8(OPS[r.op]).fixed(r.id, PARK_ID_BYTES, 'id')
  if (r.op === 'park') w.u64(r.expiresAt).fixed(r.removeToken, PARK_REMOVE_TOKEN_BYTES, 'removeToken').sized(2, MAX_PARKED_BYTES, r.sealed, 'sealed')
  if (r.op === 'remove') w.fixed(r.removeToken, PARK_REMOVE_TOKEN_BYTES, 'removeToken')
  return w.finish().slice()
}

export function decodeParkRequest (bytes: Uint8Array): ParkRequest {
  if (bytes.length > MAX_PARK_FRAME_BYTES) throw new WireError('TOO_LARGE', 'The park request is too large.')
  const r = new Reader(bytes, 'park request')
  const v = r.u8('version')
  if (v !== PARK_VERSION) throw new WireError('VERSION', `The park request has version ${v}; this relay reads version ${PARK_VERSION}.`)
  const op = r.u8('op')
  const id = r.fixed(PARK_ID_BYTES, 'id')
  let out: ParkRequest
  if (op === OPS.park) {
    const expiresAt = r.u64('expiry')
    const removeToken = r.fixed(PARK_REMOVE_TOKEN_BYTES, 'remove token')
    out = { op: 'park', id, expiresAt, removeToken, sealed: r.sized(2, MAX_PARKED_BYTES, 'sealed invite') }
  } else if (op === OPS.fetch) {
    out = { op: 'fetch', id }
  } else if (op === OPS.remove) {
    out = { op: 'remove', id, removeToken: r.fixed(PARK_REMOVE_TOKEN_BYTES, 'remove token') }
  } else {
    throw new WireError('UNKNOWN_KIND', `The park request has an unknown operation ${op}.`)
  }
  r.end()
  return out
}

export function encodeParkAnswer (a: ParkAnswer): Uint8Array {
  const w = new Writer(16 + (a.sealed?.length ?? 0))
  w.u8(PARK_VERSION).u8(STATUSES.indexOf(a.status))
  if (a.sealed !== undefined) w.sized(2, MAX_PARKED_BYTES, a.sealed, 'sealed')
  return w.finish().slice()
}

/** `withBlob`: the answer to a fetch carries the sealed invite when ok. */
export function decodeParkAnswer (bytes: Uint8Array, withBlob: boolean): ParkAnswer {
  if (bytes.length > MAX_PARK_FRAME_BYTES) throw new WireError('TOO_LARGE', 'The park answer is too large.')
  const r = new Reader(bytes, 'park answer')
  const v = r.u8('version')
  if (v !== PARK_VERSION) throw new WireError('VERSION', `The park answer has version ${v}.`)
  const s = r.u8('status')
  const status = STATUSES[s]
  if (status === undefined) throw new WireError('UNKNOWN_KIND', `The park answer has an unknown status ${s}.`)
  const sealed = status === 'ok' && withBlob ? r.sized(2, MAX_PARKED_BYTES, 'sealed invite') : undefined
  r.end()
  return { status, ...(sealed === undefined ? {} : { sealed }) }
}

export interface ShortLink { readonly relay: string, readonly id: Uint8Array, readonly key: Uint8Array }

export function encodeShortLink (l: ShortLink): string {
  const w = new Writer(128)
  w.u8(PARK_VERSION).sized(1, MAX_RELAY_REF_BYTES, multiaddr(l.relay).bytes, 'relay').fixed(l.id, PARK_ID_BYTES, 'id').fixed(l.key, PARK_KEY_BYTES, 'key')
  return SHORT_LINK_PREFIX + Buffer.from(w.finish()).toString('base64url')
}

export function isShortLink (text: string): boolean {
  return text.trim().startsWith(SHORT_LINK_PREFIX)
}

export function decodeShortLink (text: string): ShortLink {
  const t = text.trim()
  if (!t.startsWith(SHORT_LINK_PREFIX)) throw new WireError('INVALID', 'This is not a short invite link.')
  if (t.length > MAX_SHORT_LINK_CHARS) throw new WireError('TOO_LARGE', `A short invite link has at most ${MAX_SHORT_LINK_CHARS} characters.`)
  const body = t.slice(SHORT_LINK_PREFIX.length)
  if (!/^[A-Za-z0-9_-]*$/.test(body)) throw new WireError('INVALID', 'This short invite link has characters that do not belong in it.')
  const r = new Reader(Buffer.from(body, 'base64url'), 'short invite link')
  const v = r.u8('version')
  if (v !== PARK_VERSION) throw new WireError('VERSION', `This short invite link has version ${v}; this program reads version ${PARK_VERSION}.`)
  const raw = r.sized(1, MAX_RELAY_REF_BYTES, 'relay')
  const id = r.fixed(PARK_ID_BYTES, 'id')
  const key = r.fixed(PARK_KEY_BYTES, 'key')
  r.end()
  let relay: string
  try {
    relay = multiaddr(raw).toString()
  } catch (err) {
    throw new WireError('INVALID', 'This short invite link names no relay this program can reach.', { cause: err })
  }
  return { relay, id, key }
}
