// /0m1/stun-port/1.0.0: how a device learns on which UDP port one of its relays answers STUN. The relay
// handles the protocol only when its STUN responder runs (so identify's protocol list says whether it
// has one); on a new stream it writes one length-prefixed frame: version (1) + port (2, big-endian).
// The STUN host is the host the device already dials the relay at, so only the port travels.
import { WireError } from './errors.ts'

export const STUN_PORT_PROTOCOL = '/0m1/stun-port/1.0.0'
export const STUN_PORT_VERSION = 0x01
/** The whole frame: version + port. */
export const STUN_PORT_FRAME_BYTES = 3

export function encodeStunPort (port: number): Uint8Array {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError('port must be 1..65535')
  return Uint8Array.of(STUN_PORT_VERSION, port >> 8, port & 0xff)
}

export function decodeStunPort (bytes: Uint8Array): number {
  if (bytes.length < 1) throw new WireError('TRUNCATED', 'Empty STUN port frame.')
  if (bytes[0] !== STUN_PORT_VERSION) throw new WireError('VERSION', `STUN port frame version ${bytes[0]} is not supported.`)
  if (bytes.length < STUN_PORT_FRAME_BYTES) throw new WireError('TRUNCATED', 'The STUN port frame ends early.')
  if (bytes.length > STUN_PORT_FRAME_BYTES) throw new WireError('TRAILING', 'The STUN port frame has bytes after the port.')
  const port = ((bytes[1] as number) << 8) | (bytes[2] as number)
  if (port === 0) throw new WireError('INVALID', 'STUN port 0 is not a port.')
  return port
}
