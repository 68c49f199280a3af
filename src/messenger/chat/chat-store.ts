// Issue 13 rows in the device store (migration 8): the quoted message of a reply, edits, deletions (for
// everyone and for me), blocked contacts, and the full-text search over every conversation (FTS5 inside
// SQLCipher, kept in step with messages by triggers: src/store/schema.ts v8; written in batches since v13,
// src/store/search-index.ts).
import type { Database } from '../../store/db.ts'
import { SearchIndexer } from '../../store/search-index.ts'
import type { HistoryStore } from '../history-store.ts'
import { History } from '../history.ts'
import type { MessageView } from '../types.ts'
import { HeldControls } from './held-controls.ts'
import { MAX_SEARCH_RESULTS, ftsQuery } from './rules.ts'

export interface SearchHit {
  // The API's view (types.ts SearchHitView) is this row.
  readonly contactId: string
  readonly messageId: string
  readonly direction: 'in' | 'out'
  readonly at: number
  /** The matching part of the text, the matched words between \u0002 and \u0003 (the UI marks them; no HTML). */
  readonly snippet: string
}

export interface ChatMessageRow {
  readonly contactId: string
  readonly direction: 'in' | 'out'
  readonly id: string
  readonly text: string
  /** The sender's time of writing (sent_at), else when it was stored. */
  readonly sentAt: number
  readonly deleted: boolean
}

export class ChatStore {
  readonly #db: Database
  /** Blocked contact ids, read once: every envelope received asks (three times), and only setBlocked changes them
   * (a deleted contact's row goes by cascade; its random id never comes back, so a stale entry is harmless). */
  #blocked: Set<string> | undefined
  /** Edits and deletions waiting for their message (src/messenger/chat/held-controls.ts). */
  readonly held: HeldControls

  /** The store's batched search index (src/store/search-index.ts): pending messages are indexed before a search. */
  readonly #index: SearchIndexer

  constructor (db: Database, index: SearchIndexer = new SearchIndexer(db)) {
    this.#db = db
    this.#index = index
    this.held = new HeldControls(db)
  }

  /** A message of a conversation in either direction (the one a reply quotes, an edit or deletion targets). */
  row (contactId: string, direction: 'in' | 'out', id: string): ChatMessageRow | undefined {
    const r = this.#db.prepare('SELECT text, at, sent_at, deleted_at FROM messages WHERE contact_id = ? AND direction = ? AND id = ?').get([contactId, direction, id])
    if (r === undefined) return undefined
    return { contactId, direction, id, text: r.text as string, sentAt: Number(r.sent_at ?? r.at), deleted: r.deleted_at !== null }
  }

  /** The message a reply quotes: mine or theirs, same conversation. */
  quoted (contactId: string, id: string): ChatMessageRow | undefined {
    return this.row(contactId, 'in', id) ?? this.row(contactId, 'out', id)
  }

  setReply (contactId: string, direction: 'in' | 'out', id: string, replyTo: string, quote: string): void {
    this.#db.prepare('UPDATE messages SET reply_to = ?, quote = ? WHERE contact_id = ? AND direction = ? AND id = ?').run([replyTo, quote, contactId, direction, id])
  }

  /** Replaces a message's text (the search index follows by trigger). */
  edit (contactId: string, direction: 'in' | 'out', id: string, text: string, at: number): boolean {
    return this.#db.prepare('UPDATE messages SET text = ?, edited_at = ? WHERE contact_id = ? AND direction = ? AND id = ? AND deleted_at IS NULL')
      .run([text, at, contactId, direction, id]).changes === 1
  }

  /** Deleted for everyone: the row stays (the UI shows "deleted" in its place), its text and quote go. */
  markDeleted (contactId: string, direction: 'in' | 'out', id: string, at: number): boolean {
    return this.#db.prepare("UPDATE messages SET text = '', quote = NULL, deleted_at = ? WHERE contact_id = ? AND direction = ? AND id = ? AND deleted_at IS NULL")
      .run([at, contactId, direction, id]).changes === 1
  }

  /** Deleted for me: the row goes, and an outgoing one's outbox row (it is not sent any more). */
  remove (contactId: string, direction: 'in' | 'out', id: string): boolean {
    return this.#db.transaction(() => {
      const gone = this.#db.prepare('DELETE FROM messages WHERE contact_id = ? AND direction = ? AND id = ?').run([contactId, direction, id]).changes === 1
      if (gone && direction === 'out') this.#db.prepare('DELETE FROM outbox WHERE contact_id = ? AND message_id = ?').run([contactId, id])
      // The conversation's last message (store migration 18) was this one: the newest left takes its place. A walk of
      // the conversation, once per deletion of its last message.
      if (gone) {
        this.#db.prepare(`UPDATE conversations SET (last_direction, last_id, last_at) = (SELECT direction, id, at FROM messages WHERE contact_id = ?
          ORDER BY at DESC, direction DESC, id DESC LIMIT 1) WHERE contact_id = ? AND last_direction = ? AND last_id = ?`).run([contactId, contactId, direction, id])
      }
      if (gone && direction === 'in') {
        this.#db.prepare(`UPDATE conversations SET unread = max(0, unread - 1) WHERE contact_id = ?
          AND NOT EXISTS (SELECT 1 FROM messages WHERE contact_id = ? AND direction = 'in' AND id = ? AND read_at IS NOT NULL)`).run([contactId, contactId, id])
      }
      return gone
    })()
  }

  isBlocked (contactId: string): boolean {
    this.#blocked ??= new Set(this.#db.prepare('SELECT contact_id FROM blocked_contacts').all().map((r) => r.contact_id as string))
    return this.#blocked.has(contactId)
  }

  setBlocked (contactId: string, blocked: boolean, now: number): void {
    if (blocked) this.#db.prepare('INSERT OR IGNORE INTO blocked_contacts (contact_id, at) VALUES (?, ?)').run([contactId, now])
    else this.#db.prepare('DELETE FROM blocked_contacts WHERE contact_id = ?').run([contactId])
    // Read again on the next question (after the write, so a failed one changes nothing).
    this.#blocked = undefined
  }

  /** Every conversation's messages matching all the words (prefixes), newest first; blocked contacts and deleted messages left out. */
  search (query: string): SearchHit[] {
    const match = ftsQuery(query)
    if (match === undefined) return []
    this.#index.indexPending()
    const rows = this.#db.prepare(`SELECT s.contact_id, s.direction, s.id, m.at, m.sent_at,
        snippet(messages_fts, 0, char(2), char(3), '…', 12) AS snippet
      FROM messages_fts JOIN message_search s ON s.rowid = messages_fts.rowid
      JOIN messages m ON m.contact_id = s.contact_id AND m.direction = s.direction AND m.id = s.id
      WHERE messages_fts MATCH ? AND m.deleted_at IS NULL
        AND NOT EXISTS (SELECT 1 FROM blocked_contacts b WHERE b.contact_id = s.contact_id)
      ORDER BY coalesce(m.sent_at, m.at) DESC LIMIT ?`).all([match, MAX_SEARCH_RESULTS])
    return rows.map((r) => ({
      contactId: r.contact_id as string,
      messageId: r.id as string,
      direction: r.direction as 'in' | 'out',
      at: Number(r.sent_at ?? r.at),
      snippet: r.snippet as string
    }))
  }
}

export type { MessageView }

/** The chat rows live in the SQLCipher store beside the history; an in-memory twin history has none. */
export function chatStoreFor (history: HistoryStore): ChatStore | undefined {
  return history instanceof History ? new ChatStore(history.database, history.searchIndex) : undefined
}
