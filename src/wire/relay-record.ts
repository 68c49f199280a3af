// A relay's signed provider record (`/0m1/relay-info/1.0.0`, issue 16): who the relay is, where to dial it,
// what it offers and how full it is, signed by the relay's libp2p key. Devices fetch it from relays the DHT
// names as providers of the relay key; the signature check itself lives in src/net/relay-info.ts.
import { WireError } from './errors.ts'
import { MAX_ADDRESS_BYTES, MAX_ADDRESSES } from './payload.ts'

export const RELAY_RECORD_VERSION = 0x01
/** Domain separation: these signed bytes can never be mistaken for another message the relay key signs. */
export const RELAY_RECORD_CONTEXT = '0m1 relay-info v1\0'
/** A libp2p peer id's multihash: an identity-hashed Ed25519 key is 38 bytes, a sha256 one 34; 64 is ample. */
export const MAX_RELAY_PEER_ID_BYTES = 64
/** Operator names are a hint for diversity ("run by X"), not a profile. */
export const MAX_RELAY_OPERATOR_BYTES = 64
/** Ed25519 signatures (the only key type relays make). */
export const RELAY_SIGNATURE_BYTES = 64
/** version + issuedAt + peer id + services + capacity + addresses + operator + signature, all at their bounds. */
export const MAX_RELAY_RECORD_BYTES = 1 + 8 + 1 + MAX_RELAY_PEER_ID_BYTES + 1 + 12 + 1 + MAX_ADDRESSES * (2 + MAX_ADDRESS_BYTES) +
  1 + MAX_RELAY_OPERATOR_BYTES + RELAY_SIGNATURE_BYTES

/** Service bits. Unknown bits are kept (a newer relay may offer more) but mean nothing here. */
export const RELAY_SERVICE = { circuit: 0x01, mailbox: 0x02, stun: 0x04, blobs: 0x08 } as const
export type RelayService = keyof typeof RELAY_SERVICE

export interface RelayRecordBody {
  /** ms since the epoch, when the relay made the record. */
  readonly issuedAt: number
  /** The relay's peer id as multihash bytes. */
  readonly peerId: Uint8Array
  readonly services: number
  /** Capacity hints: free / total circuit reservations, free mailbox space in MiB (0xffffffff = unknown). */
  readonly reservationsFree: number
  readonly reservationsMax: number
  readonly mailboxFreeMiB: number
  /** Multiaddr strings, each with or without /p2p/<peerId>. */
  readonly addresses: readonly string[]
  /** '' when not stated. */
  readonly operator: string
}

export interface RelayRecord extends RelayRecordBody {
  readonly signature: Uint8Array
}

const utf8 = new TextEncoder()
const fatal = new TextDecoder('utf-8', { fatal: true })

function u32 (n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`${what} must be 0..2^32-1`)
  return n
}

/** The body bytes (everything but the signature), with the version in front. */
export function encodeRelayRecordBody (b: RelayRecordBody): Uint8Array {
  if (!Number.isSafeInteger(b.issuedAt) || b.issuedAt < 0) throw new RangeError('issuedAt must be a non-negative safe integer')
  if (b.peerId.length < 1 || b.peerId.length > MAX_RELAY_PEER_ID_BYTES) throw new RangeError(`peerId must be 1..${MAX_RELAY_PEER_ID_BYTES} bytes`)
  if (!Number.isInteger(b.services) || b.services < 0 || b.services > 0xff) throw new RangeError('services must be a byte')
  if (b.addresses.length < 1 || b.addresses.length > MAX_ADDRESSES) throw new RangeError(`addresses must hold 1..${MAX_ADDRESSES} entries`)
  const addrs = b.addresses.map((a) => utf8.encode(a))
  for (const a of addrs) if (a.length < 1 || a.length > MAX_ADDRESS_BYTES) throw new RangeError(`each address must be 1..${MAX_ADDRESS_BYTES} bytes`)
  const op = utf8.encode(b.operator)
  if (op.length > MAX_RELAY_OPERATOR_BYTES) throw new RangeError(`operator must be at most ${MAX_RELAY_OPERATOR_BYTES} bytes`)
  const size = 1 + 8 + 1 + b.peerId.length + 1 + 12 + 1 + addrs.reduce((n, a) => n + 2 + a.length, 0) + 1 + op.length
  const out = new Uint8Array(size)
  const v = new DataView(out.buffer)
  let o = 0
  out[o++] = RELAY_RECORD_VERSION
  v.setBigUint64(o, BigInt(b.issuedAt)); o += 8
  out[o++] = b.peerId.length
  out.set(b.peerId, o); o += b.peerId.length
  out[o++] = b.services
  v.setUint32(o, u32(b.reservationsFree, 'reservationsFree')); o += 4
  v.setUint32(o, u32(b.reservationsMax, 'reservationsMax')); o += 4
  v.setUint32(o, u32(b.mailboxFreeMiB, 'mailboxFreeMiB')); o += 4
  out[o++] = addrs.length
  for (const a of addrs) { v.setUint16(o, a.length); o += 2; out.set(a, o); o += a.length }
  out[o++] = op.length
  out.set(op, o)
  return out
}

/** What the relay's key signs: the context string, then the body bytes. */
export function relayRecordSignedBytes (body: Uint8Array): Uint8Array {
  const ctx = utf8.encode(RELAY_RECORD_CONTEXT)
  const out = new Uint8Array(ctx.length + body.length)
  out.set(ctx)
  out.set(body, ctx.length)
  return out
}

export function encodeRelayRecord (body: Uint8Array, signature: Uint8Array): Uint8Array {
  if (signature.length !== RELAY_SIGNATURE_BYTES) throw new RangeError(`signature must be ${RELAY_SIGNATURE_BYTES} bytes`)
  const out = new Uint8Array(body.length + signature.length)
  out.set(body)
  out.set(signature, body.length)
  return out
}

/** Decodes (bounded, strict) without checking the signature; returns the record and the signed body bytes. */
export function decodeRelayRecord (bytes: Uint8Array): { record: RelayRecord, body: Uint8Array } {
  if (bytes.length < 1) throw new WireError('TRUNCATED', 'Empty relay record.')
  if (bytes[0] !== RELAY_RECORD_VERSION) throw new WireError('VERSION', `Relay record version ${bytes[0]} is not supported; this build speaks version ${RELAY_RECORD_VERSION}.`)
  if (bytes.length > MAX_RELAY_RECORD_BYTES) throw new WireError('TOO_LARGE', 'Relay record is over its size limit.')
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let o = 1
  const need = (n: number): void => { if (o + n > bytes.length) throw new WireError('TRUNCATED', 'Relay record is truncated.') }
  need(8)
  const at = v.getBigUint64(o); o += 8
  if (at > BigInt(Number.MAX_SAFE_INTEGER)) throw new WireError('INVALID', 'Relay record time is out of range.')
  need(1)
  const idLen = bytes[o++] as number
  if (idLen < 1 || idLen > MAX_RELAY_PEER_ID_BYTES) throw new WireError('INVALID', 'Relay record peer id length is out of range.')
  need(idLen)
  const peerId = bytes.slice(o, o + idLen); o += idLen
  need(13)
  const services = bytes[o++] as number
  const reservationsFree = v.getUint32(o); o += 4
  const reservationsMax = v.getUint32(o); o += 4
  const mailboxFreeMiB = v.getUint32(o); o += 4
  need(1)
  const n = bytes[o++] as number
  if (n < 1 || n > MAX_ADDRESSES) throw new WireError('INVALID', `A relay record lists 1..${MAX_ADDRESSES} addresses.`)
  const addresses: string[] = []
  for (let i = 0; i < n; i++) {
    need(2)
    const len = v.getUint16(o); o += 2
    if (len < 1 || len > MAX_ADDRESS_BYTES) throw new WireError('TOO_LARGE', 'A relay record address is over its size limit.')
    need(len)
    addresses.push(text(bytes.subarray(o, o + len))); o += len
  }
  need(1)
  const opLen = bytes[o++] as number
  if (opLen > MAX_RELAY_OPERATOR_BYTES) throw new WireError('TOO_LARGE', 'The relay operator name is over its size limit.')
  need(opLen)
  const operator = text(bytes.subarray(o, o + opLen)); o += opLen
  const body = bytes.slice(0, o)
  need(RELAY_SIGNATURE_BYTES)
  const signature = bytes.slice(o, o + RELAY_SIGNATURE_BYTES); o += RELAY_SIGNATURE_BYTES
  if (o !== bytes.length) throw new WireError('TRAILING', 'The relay record has bytes after its signature.')
  return { record: { issuedAt: Number(at), peerId, services, reservationsFree, reservationsMax, mailboxFreeMiB, addresses, operator, signature }, body }
}

function text (b: Uint8Array): string {
  try {
    return fatal.decode(b)
  } catch {
    throw new WireError('INVALID', 'A relay record string is not valid UTF-8.')
  }
}

export function hasService (r: { services: number }, s: RelayService): boolean {
  return (r.services & RELAY_SERVICE[s]) !== 0
}
