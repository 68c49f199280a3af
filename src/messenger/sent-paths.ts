// The path each envelope in flight went out on (issue 10). The receiver commits, seals its receipt and sends it
// before the ack of the envelope is even written, so the receipt often reaches the sender first (10-30% of
// messages one at a time): the message then became 'delivered' with no path, shown as "?" until the ack came,
// and its path reached the store only with a later write. The network reports the path as the bytes go out
// (NetworkPort.deliver's onSent), before any receipt can exist, and the receipt's commit writes it.
import type { DeliveryPath } from './ports.ts'

const keyOf = (contactId: string, messageId: string): string => `${contactId}/${messageId}`

export class SentPaths {
  readonly #paths = new Map<string, DeliveryPath>()

  /** The envelope of this row is going out on `path` (a later path of the same attempt replaces it). */
  sent (contactId: string, messageId: string, path: DeliveryPath): void {
    this.#paths.set(keyOf(contactId, messageId), path)
  }

  /** The options for history.advance: the path, when the row is in flight on one. */
  pathOf (contactId: string, messageId: string): { path?: DeliveryPath } {
    const path = this.#paths.get(keyOf(contactId, messageId))
    return path === undefined ? {} : { path }
  }

  /** The row's attempt is over, or its network attempt failed (the bytes may never have arrived; a receipt that
   * comes anyway then records no path rather than a wrong one): bounded by the rows in flight. */
  forget (contactId: string, messageId: string): void {
    this.#paths.delete(keyOf(contactId, messageId))
  }

  get size (): number {
    return this.#paths.size
  }
}
