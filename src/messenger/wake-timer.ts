// The pump's wake-up for the first stored outbox row due later (issue 10). The pump used to cancel its timer when it
// started and arm a new one when it ended: a setTimeout and a clearTimeout (and their timer-list work) on every pump,
// which a message sent one at a time runs at least once on the sender. The time wanted barely moves between pumps
// (the next row due is the oldest text's receipt wait), so the timer armed for it is kept while it fires no later
// than needed. One that fires early (its row was receipted meanwhile) only makes the pump ask the store once and
// arm the next: what the store holds is asked again either way, never later than before.
import type { Clock, Timer } from '../platform/clock.ts'

export class WakeTimer implements Timer {
  #timer: Timer | undefined
  /** When the armed timer fires (clock time). */
  #at = Number.POSITIVE_INFINITY

  /** Runs `fn` at `at` or earlier: a timer armed for no later than `at` is kept, else one is armed for `at`. */
  wakeBy (clock: Clock, at: number, fn: () => void): void {
    if (this.#timer !== undefined && this.#at <= at) return
    this.cancel()
    this.#at = at
    this.#timer = clock.setTimeout(() => {
      this.#timer = undefined
      this.#at = Number.POSITIVE_INFINITY
      fn()
    }, Math.max(0, at - clock.now()))
  }

  /** Whether a wake-up is armed (tests). */
  get armed (): boolean {
    return this.#timer !== undefined
  }

  cancel (): void {
    this.#timer?.cancel()
    this.#timer = undefined
    this.#at = Number.POSITIVE_INFINITY
  }
}
