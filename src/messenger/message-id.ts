// Ids of outgoing texts that sort by the time they were made: the first 6 bytes are the milliseconds since the
// epoch (big-endian, as in a UUIDv7), the other 10 random. Both devices keep a message under the primary key
// (contact, direction, id) and index it by (contact, direction, id) for search, so a random id put every message
// on a B-tree page of its own, one more page for SQLCipher to encrypt and write per message on each side, and more
// as the history grows (bench/standalone/store-work.ts: a third of the sender's store CPU at 6,000 messages).
// Ordered ids are appended to the last pages instead.
//
// The id travels only inside the end-to-end encrypted payload, where the text already carries its `sentAt`; the
// time in it tells the recipient nothing new (if sentAt is ever coarsened for privacy, this must be too). 80 random
// bits per millisecond keep ids unique.
import { randomBytes } from 'node:crypto'
import { PAYLOAD_ID_BYTES } from '../wire/payload.ts'

/** Bytes of time at the start of an id: 48 bits of milliseconds last until the year 10889. */
export const MESSAGE_ID_TIME_BYTES = 6

/** A new message id made at `nowMs` (ms since the epoch). */
export function newMessageId (nowMs: number): Buffer {
  const id = randomBytes(PAYLOAD_ID_BYTES)
  id.writeUIntBE(Math.floor(Math.max(0, nowMs)) % 2 ** (8 * MESSAGE_ID_TIME_BYTES), 0, MESSAGE_ID_TIME_BYTES)
  return id
}
