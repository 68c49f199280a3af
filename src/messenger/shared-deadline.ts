// Deadlines shared by the delivery attempts that start close together (issue 10). Each attempt used to get its own
// AbortController and timer (src/messenger/deadline.ts): on a message sent one at a time that is an abort controller,
// its signal, a setTimeout and a clearTimeout on the sender for the text and on the receiver for its receipt, about a
// tenth of the messenger's own CPU per message. Attempts that start within SHARE_WINDOW_MS of the first one of a
// share now take that one's signal, which aborts `ms + SHARE_WINDOW_MS` after it was made: every attempt still gets
// at least `ms`, and at most SHARE_WINDOW_MS more. A share whose attempts have all ended is cancelled once the window
// has passed (its timer never fires for work long finished); the last one of a burst, if nothing follows it, fires
// once with no one listening.
import { setMaxListeners } from 'node:events'
import type { Clock, Timer } from '../platform/clock.ts'

/** How long after a share is made attempts may still join it: what a deadline may run over. A second is a
 * quarter of the deliver deadline (4 s), and one-at-a-time messages (a few ms each) then share a timer by the
 * hundred. */
export const SHARE_WINDOW_MS = 1_000

/** What AbortSignal.timeout aborts with, so callers telling a deadline from a cancel see no difference. */
function timedOut (): DOMException {
  return new DOMException('The operation timed out.', 'TimeoutError')
}

interface Share {
  readonly madeAt: number
  readonly controller: AbortController
  readonly timer: Timer
  /** Attempts running on it. */
  users: number
}

export class SharedDeadlines {
  #current: Share | undefined
  #stopped = false
  /** Shares made (tests and figures: one per window of attempts, not one per attempt). */
  made = 0

  constructor (private readonly clock: Clock, private readonly ms: number) {}

  /** Runs `work` with a signal that aborts at least `ms` (at most `ms + SHARE_WINDOW_MS`) after now unless every
   * attempt sharing it has settled by then. */
  async run<T> (work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const share = this.#join()
    share.users++
    try {
      return await work(share.controller.signal)
    } finally {
      share.users--
      this.#retire(share)
    }
  }

  #join (): Share {
    // On the timers' own timeline where there is one: a wall clock stepped back (or held still by a test) would
    // otherwise let attempts join a share whose timer is about to fire.
    const now = this.clock.monotonic?.() ?? this.clock.now()
    const cur = this.#current
    // `now < madeAt`: the clock went back; a share made "later" would give less than `ms`, so make another.
    if (cur !== undefined && !cur.controller.signal.aborted && now >= cur.madeAt && now - cur.madeAt < SHARE_WINDOW_MS) return cur
    if (cur !== undefined) {
      this.#current = undefined
      this.#retire(cur)
    }
    const controller = new AbortController()
    // Up to MAX_IN_FLIGHT attempts listen on one signal at once: not a leak, so no MaxListenersExceeded warning.
    setMaxListeners(0, controller.signal)
    const timer = this.clock.setTimeout(() => { controller.abort(timedOut()) }, this.ms + SHARE_WINDOW_MS, { unref: true })
    this.made++
    const share: Share = { madeAt: now, controller, timer, users: 0 }
    // After stop() a late attempt runs on a share of its own, retired (its timer cancelled) when it ends.
    if (!this.#stopped) this.#current = share
    return share
  }

  /** A share no attempt can join any more and none runs on: its timer is cancelled. */
  #retire (share: Share): void {
    if (share.users > 0 || share === this.#current) return
    share.timer.cancel()
  }

  /** Cancels the current share's timer (the messenger stopped); attempts still on it keep their signal. */
  stop (): void {
    this.#stopped = true
    const cur = this.#current
    this.#current = undefined
    if (cur !== undefined) this.#retire(cur)
  }
}
