// Issue 13 review: an edit or a deletion for everyone may arrive before the message it names (a control sent
// straight to the contact, its message still in a mailbox or on the relayed path; both arrive in any order). It
// used to be dropped, so a message "deleted for everyone" showed anyway once it came. Now it waits in the store
// (migration 14) and is applied inside the commit that stores its message. Bounded: a contact can only make its
// own device hold rows for its own message ids, at most MAX_HELD_CONTROLS_PER_CONTACT of them (the oldest goes
// first), MAX_HELD_CONTROLS in all, each at most HELD_CONTROL_TTL_MS (a message held in a mailbox longer is gone).
import type { Database } from '../../store/db.ts'
import { MAILBOX_RETENTION_MS } from '../../wire/mailbox.ts'

/** A contact's controls waiting at once: far beyond what an honest contact's reordering leaves behind. */
export const MAX_HELD_CONTROLS_PER_CONTACT = 64
/** In all: an edit's text is at most a message's (32 KiB), so at most 8 MiB together. */
export const MAX_HELD_CONTROLS = 256
/** As long as a message may wait in a mailbox: after that its control can never apply. */
export const HELD_CONTROL_TTL_MS = MAILBOX_RETENTION_MS

/** Asked for every incoming message (test/messenger/held-controls.test.ts checks its plan is a key lookup). */
export const TAKE_HELD_SQL = 'SELECT kind, text, at FROM chat_held_controls WHERE contact_id = ? AND target = ?'

export interface HeldControl {
  readonly kind: 'edit' | 'delete'
  /** The edit's text (edits only). */
  readonly text?: string | undefined
  /** The sender's time of the edit or deletion. */
  readonly at: number
}

/** The contacts that hold any control, read again from the store after a change (a tiny table: at most
 * MAX_HELD_CONTROLS rows, read by the primary key's prefix). */
const HOLDERS_SQL = 'SELECT DISTINCT contact_id FROM chat_held_controls'

/** One per store: it keeps which contacts hold controls, so each must be held through the one instance. */
export class HeldControls {
  readonly #db: Database
  /** The contacts that may hold a control: read at start, added to before a row is written, and read again from the
   * store once the transactions of a change have ended (they are synchronous: on a microtask), so a rolled-back hold
   * leaves no contact here for long and a rolled-back take loses none. A contact not here holds nothing, and its
   * messages skip the lookup (~13 us each). */
  #holders: Set<string>
  #rereading = false

  constructor (db: Database) {
    this.#db = db
    this.#holders = this.#read()
  }

  /** Keeps a control for a message not here yet; of two edits the later one (by the sender's time) stays. */
  hold (contactId: string, target: string, c: HeldControl, now: number): void {
    this.#holders.add(contactId)
    this.#rereadLater()
    const cutoff = now - HELD_CONTROL_TTL_MS
    this.#db.prepare('DELETE FROM chat_held_controls WHERE held_at <= ?').run([cutoff])
    // Room is made only for a new row (a second edit of the same target replaces the first), and at the total bound
    // it is taken from the contact holding the most: a contact's re-sent controls cannot push out anyone else's.
    const known = this.#db.prepare('SELECT 1 FROM chat_held_controls WHERE contact_id = ? AND target = ? AND kind = ?').get([contactId, target, c.kind]) !== undefined
    if (!known) {
      const mine = Number(this.#db.prepare('SELECT count(*) AS n FROM chat_held_controls WHERE contact_id = ?').get([contactId])?.n ?? 0)
      if (mine >= MAX_HELD_CONTROLS_PER_CONTACT) {
        this.#dropOldest(contactId)
      } else if (this.#total() >= MAX_HELD_CONTROLS) {
        const biggest = this.#db.prepare('SELECT contact_id FROM chat_held_controls GROUP BY contact_id ORDER BY count(*) DESC, min(held_at) LIMIT 1').get()
        if (biggest !== undefined) this.#dropOldest(biggest.contact_id as string)
      }
    }
    this.#db.prepare(`INSERT INTO chat_held_controls (contact_id, target, kind, text, at, held_at) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (contact_id, target, kind) DO UPDATE SET text = excluded.text, at = excluded.at WHERE excluded.at > chat_held_controls.at`)
      .run([contactId, target, c.kind, c.text ?? null, c.at, now])
  }

  /** The controls waiting for this message, removed from the store (in the caller's commit). */
  take (contactId: string, target: string): HeldControl[] {
    // One lookup by primary key for a contact that holds any: not forgotten here when rows are taken (the caller's
    // commit may roll back and bring them back), but when the store is read again.
    if (!this.#holders.has(contactId)) return []
    const rows = this.#db.prepare(TAKE_HELD_SQL).all([contactId, target])
    if (rows.length === 0) return []
    this.#db.prepare('DELETE FROM chat_held_controls WHERE contact_id = ? AND target = ?').run([contactId, target])
    this.#rereadLater()
    return rows.map((r) => ({ kind: r.kind === 'delete' ? 'delete' : 'edit', ...(typeof r.text === 'string' ? { text: r.text } : {}), at: Number(r.at) }))
  }

  /** Rows held now (tests). */
  size (): number { return this.#total() }

  #read (): Set<string> {
    return new Set(this.#db.prepare(HOLDERS_SQL).all().map((r) => r.contact_id as string))
  }

  #rereadLater (): void {
    if (this.#rereading) return
    this.#rereading = true
    queueMicrotask(() => {
      this.#rereading = false
      try {
        this.#holders = this.#read()
      } catch {
        // The set is never short of a holder, only over: if the store cannot be read (closed meanwhile) it stays so.
      }
    })
  }

  #total (): number {
    return Number(this.#db.prepare('SELECT count(*) AS n FROM chat_held_controls').get()?.n ?? 0)
  }

  #dropOldest (contactId: string): void {
    this.#db.prepare(`DELETE FROM chat_held_controls WHERE (contact_id, target, kind) IN
      (SELECT contact_id, target, kind FROM chat_held_controls WHERE contact_id = ? ORDER BY held_at LIMIT 1)`).run([contactId])
  }
}
