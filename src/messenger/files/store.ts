// File transfers in the device store (schema v8, src/store/schema.ts): one row per file and direction.
import type { Database } from '../../store/db.ts'
import type { FileDescriptor } from '../../wire/file.ts'
import type { FilePath, FileState } from './types.ts'

export interface TransferRow {
  readonly contactId: string
  readonly messageId: string
  readonly direction: 'in' | 'out'
  readonly file: FileDescriptor
  state: FileState
  path: FilePath | undefined
  done: number
  failure: string | undefined
  /** Outgoing: chunks each relay confirmed. */
  relayCounts: Record<string, number>
  readonly createdAt: number
  /** Outgoing, until its chunk file is whole: the file it is sealed from (src/messenger/files/sealing.ts). */
  source?: string | undefined
}

interface Raw {
  contact_id: string, message_id: string, direction: 'in' | 'out', name: string, type: string, size: number | bigint
  sha256: Uint8Array, file_key: Uint8Array, header: Uint8Array, chunks: number | bigint, blob_id: Uint8Array, capability: Uint8Array
  relays: string, state: string, path: string | null, done: number | bigint, failure: string | null, relay_counts: string, created_at: number | bigint
  source_path: string | null
}

function toRow (r: Raw): TransferRow {
  return {
    contactId: r.contact_id,
    messageId: r.message_id,
    direction: r.direction,
    file: {
      name: r.name, type: r.type, size: Number(r.size), sha256: new Uint8Array(r.sha256), key: new Uint8Array(r.file_key), header: new Uint8Array(r.header),
      chunks: Number(r.chunks), blobId: new Uint8Array(r.blob_id), capability: new Uint8Array(r.capability), relays: JSON.parse(r.relays) as string[]
    },
    state: r.state as FileState,
    path: r.path === null ? undefined : r.path as FilePath,
    done: Number(r.done),
    failure: r.failure ?? undefined,
    relayCounts: JSON.parse(r.relay_counts) as Record<string, number>,
    createdAt: Number(r.created_at),
    source: r.source_path ?? undefined
  }
}

const COLS = 'contact_id, message_id, direction, name, type, size, sha256, file_key, header, chunks, blob_id, capability, relays, state, path, done, failure, relay_counts, created_at, source_path'

/** FileStore.orphans, exported for the query-plan test (test/store/query-plans.test.ts): run at every start, so each
 * look-up goes by primary key. A group's file (owner `group:<id>/<sender>`, src/messenger/files/group-files.ts) has its
 * message in group_messages from that sender ('' for mine): the owner is split into group id and sender (comparing
 * the built string `'group:' || group_id || '/' || sender` walked every group message per row: 25 s for 100 rows
 * against 200k messages). A row whose owner names no sender (one migration 16 could not bind: two senders' messages
 * stored at once under its id) is never an orphan: it may be an honest, delivered file, and its sender is unknown. */
export const ORPHANS_SQL = `SELECT ${COLS} FROM file_transfers f
  WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.contact_id = f.contact_id AND m.direction = f.direction AND m.id = f.message_id AND m.deleted_at IS NULL)
  AND NOT (substr(f.contact_id, 1, 6) = 'group:' AND (instr(f.contact_id, '/') = 0 OR EXISTS (SELECT 1 FROM group_messages g
    WHERE g.group_id = substr(f.contact_id, 7, instr(substr(f.contact_id, 7), '/') - 1)
      AND g.sender = substr(f.contact_id, 7 + instr(substr(f.contact_id, 7), '/')) AND g.id = f.message_id AND g.direction = f.direction)))`

export class FileStore {
  constructor (private readonly db: Database) {}

  insert (t: TransferRow, now: number): void {
    const f = t.file
    this.db.prepare(`INSERT OR IGNORE INTO file_transfers (${COLS}, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run([
      t.contactId, t.messageId, t.direction, f.name, f.type, f.size, Buffer.from(f.sha256), Buffer.from(f.key), Buffer.from(f.header), f.chunks,
      Buffer.from(f.blobId), Buffer.from(f.capability), JSON.stringify(f.relays), t.state, t.path ?? null, t.done, t.failure ?? null,
      JSON.stringify(t.relayCounts), t.createdAt, t.source ?? null, now
    ])
  }

  /** The row's chunk file is whole: its source is no longer needed. */
  sealed (t: { contactId: string, messageId: string, direction: 'in' | 'out' }): void {
    this.db.prepare('UPDATE file_transfers SET source_path = NULL WHERE contact_id = ? AND message_id = ? AND direction = ?').run([t.contactId, t.messageId, t.direction])
  }

  /** An outgoing file's chunk file is whole (by blob id: its row may not be written yet): its source is no longer
   * needed. */
  sealedBlob (blobId: Uint8Array): void {
    this.db.prepare("UPDATE file_transfers SET source_path = NULL WHERE blob_id = ? AND direction = 'out'").run([Buffer.from(blobId)])
  }

  update (t: TransferRow, now: number): void {
    this.db.prepare('UPDATE file_transfers SET state = ?, path = ?, done = ?, failure = ?, relay_counts = ?, updated_at = ? WHERE contact_id = ? AND message_id = ? AND direction = ?')
      .run([t.state, t.path ?? null, t.done, t.failure ?? null, JSON.stringify(t.relayCounts), now, t.contactId, t.messageId, t.direction])
  }

  get (contactId: string, messageId: string, direction: 'in' | 'out'): TransferRow | undefined {
    const r = this.db.prepare(`SELECT ${COLS} FROM file_transfers WHERE contact_id = ? AND message_id = ? AND direction = ?`).get([contactId, messageId, direction]) as Raw | undefined
    return r === undefined ? undefined : toRow(r)
  }

  remove (t: { contactId: string, messageId: string, direction: 'in' | 'out' }): void {
    this.db.prepare('DELETE FROM file_transfers WHERE contact_id = ? AND message_id = ? AND direction = ?').run([t.contactId, t.messageId, t.direction])
  }

  byMessage (messageId: string): TransferRow[] {
    return (this.db.prepare(`SELECT ${COLS} FROM file_transfers WHERE message_id = ?`).all([messageId]) as unknown as Raw[]).map(toRow)
  }

  byBlob (blobId: Uint8Array, direction: 'in' | 'out'): TransferRow | undefined {
    const r = this.db.prepare(`SELECT ${COLS} FROM file_transfers WHERE blob_id = ? AND direction = ? ORDER BY state = 'failed', created_at LIMIT 1`).get([Buffer.from(blobId), direction]) as Raw | undefined
    return r === undefined ? undefined : toRow(r)
  }

  list (contactId: string): TransferRow[] {
    return (this.db.prepare(`SELECT ${COLS} FROM file_transfers WHERE contact_id = ? ORDER BY created_at`).all([contactId]) as unknown as Raw[]).map(toRow)
  }

  /** The rows of every owner that starts with `prefix` (a group's, src/messenger/files/group-files.ts
   * groupOwnerPrefix, which ends in '/'): a range of the primary key. */
  listPrefix (prefix: string): TransferRow[] {
    if (!prefix.endsWith('/')) throw new RangeError('an owner prefix ends in /')
    // '0' is the character after '/': the range holds exactly the owners that start with the prefix.
    const end = `${prefix.slice(0, -1)}0`
    return (this.db.prepare(`SELECT ${COLS} FROM file_transfers WHERE contact_id >= ? AND contact_id < ? ORDER BY created_at`).all([prefix, end]) as unknown as Raw[]).map(toRow)
  }

  /** Rows whose message is gone or deleted for everyone (a crash between that commit and the file's cleanup). */
  orphans (): TransferRow[] {
    return (this.db.prepare(ORPHANS_SQL).all() as unknown as Raw[]).map(toRow)
  }

  /** Outgoing rows delivered: their chunk files are no longer needed. */
  deliveredOut (): TransferRow[] {
    return (this.db.prepare(`SELECT ${COLS} FROM file_transfers WHERE direction = 'out' AND state = 'delivered'`).all() as unknown as Raw[]).map(toRow)
  }

  /** Outgoing rows that still name a source (sealing not finished, or a crash before it was forgotten). */
  withSource (): TransferRow[] {
    return (this.db.prepare(`SELECT ${COLS} FROM file_transfers WHERE direction = 'out' AND source_path IS NOT NULL`).all() as unknown as Raw[]).map(toRow)
  }

  unfinished (): TransferRow[] {
    return (this.db.prepare(`SELECT ${COLS} FROM file_transfers WHERE state NOT IN ('delivered', 'failed')`).all() as unknown as Raw[]).map(toRow)
  }
}
