// The full-text index of messages (FTS5 inside SQLCipher, schema migrations 8 and 13), written in batches.
// Indexing a message in the commit that stores it cost 40-90 µs of CPU per message (FTS5 flushes a segment per
// transaction, plus the message_search row and its unique index): about 40% of a device's store work per message
// sent or received in the direct throughput profile. Since migration 13 a stored message only leaves its key in
// search_pending, in the same commit (so nothing is ever left unindexed by a crash); `indexPending` moves every
// pending message into the index in one statement each, and runs before every search, once PENDING_INDEX_BATCH
// messages wait, and when the store has been idle for SEARCH_IDLE_MS. A search therefore always sees every message.
import type { Database } from './db.ts'

/** Messages waiting for the index at most before the write that adds one indexes them all in its own transaction:
 * a batch of this size costs FTS5 one segment instead of one per commit, and bounds the pending table. */
export const PENDING_INDEX_BATCH = 512
/** Quiet time after the last stored message before the pending ones are indexed (off the delivery path). */
export const SEARCH_IDLE_MS = 1000

/** The indexer's statements, in order (exported for the query-plan test). */
export const INDEX_STATEMENTS: readonly string[] = [
  // Pending keys of messages deleted since (or stored twice after a deletion) find no row, or the row already there.
  `INSERT OR IGNORE INTO message_search (contact_id, direction, id) SELECT p.contact_id, p.direction, p.id FROM search_pending p
    JOIN messages m ON m.contact_id = p.contact_id AND m.direction = p.direction AND m.id = p.id`,
  `INSERT INTO messages_fts (rowid, text) SELECT DISTINCT s.rowid, m.text FROM search_pending p
    JOIN message_search s ON s.contact_id = p.contact_id AND s.direction = p.direction AND s.id = p.id
    JOIN messages m ON m.contact_id = p.contact_id AND m.direction = p.direction AND m.id = p.id
    WHERE NOT EXISTS (SELECT 1 FROM messages_fts f WHERE f.rowid = s.rowid)`,
  'DELETE FROM search_pending'
]

type Statement = ReturnType<Database['prepare']>

/**
 * Indexes the messages of one store that wait in search_pending. One per database: it counts the messages it
 * was told about, so that the per-message path never counts rows.
 */
export class SearchIndexer {
  readonly #db: Database
  /** Told of an idle indexing run that failed (the messenger logs the error's name). */
  onIdleError: ((err: unknown) => void) | undefined
  #statements: Statement[] | undefined
  /** Messages pending (undefined until first read from the table: a store may open with some waiting). */
  #pending: number | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  #lastWriteAt = 0
  /** Quiet time before an idle run, or false: no idle runs (tests that count commits; a batch and a search still index). */
  readonly #idleMs: number | false

  constructor (db: Database, o: { idleMs?: number | false } = {}) {
    this.#db = db
    this.#idleMs = o.idleMs ?? SEARCH_IDLE_MS
  }

  /** A message was stored, its key just written to search_pending in the caller's transaction: indexes the batch
   * once it is full, in that transaction. */
  added (n = 1): void {
    this.#pending = this.#pending === undefined ? this.#count() : this.#pending + n
    if (this.#pending >= PENDING_INDEX_BATCH) { this.#index(); return }
    this.#lastWriteAt = Date.now()
    if (this.#timer === undefined && this.#idleMs !== false) this.#arm(this.#idleMs)
  }

  /** Indexes every pending message now (before a search, at stop), in one transaction. It reads the table, not the
   * count, so it also takes what another writer of the same store left pending. */
  indexPending (): void {
    this.#cancel()
    this.#db.transaction(() => { this.#index() })()
  }

  /** Stops the idle timer (the store is closing; pending messages stay in search_pending, indexed at the next open's search). */
  stop (): void {
    this.#cancel()
  }

  #index (): void {
    this.#statements ??= INDEX_STATEMENTS.map((sql) => this.#db.prepare(sql))
    for (const st of this.#statements) st.run()
    // Counted again from the (now empty) table at the next message: a transaction rolled back after this one leaves
    // its pending rows there, and a count kept here would miss them.
    this.#pending = undefined
  }

  #count (): number {
    return Number(this.#db.prepare('SELECT count(*) AS n FROM search_pending').get()?.n ?? 0)
  }

  #arm (ms: number): void {
    const idleMs = this.#idleMs === false ? SEARCH_IDLE_MS : this.#idleMs
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      const quiet = Date.now() - this.#lastWriteAt
      if (quiet < idleMs) { this.#arm(idleMs - quiet); return }
      // A store closed meanwhile (or a failed write) leaves the rows pending: the next search indexes them.
      try {
        this.indexPending()
      } catch (err) {
        // Still pending and durable: the next search or batch retries. Worth a line (disk full, corruption; or a
        // store closed within a second of its last write), by name only.
        this.onIdleError?.(err)
      }
    }, ms)
    this.#timer.unref()
  }

  #cancel (): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }
}
