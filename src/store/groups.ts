// Groups the device belongs to (issue 11): my mailbox for each, my current sender-key distribution id,
// the signed membership changes held (the membership is folded from them), which members have my current
// sender key, and the contacts met through a group.
import type { Database } from './db.ts'

const blob = (b: Uint8Array): Uint8Array<ArrayBuffer> => b as Uint8Array<ArrayBuffer>

export interface GroupRow {
  readonly id: string
  readonly name: string
  /** False while I only answered a card request; true once a change made me a member. */
  readonly joined: boolean
  readonly myMailboxId: Uint8Array
  readonly myMailboxKey: Uint8Array
  readonly myMailboxPrivateKey: Uint8Array
  readonly myMailboxPublicKey: Uint8Array
  /** My sender key's distribution id (a UUID); replaced when a member leaves or is removed. */
  readonly distributionId: string
  readonly createdAt: number
}

interface Raw {
  id: string
  name: string
  joined: number
  my_mailbox_id: Uint8Array
  my_mailbox_key: Uint8Array
  my_mailbox_private_key: Uint8Array
  my_mailbox_public_key: Uint8Array
  distribution_id: string
  created_at: number
}

const row = (r: Raw): GroupRow => ({
  id: r.id,
  name: r.name,
  joined: r.joined === 1,
  myMailboxId: new Uint8Array(r.my_mailbox_id),
  myMailboxKey: new Uint8Array(r.my_mailbox_key),
  myMailboxPrivateKey: new Uint8Array(r.my_mailbox_private_key),
  myMailboxPublicKey: new Uint8Array(r.my_mailbox_public_key),
  distributionId: r.distribution_id,
  createdAt: r.created_at
})

export class GroupRepository {
  constructor (private readonly db: Database) {}

  all (): GroupRow[] {
    return (this.db.prepare('SELECT * FROM groups ORDER BY created_at, id').all() as unknown as Raw[]).map(row)
  }

  insert (g: GroupRow): void {
    this.db.prepare(`INSERT INTO groups (id, name, joined, my_mailbox_id, my_mailbox_key, my_mailbox_private_key, my_mailbox_public_key, distribution_id, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).run([g.id, g.name, g.joined ? 1 : 0, blob(g.myMailboxId), blob(g.myMailboxKey), blob(g.myMailboxPrivateKey), blob(g.myMailboxPublicKey), g.distributionId, g.createdAt])
  }

  update (id: string, o: { name?: string, joined?: boolean, distributionId?: string }): void {
    if (o.name !== undefined) this.db.prepare('UPDATE groups SET name = ? WHERE id = ?').run([o.name, id])
    if (o.joined !== undefined) this.db.prepare('UPDATE groups SET joined = ? WHERE id = ?').run([o.joined ? 1 : 0, id])
    if (o.distributionId !== undefined) this.db.prepare('UPDATE groups SET distribution_id = ? WHERE id = ?').run([o.distributionId, id])
  }

  changes (groupId: string): Uint8Array[] {
    return (this.db.prepare('SELECT bytes FROM group_changes WHERE group_id = ? ORDER BY at, hash').all([groupId]) as unknown as Array<{ bytes: Uint8Array }>).map((r) => new Uint8Array(r.bytes))
  }

  addChange (groupId: string, hash: string, bytes: Uint8Array, at: number): void {
    this.db.prepare('INSERT OR IGNORE INTO group_changes (group_id, hash, bytes, at) VALUES (?, ?, ?, ?)').run([groupId, hash, blob(bytes), at])
  }

  keySent (groupId: string, distributionId: string): Set<string> {
    const rows = this.db.prepare('SELECT account_id FROM group_key_sent WHERE group_id = ? AND distribution_id = ?').all([groupId, distributionId]) as unknown as Array<{ account_id: string }>
    return new Set(rows.map((r) => r.account_id))
  }

  markKeySent (groupId: string, distributionId: string, accountId: string): void {
    this.db.prepare('INSERT OR IGNORE INTO group_key_sent (group_id, distribution_id, account_id) VALUES (?, ?, ?)').run([groupId, distributionId, accountId])
  }

  met (): Map<string, string> {
    const rows = this.db.prepare('SELECT contact_id, group_id FROM group_met').all() as unknown as Array<{ contact_id: string, group_id: string }>
    return new Map(rows.map((r) => [r.contact_id, r.group_id]))
  }

  markMet (contactId: string, groupId: string): void {
    this.db.prepare('INSERT OR IGNORE INTO group_met (contact_id, group_id) VALUES (?, ?)').run([contactId, groupId])
  }

  /**
   * The card requests this admin sent and that were not answered yet, as `<group id>:<account id>` -> expiry (ms).
   * Kept in the settings table (keys `group-asked:...`) rather than a table of their own: no migration for a
   * handful of short rows. A card reply is accepted only against one of these (docs/protocol.md §10.4).
   */
  asked (): Map<string, number> {
    const rows = this.db.prepare("SELECT key, value FROM settings WHERE key LIKE 'group-asked:%'").all() as unknown as Array<{ key: string, value: string }>
    return new Map(rows.map((r) => [r.key.slice(ASKED_PREFIX.length), Number(r.value)]))
  }

  ask (key: string, expiresAt: number): void {
    this.db.prepare('INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)').run([ASKED_PREFIX + key, String(expiresAt)])
  }

  unask (key: string): void {
    this.db.prepare('DELETE FROM settings WHERE key = ?').run([ASKED_PREFIX + key])
  }

  /** Which contact's card request made each group row I have not joined (group id -> contact id), for the caps. */
  pendingFrom (): Map<string, string> {
    const rows = this.db.prepare("SELECT key, value FROM settings WHERE key LIKE 'group-pending-from:%'").all() as unknown as Array<{ key: string, value: string }>
    return new Map(rows.map((r) => [r.key.slice(PENDING_PREFIX.length), r.value]))
  }

  markPendingFrom (groupId: string, contactId: string): void {
    this.db.prepare('INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)').run([PENDING_PREFIX + groupId, contactId])
  }

  /** Forgets a group row I never joined (evicted by the caps on those): its log, held changes and pending mark. */
  deleteUnjoined (groupId: string): void {
    for (const table of ['group_held', 'group_changes', 'group_key_sent']) this.db.prepare(`DELETE FROM ${table} WHERE group_id = ?`).run([groupId])
    this.db.prepare('DELETE FROM groups WHERE id = ? AND joined = 0').run([groupId])
    this.db.prepare('DELETE FROM settings WHERE key = ?').run([PENDING_PREFIX + groupId])
  }

  /** Changes held until their parents arrive (migration 11), so a restart keeps them. */
  heldChanges (): Array<{ groupId: string, hash: string, bytes: Uint8Array, heldAt: number, from: string | undefined }> {
    const rows = this.db.prepare('SELECT group_id, hash, bytes, held_at, from_contact FROM group_held ORDER BY held_at, hash').all() as unknown as Array<{ group_id: string, hash: string, bytes: Uint8Array, held_at: number, from_contact: string | null }>
    return rows.map((r) => ({ groupId: r.group_id, hash: r.hash, bytes: new Uint8Array(r.bytes), heldAt: r.held_at, from: r.from_contact ?? undefined }))
  }

  /** `from`: the contact it came from (the bound per contact counts these). */
  holdChange (groupId: string, hash: string, bytes: Uint8Array, heldAt: number, from: string | undefined): void {
    this.db.prepare('INSERT OR IGNORE INTO group_held (group_id, hash, bytes, held_at, from_contact) VALUES (?, ?, ?, ?, ?)').run([groupId, hash, blob(bytes), heldAt, from ?? null])
  }

  unholdChange (groupId: string, hash: string): void {
    this.db.prepare('DELETE FROM group_held WHERE group_id = ? AND hash = ?').run([groupId, hash])
  }
}

const ASKED_PREFIX = 'group-asked:'
const PENDING_PREFIX = 'group-pending-from:'
