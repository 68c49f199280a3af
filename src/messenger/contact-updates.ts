// The 'contact' event a new message causes (incoming: its unread count and last message changed; sent: its last message),
// once per contact per CONTACT_UPDATE_MS and after the work of the message's turn (issue 10). Computed in the turn that
// stored the message, its view (two queries and a look at the contact's connections) ran before the receipt's frame
// left: the frames of a turn are written at its end (src/net/muxer-writes.ts), so the sender waited for it. Queued for
// the next turn, it ran after that write, but still once per message, just after each envelope or ack went out: the
// two devices of a conversation share a CPU more often than not (the kernel wakes the reader of a socket on the
// writer's CPU), so that view held back the other side's answer, or its own next step, on every message (without the
// sender's, the direct p50 measured 0.05-0.1 ms lower). Gathered over a display frame, a conversation's messages make
// one view, not one per message.
// A display frame later, the frames of the message's turn (its envelope or ack) have long been written.
import type { Clock, Timer } from '../platform/clock.ts'

/** How long the first change of a contact waits for the ones after it: one display frame. */
export const CONTACT_UPDATE_MS = 16

export class ContactUpdates {
  readonly #pending = new Set<string>()
  #timer: Timer | undefined

  /** `emit` is called once per changed contact, CONTACT_UPDATE_MS after the first change. */
  constructor (private readonly clock: Pick<Clock, 'setTimeout'>, private readonly emit: (contactId: string) => void) {}

  changed (contactId: string): void {
    this.#pending.add(contactId)
    this.#timer ??= this.clock.setTimeout(() => {
      this.#timer = undefined
      const ids = [...this.#pending]
      this.#pending.clear()
      for (const id of ids) this.emit(id)
    }, CONTACT_UPDATE_MS, { unref: true })
  }

  /** Drops what waits (the messenger stopped: nobody is told any more). */
  stop (): void {
    this.#timer?.cancel()
    this.#timer = undefined
    this.#pending.clear()
  }
}
