// The group conversations on the device's store (issue 11): messages (unique per group, sender and id, so a
// message is stored once whatever path or retry brings it), my per-group sequence numbers, and per-member
// delivery states of my messages. Outbox rows are the messenger's own (one per member, kind 'text').
import type { Database } from '../../store/db.ts'
import { STATE_RANK } from '../history-store.ts'
import type { DeliveryPath, MessageState } from '../types.ts'
import type { MemberDeliveryView } from './types.ts'

export interface GroupMessageRow {
  readonly groupId: string
  readonly id: string
  /** Sender account id ('' for mine). */
  readonly sender: string
  readonly direction: 'in' | 'out'
  readonly seq: number
  readonly text: string
  readonly sentAt: number
  readonly at: number
  readonly readAt?: number
}

interface RawMessage { group_id: string, id: string, sender: string, direction: 'in' | 'out', seq: number, text: string, sent_at: number, at: number, read_at: number | null }

const toRow = (r: RawMessage): GroupMessageRow => ({
  groupId: r.group_id, id: r.id, sender: r.sender, direction: r.direction, seq: r.seq, text: r.text, sentAt: r.sent_at, at: r.at, ...(r.read_at === null ? {} : { readAt: r.read_at })
})

const blob = (b: Uint8Array): Uint8Array<ArrayBuffer> => b as Uint8Array<ArrayBuffer>

export class GroupStore {
  constructor (private readonly db: Database) {}

  transaction<T> (fn: () => T): T {
    return this.db.transaction(fn)()
  }

  /** The next sequence number of my messages in a group (reserved with the message it numbers). */
  peekSeq (groupId: string): number {
    const r = this.db.prepare('SELECT next_seq FROM group_seq WHERE group_id = ?').get([groupId])
    return Number(r?.next_seq ?? 1)
  }

  /** My message, its per-member states and outbox rows (one per member), in the caller's transaction. */
  queueOutgoing (m: GroupMessageRow, members: ReadonlyArray<{ contactId: string, accountId: string, envelope: Uint8Array }>, expiresAt: number): void {
    this.db.prepare('INSERT INTO group_seq (group_id, next_seq) VALUES (?, ?) ON CONFLICT (group_id) DO UPDATE SET next_seq = excluded.next_seq').run([m.groupId, m.seq + 1])
    this.insert(m)
    const state = this.db.prepare("INSERT OR REPLACE INTO group_deliveries (message_id, contact_id, group_id, account_id, state, path) VALUES (?, ?, ?, ?, 'queued', NULL)")
    const outbox = this.db.prepare(`INSERT INTO outbox (contact_id, message_id, kind, envelope, attempts, next_attempt_at, expires_at, state, created_at)
      VALUES (?, ?, 'text', ?, 0, ?, ?, 'pending', ?)`)
    for (const x of members) {
      state.run([m.id, x.contactId, m.groupId, x.accountId])
      outbox.run([x.contactId, m.id, blob(x.envelope), m.at, expiresAt, m.at])
    }
  }

  /** Stores a message once; false when it was already there. */
  insert (m: GroupMessageRow): boolean {
    const r = this.db.prepare(`INSERT OR IGNORE INTO group_messages (group_id, id, sender, direction, seq, text, sent_at, at, read_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).run([m.groupId, m.id, m.sender, m.direction, m.seq, m.text, m.sentAt, m.at, m.readAt ?? null])
    return r.changes > 0
  }

  message (groupId: string, sender: string, id: string): GroupMessageRow | undefined {
    const r = this.db.prepare('SELECT * FROM group_messages WHERE group_id = ? AND sender = ? AND id = ?').get([groupId, sender, id]) as RawMessage | undefined
    return r === undefined ? undefined : toRow(r)
  }

  /**
   * A group's conversation, its newest `limit` messages in display order: each sender's messages by its sequence
   * numbers, the senders interleaved by the time each message was written: its sentAt, but never after it arrived here
   * (a member's clock far ahead would otherwise pin its message last, as in a one-to-one chat: HistoryStore.messages).
   * A sender's repeated sequence number goes by sentAt, then id; messages of one time go by sender; so the order is
   * total. The page is the newest rows by that time, then sender, seq and id, and each sender's rows after its first
   * one in them (by seq, sentAt, id): those stand after that one in the display order, so left out they would be
   * missing between the messages shown (a sender's text written early by a clock set back). At most `limit` such rows
   * are added: past that bound (a sender whose clock keeps going back as its seq rises), a page can
   * still miss some of them (docs/protocol.md, group display order).
   */
  messages (groupId: string, limit: number): GroupMessageRow[] {
    const rows = this.db.prepare('SELECT * FROM group_messages WHERE group_id = ? ORDER BY min(sent_at, at) DESC, sender DESC, seq DESC, id DESC LIMIT ?')
      .all([groupId, limit]) as unknown as RawMessage[]
    const bySeq = (a: RawMessage, b: RawMessage): number => a.seq - b.seq || a.sent_at - b.sent_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
    const first = new Map<string, RawMessage>()
    for (const r of rows) {
      const f = first.get(r.sender)
      if (f === undefined || bySeq(r, f) < 0) first.set(r.sender, r)
    }
    const have = new Set(rows.map((r) => `${r.sender}/${r.id}`))
    const later = this.db.prepare('SELECT * FROM group_messages WHERE group_id = ? AND sender = ? AND (seq, sent_at, id) > (?, ?, ?) ORDER BY seq, sent_at, id LIMIT ?')
    let room = limit
    for (const f of first.values()) {
      for (const r of later.all([groupId, f.sender, f.seq, f.sent_at, f.id, limit + have.size]) as unknown as RawMessage[]) {
        if (room > 0 && !have.has(`${r.sender}/${r.id}`)) { rows.push(r); room-- }
      }
    }
    const senders = new Map<string, RawMessage[]>()
    for (const r of rows) {
      const own = senders.get(r.sender)
      if (own === undefined) senders.set(r.sender, [r]); else own.push(r)
    }
    const queues = [...senders.values()].map((q) => ({ rows: q.sort(bySeq), next: 0 }))
    const key = (r: RawMessage): number => Math.min(r.sent_at, r.at)
    const merged: RawMessage[] = []
    while (merged.length < rows.length) {
      let best: { rows: RawMessage[], next: number } | undefined
      for (const q of queues) {
        const r = q.rows[q.next]
        if (r === undefined) continue
        const b = best?.rows[best.next]
        if (b === undefined || key(r) < key(b) || (key(r) === key(b) && r.sender < b.sender)) best = q
      }
      const q = best as { rows: RawMessage[], next: number }
      merged.push(q.rows[q.next++] as RawMessage)
    }
    return merged.map(toRow)
  }

  last (groupId: string): GroupMessageRow | undefined {
    const r = this.db.prepare('SELECT * FROM group_messages WHERE group_id = ? ORDER BY at DESC LIMIT 1').get([groupId]) as RawMessage | undefined
    return r === undefined ? undefined : toRow(r)
  }

  unread (groupId: string): number {
    const r = this.db.prepare("SELECT count(*) AS n FROM group_messages WHERE group_id = ? AND direction = 'in' AND read_at IS NULL").get([groupId]) as { n: number }
    return r.n
  }

  /** Marks every unread incoming message read; returns them by sender account. */
  markRead (groupId: string, now: number): Map<string, string[]> {
    const rows = this.db.prepare("SELECT sender, id FROM group_messages WHERE group_id = ? AND direction = 'in' AND read_at IS NULL").all([groupId]) as unknown as Array<{ sender: string, id: string }>
    this.db.prepare("UPDATE group_messages SET read_at = ? WHERE group_id = ? AND direction = 'in' AND read_at IS NULL").run([now, groupId])
    const out = new Map<string, string[]>()
    for (const r of rows) out.set(r.sender, [...(out.get(r.sender) ?? []), r.id])
    return out
  }

  deliveries (messageId: string): MemberDeliveryView[] {
    const rows = this.db.prepare('SELECT contact_id, account_id, state, path FROM group_deliveries WHERE message_id = ? ORDER BY account_id').all([messageId]) as unknown as Array<{ contact_id: string, account_id: string, state: MessageState, path: DeliveryPath | null }>
    return rows.map((r) => ({ contactId: r.contact_id, accountId: r.account_id, state: r.state, ...(r.path === null ? {} : { path: r.path }) }))
  }

  /** Moves one member's state of my message forward (never back); the group id when it changed, undefined when not a group message. */
  advance (contactId: string, messageId: string, state: MessageState, path?: DeliveryPath): { groupId: string, changed: boolean } | undefined {
    const raw = this.db.prepare('SELECT group_id, state, path FROM group_deliveries WHERE message_id = ? AND contact_id = ?').get([messageId, contactId])
    if (raw === undefined) return undefined
    const r = raw as unknown as { group_id: string, state: MessageState, path: DeliveryPath | null }
    const forward = r.state !== 'failed' && STATE_RANK[state] > STATE_RANK[r.state]
    const newPath = r.path ?? path ?? null
    if (!forward && newPath === r.path) return { groupId: r.group_id, changed: false }
    this.db.prepare('UPDATE group_deliveries SET state = ?, path = ? WHERE message_id = ? AND contact_id = ?').run([forward ? state : r.state, newPath, messageId, contactId])
    return { groupId: r.group_id, changed: true }
  }
}
