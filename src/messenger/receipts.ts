// Receipts waiting to be sealed (per contact, delivered and read ids), and the limit on answering
// duplicates (issue 14.3). Kept apart from the messenger's state machine: both are plain memory.

/** A duplicate (an envelope already stored: the sender lost our receipt, or a relay pushes it again) is
 * answered with a receipt at most once per message per this long. A sender re-sends after RECEIPT_WAIT_MS
 * and then backs off to a minute, so a lost receipt costs it a retry or two; a relay replaying a known
 * envelope in a loop gets one sealed receipt per message per 30 s, not one per replay. */
export const DUPLICATE_RECEIPT_INTERVAL_MS = 30_000
/** Messages whose duplicate answers are remembered (oldest forgotten first): bounds the memory a flood of
 * distinct replays can take; a forgotten one is answered once more, which is what an honest retry gets. */
export const MAX_DUPLICATE_ANSWERS = 4096

export type ReceiptType = 'delivered' | 'read'
export type TakenReceipts = Array<[string, Record<ReceiptType, Set<string>>]>

/** Message ids to acknowledge, by contact and type, until a batch takes them. */
export class PendingReceipts {
  readonly #byContact = new Map<string, Record<ReceiptType, Set<string>>>()

  get size (): number {
    return this.#byContact.size
  }

  add (contactId: string, ids: readonly string[], type: ReceiptType): void {
    let pending = this.#byContact.get(contactId)
    if (pending === undefined) {
      pending = { delivered: new Set(), read: new Set() }
      this.#byContact.set(contactId, pending)
    }
    for (const id of ids) pending[type].add(id)
  }

  take (): TakenReceipts {
    const taken = [...this.#byContact]
    this.#byContact.clear()
    return taken
  }

  /** Puts taken receipts back (the batch that took them did not commit). */
  restore (taken: TakenReceipts): void {
    for (const [contactId, p] of taken) {
      this.add(contactId, [...p.delivered], 'delivered')
      this.add(contactId, [...p.read], 'read')
    }
  }
}

/** Whether a duplicate of a message may be answered now: once per DUPLICATE_RECEIPT_INTERVAL_MS each. */
export class DuplicateAnswers {
  /** Last answer per message, oldest first (a Map keeps insertion order; an answer moves to the end). */
  readonly #last = new Map<string, number>()

  allow (key: string, now: number): boolean {
    const last = this.#last.get(key)
    if (last !== undefined && now - last < DUPLICATE_RECEIPT_INTERVAL_MS) return false
    this.#last.delete(key)
    this.#last.set(key, now)
    if (this.#last.size > MAX_DUPLICATE_ANSWERS) {
      const oldest = this.#last.keys().next().value
      if (oldest !== undefined) this.#last.delete(oldest)
    }
    return true
  }

  get size (): number {
    return this.#last.size
  }
}
