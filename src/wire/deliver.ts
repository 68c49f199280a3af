// Frames of /0m1/deliver/2.1.0 and 2.0.0: sealed envelopes from a device to a device, pipelined with request ids on
// one long-lived stream per connection and direction, answered by acks (several per frame) sent only after the
// receiver's handler has taken each envelope. Each frame travels as one varint-length-prefixed message; the
// reader checks the prefix against MAX_DELIVER_FRAME_BYTES before it buffers the body. The two versions share
// the frames; 2.1.0 adds the ack status 'delivered' (the ack is the message's delivered receipt), which a 2.0.0
// stream never carries.
import { WireError } from './errors.ts'
import { MAX_ENVELOPE_BYTES } from './envelope.ts'

/** The version with delivered acks, offered first. */
export const DELIVER_PROTOCOL = '/0m1/deliver/2.1.0'
/** The version before delivered acks: still served and offered second, for peers that speak only it. */
export const DELIVER_PROTOCOL_2_0 = '/0m1/deliver/2.0.0'
/** What a sender offers, in order of preference, and what a receiver serves. */
export const DELIVER_PROTOCOLS = [DELIVER_PROTOCOL, DELIVER_PROTOCOL_2_0] as const
/** Whether a stream of this negotiated protocol may carry 'delivered' acks. */
export function acksCarryReceipts (protocol: string | undefined): boolean {
  return protocol === DELIVER_PROTOCOL
}
export const DELIVER_VERSION = 0x02
/** version(1) + type(1) + id(4) before the envelope. */
export const DELIVER_HEADER_BYTES = 6
/** Bound on any frame of this protocol: a full envelope plus its header; larger prefixes are refused unread. */
export const MAX_DELIVER_FRAME_BYTES = MAX_ENVELOPE_BYTES + DELIVER_HEADER_BYTES
/**
 * Envelopes a sender may have unacknowledged on one stream. Enough to keep the stream busy while the receiver
 * commits a batch (its handler runs for all of them at once), small enough that one stream can make a receiver
 * hold at most 32 × 64 KiB = 2 MiB. Measured against 48, 64 and 128 (with the messenger's MAX_IN_FLIGHT widened
 * alike) for issue 10's direct.throughput, 64 sends in flight: no gain. A window as wide as what the application
 * has in flight puts all of it in one batch, and the two devices take turns on it (event-loop utilisation of the
 * sender 0.79-0.92 -> 0.57-0.64, 2026-11-29); at 32 the two halves overlap, one on each device. The limit there
 * is CPU per message.
 */
export const DELIVER_WINDOW = 32
/** Acks in one frame: a receiver never owes more than a window of them. */
export const MAX_ACKS_PER_FRAME = DELIVER_WINDOW
/** version(1) + type(1) + n(1) + (id(4) + status(1)) * n. */
export const MAX_ACK_FRAME_BYTES = 3 + 5 * MAX_ACKS_PER_FRAME
/** An ack with id 0 answers for the stream itself (a frame too large or unreadable, whose id is unknown). */
export const STREAM_ACK_ID = 0
/** Envelope ids run 1..MAX_DELIVER_ID on a stream (4 bytes, big-endian), then wrap to 1. */
export const MAX_DELIVER_ID = 0xffffffff

const TYPE_DELIVER = 0x01
const TYPE_ACKS = 0x02

/**
 * 'delivered' (2.1.0 only): the receiver's handler stored the envelope as a message from the contact, or it is a
 * copy of one already stored; the ack is that message's delivered receipt. 'accepted': taken, nothing more said.
 */
export type DeliverStatus = 'accepted' | 'rejected' | 'too-large' | 'bad-frame' | 'delivered'
const STATUS_CODES: Record<DeliverStatus, number> = { accepted: 0x00, rejected: 0x01, 'too-large': 0x02, 'bad-frame': 0x03, delivered: 0x04 }
const STATUS_BY_CODE = new Map<number, DeliverStatus>(Object.entries(STATUS_CODES).map(([k, v]) => [v, k as DeliverStatus]))

export interface DeliverAck { readonly id: number, readonly status: DeliverStatus }

export type DeliverFrame =
  | { readonly type: 'deliver', readonly id: number, readonly envelope: Uint8Array }
  | { readonly type: 'acks', readonly acks: readonly DeliverAck[] }

function checkId (id: number, min: number): void {
  if (!Number.isInteger(id) || id < min || id > MAX_DELIVER_ID) throw new RangeError(`id must be an integer in ${min}..${MAX_DELIVER_ID}`)
}

export function encodeDeliverFrame (frame: DeliverFrame): Uint8Array {
  if (frame.type === 'deliver') {
    checkId(frame.id, 1)
    checkEnvelope(frame.envelope)
    const out = new Uint8Array(DELIVER_HEADER_BYTES + frame.envelope.length)
    out[0] = DELIVER_VERSION
    out[1] = TYPE_DELIVER
    new DataView(out.buffer).setUint32(2, frame.id)
    out.set(frame.envelope, DELIVER_HEADER_BYTES)
    return out
  }
  const n = frame.acks.length
  if (n < 1 || n > MAX_ACKS_PER_FRAME) throw new RangeError(`an ack frame carries 1..${MAX_ACKS_PER_FRAME} acks`)
  const out = new Uint8Array(3 + 5 * n)
  const view = new DataView(out.buffer)
  out[0] = DELIVER_VERSION
  out[1] = TYPE_ACKS
  out[2] = n
  frame.acks.forEach((a, i) => {
    checkId(a.id, STREAM_ACK_ID)
    const code = STATUS_CODES[a.status] as number | undefined // a caller's typo arrives as any string at run time
    if (code === undefined) throw new RangeError('unknown ack status')
    view.setUint32(3 + 5 * i, a.id)
    out[7 + 5 * i] = code
  })
  return out
}

export function decodeDeliverFrame (bytes: Uint8Array): DeliverFrame {
  if (bytes.length < 1) throw new WireError('TRUNCATED', 'Empty deliver frame.')
  if (bytes[0] !== DELIVER_VERSION) throw new WireError('VERSION', `Deliver frame version ${bytes[0]} is not supported; this build speaks version ${DELIVER_VERSION}.`)
  if (bytes.length > MAX_DELIVER_FRAME_BYTES) throw new WireError('TOO_LARGE', `Deliver frame of ${bytes.length} bytes is over the ${MAX_DELIVER_FRAME_BYTES}-byte limit.`)
  if (bytes.length < 2) throw new WireError('TRUNCATED', 'Deliver frame has no type.')
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const type = bytes[1]
  if (type === TYPE_DELIVER) {
    if (bytes.length < DELIVER_HEADER_BYTES) throw new WireError('TRUNCATED', 'Deliver frame ends before its id.')
    const id = view.getUint32(2)
    if (id === STREAM_ACK_ID) throw new WireError('INVALID', 'Deliver frame id 0 is reserved.')
    const envelope = new Uint8Array(bytes.subarray(DELIVER_HEADER_BYTES)) // a plain copy, never a Buffer view
    if (envelope.length === 0) throw new WireError('INVALID', 'Deliver frame carries an empty envelope.')
    return { type: 'deliver', id, envelope }
  }
  if (type === TYPE_ACKS) {
    if (bytes.length < 3) throw new WireError('TRUNCATED', 'Deliver ack frame has no count.')
    const n = bytes[2] as number
    if (n === 0) throw new WireError('INVALID', 'Deliver ack frame carries no acks.')
    if (n > MAX_ACKS_PER_FRAME) throw new WireError('TOO_LARGE', `Deliver ack frame of ${n} acks is over the ${MAX_ACKS_PER_FRAME}-ack limit.`)
    if (bytes.length < 3 + 5 * n) throw new WireError('TRUNCATED', 'Deliver ack frame ends before its last ack.')
    if (bytes.length > 3 + 5 * n) throw new WireError('TRAILING', 'Deliver ack frame has bytes after its last ack.')
    const acks: DeliverAck[] = []
    const seen = new Set<number>()
    for (let i = 0; i < n; i++) {
      const id = view.getUint32(3 + 5 * i)
      const status = STATUS_BY_CODE.get(bytes[7 + 5 * i] as number)
      if (status === undefined) throw new WireError('UNKNOWN_KIND', `Unknown deliver ack status ${bytes[7 + 5 * i]}.`)
      if (seen.has(id)) throw new WireError('INVALID', 'Deliver ack frame acks one id twice.')
      seen.add(id)
      acks.push({ id, status })
    }
    return { type: 'acks', acks }
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
