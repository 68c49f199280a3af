// File-cancels (payload kind 9) that came before the announcement they name (issue 12): held in memory, by the
// contact that sent them and the message id, and applied when that contact's announcement comes (a one-to-one
// file, or a group file that contact announced). A cancel only ever overtakes its announcement by moments (another
// path), so entries expire; and any contact may send cancels naming ids that never come, so each contact holds a
// few at most and a new one evicts the oldest instead of being refused (a flood from one contact cannot push out
// another's, nor make a later real cancel be dropped).
import type { FileCancelReason } from '../../wire/payload.ts'

/** How long a held cancel waits for its announcement: far longer than one overtakes another by. */
export const EARLY_CANCEL_TTL_MS = 10 * 60_000
/** Held cancels per contact: a sender cancels one file at a time in practice. */
export const MAX_EARLY_CANCELS_PER_CONTACT = 8
/** Held cancels in all (bounds memory whatever the number of contacts). */
export const MAX_EARLY_CANCELS = 64

interface Held { readonly contactId: string, readonly reason: FileCancelReason, readonly at: number }

export class EarlyCancels {
  /** In insertion order: the first entries are the oldest. */
  readonly #held = new Map<string, Held>()

  constructor (private readonly now: () => number) {}

  get size (): number { return this.#held.size }

  hold (contactId: string, messageId: string, reason: FileCancelReason): void {
    this.#put(`${contactId}/${messageId}`, { contactId, reason, at: this.now() })
  }

  /**
   * The cancel `contactId` sent for `messageId`, if held and not expired; it is no longer held. `restore` holds it
   * again, as it came (its age kept), for the commit that took it and rolled back: the announcement comes again.
   */
  take (contactId: string, messageId: string): { reason: FileCancelReason, restore: () => void } | undefined {
    const key = `${contactId}/${messageId}`
    const h = this.#held.get(key)
    if (h === undefined) return undefined
    this.#held.delete(key)
    return this.now() - h.at <= EARLY_CANCEL_TTL_MS ? { reason: h.reason, restore: () => { this.#put(key, h) } } : undefined
  }

  #put (key: string, held: Held): void {
    const { contactId } = held
    this.#expire()
    this.#held.delete(key)
    let mine = 0
    for (const h of this.#held.values()) if (h.contactId === contactId) mine++
    for (const [k, h] of this.#held) {
      if (mine < MAX_EARLY_CANCELS_PER_CONTACT) break
      if (h.contactId === contactId) { this.#held.delete(k); mine-- }
    }
    for (const k of this.#held.keys()) { if (this.#held.size < MAX_EARLY_CANCELS) break; this.#held.delete(k) }
    this.#held.set(key, held)
  }

  /** Oldest first, so it stops at the first one young enough (a restored one may stand behind younger: take checks). */
  #expire (): void {
    const now = this.now()
    for (const [k, h] of this.#held) { if (now - h.at <= EARLY_CANCEL_TTL_MS) break; this.#held.delete(k) }
  }
}
