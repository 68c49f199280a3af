// The 'contact' event a new message causes (incoming: its unread count and last message changed; sent: its last message), once per contact
// per turn of the event loop and after the turn's own work (issue 10). Computed in the turn that stored the message,
// its view (two queries and a look at the contact's connections) ran before the receipt's frame left: the frames of a
// turn are written at its end (src/net/muxer-writes.ts), so the sender waited for it. Queued for the next turn, it
// runs after that write; and a batch of messages from one contact makes one view, not one per message.
// "After" needs the held frames written first: this turn's end is queued (setImmediate) when the message is settled,
// before the ack that the settle resolves is sent, so the muxer's own end-of-turn flush comes after it in the queue.
import type { Clock } from '../platform/clock.ts'
import { flushWrites } from '../net/muxer-writes.ts'

export class ContactUpdates {
  readonly #pending = new Set<string>()
  #queued = false

  /** `emit` is called once per changed contact, in the turn after the first change. */
  constructor (private readonly clock: Pick<Clock, 'setImmediate'>, private readonly emit: (contactId: string) => void) {}

  changed (contactId: string): void {
    this.#pending.add(contactId)
    if (this.#queued) return
    this.#queued = true
    this.clock.setImmediate(() => {
      this.#queued = false
      flushWrites()
      const ids = [...this.#pending]
      this.#pending.clear()
      for (const id of ids) this.emit(id)
    })
  }
}
