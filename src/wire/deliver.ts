// Frames of /0m1/deliver/1.0.0: one sealed envelope from a device to a device, answered by a transport ack
// sent only after the receiver's handler has taken the envelope. Each frame travels as one varint-length-prefixed
// message (lpStream); the length prefix is checked against MAX_DELIVER_FRAME_BYTES before the body is buffered.
import { WireError } from './errors.ts'
import { MAX_ENVELOPE_BYTES } from './envelope.ts'

export const DELIVER_PROTOCOL = '/0m1/deliver/1.0.0'
export const DELIVER_VERSION = 0x01
/** version(1) + type(1) before the envelope. */
export const DELIVER_HEADER_BYTES = 2
/** Bound on any frame of this protocol: a full envelope plus its header; larger prefixes are refused unread. */
export const MAX_DELIVER_FRAME_BYTES = MAX_ENVELOPE_BYTES + DELIVER_HEADER_BYTES

const TYPE_DELIVER = 0x01
const TYPE_ACK = 0x02

export type DeliverStatus = 'accepted' | 'rejected' | 'too-large' | 'bad-frame'
const STATUS_CODES: Record<DeliverStatus, number> = { accepted: 0x00, rejected: 0x01, 'too-large': 0x02, 'bad-frame': 0x03 }
const STATUS_BY_CODE = new Map<number, DeliverStatus>(Object.entries(STATUS_CODES).map(([k, v]) => [v, k as DeliverStatus]))

export type DeliverFrame =
  | { readonly type: 'deliver', readonly envelope: Uint8Array }
  | { readonly type: 'ack', readonly status: DeliverStatus }

export function encodeDeliverFrame (frame: DeliverFrame): Uint8Array {
  if (frame.type === 'deliver') {
    checkEnvelope(frame.envelope)
    const out = new Uint8Array(DELIVER_HEADER_BYTES + frame.envelope.length)
    out[0] = DELIVER_VERSION
    out[1] = TYPE_DELIVER
    out.set(frame.envelope, DELIVER_HEADER_BYTES)
    return out
  }
  return Uint8Array.of(DELIVER_VERSION, TYPE_ACK, STATUS_CODES[frame.status])
}

export function decodeDeliverFrame (bytes: Uint8Array): DeliverFrame {
  if (bytes.length < 1) throw new WireError('TRUNCATED', 'Empty deliver frame.')
  if (bytes[0] !== DELIVER_VERSION) throw new WireError('VERSION', `Deliver frame version ${bytes[0]} is not supported; this build speaks version ${DELIVER_VERSION}.`)
  if (bytes.length > MAX_DELIVER_FRAME_BYTES) throw new WireError('TOO_LARGE', `Deliver frame of ${bytes.length} bytes is over the ${MAX_DELIVER_FRAME_BYTES}-byte limit.`)
  if (bytes.length < 2) throw new WireError('TRUNCATED', 'Deliver frame has no type.')
  const type = bytes[1]
  if (type === TYPE_DELIVER) {
    const envelope = new Uint8Array(bytes.subarray(DELIVER_HEADER_BYTES)) // a plain copy, never a Buffer view
    if (envelope.length === 0) throw new WireError('INVALID', 'Deliver frame carries an empty envelope.')
    return { type: 'deliver', envelope }
  }
  if (type === TYPE_ACK) {
    if (bytes.length !== 3) throw new WireError('INVALID', 'Deliver ack frame must be 3 bytes.')
    const status = STATUS_BY_CODE.get(bytes[2] ?? -1)
    if (status === undefined) throw new WireError('UNKNOWN_KIND', `Unknown deliver ack status ${bytes[2]}.`)
    return { type: 'ack', status }
  }
  throw new WireError('UNKNOWN_KIND', `Unknown deliver frame type ${type}.`)
}

/** Caller-side check (RangeError names the argument, as for any caller mistake). */
export function checkEnvelope (envelope: Uint8Array): void {
  if (!(envelope instanceof Uint8Array)) throw new TypeError('envelope must be a Uint8Array')
  if (envelope.length === 0) throw new RangeError('envelope must not be empty')
  if (envelope.length > MAX_ENVELOPE_BYTES) {
    throw new WireError('TOO_LARGE', `Envelope of ${envelope.length} bytes is over the ${MAX_ENVELOPE_BYTES}-byte maximum.`)
  }
}
