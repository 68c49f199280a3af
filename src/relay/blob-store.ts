// The relay's blob store (issue 12): encrypted file chunks parked for a contact who is offline. A blob is a random
// id, the SHA-256 of its fetch capability, its chunk count and its chunks, kept 30 days. The relay learns nothing
// else: no mailbox, no sender, no name. Chunks are stored in order (a resumed upload continues at `count`), each in
// its own commit (synchronous=FULL: on disk before the relay answers). A blob may start at a later chunk than the
// first (`first`): a sender whose direct stream broke parks only what the contact has not confirmed yet.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { Database, Migration } from '../store/db.ts'
import type { BlobRefusal } from '../wire/blob.ts'
import { blobIdOfToken } from '../wire/file.ts'

export const BLOB_MIGRATION: Migration = {
  version: 4,
  name: 'blob store (issue 12)',
  up: `
    CREATE TABLE blobs (
      id BLOB PRIMARY KEY,
      cap_hash BLOB NOT NULL,
      chunks INTEGER NOT NULL,
      first INTEGER NOT NULL DEFAULT 0,
      stored INTEGER NOT NULL DEFAULT 0,
      bytes INTEGER NOT NULL DEFAULT 0,
      expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX blobs_by_expiry ON blobs (expires_at);
    CREATE TABLE blob_chunks (blob BLOB NOT NULL, idx INTEGER NOT NULL, data BLOB NOT NULL);
    CREATE UNIQUE INDEX blob_chunks_by_blob ON blob_chunks (blob, idx);
  `
}

export interface BlobQuota {
  /** Bytes one blob may hold. */
  readonly maxBlobBytes: number
  /** Bytes all blobs together may hold on this relay. */
  readonly maxTotalBytes: number
  readonly expiryMs: number
}

export type BlobResult<T> = { readonly ok: true, readonly value: T } | { readonly ok: false, readonly reason: BlobRefusal, readonly message: string }

/** One sentence for a missing blob and a wrong capability alike: the answer must not tell them apart. */
export const NOT_FOUND_MESSAGE = 'No such blob, or the capability does not match.'
const notFound = { ok: false, reason: 'NOT_FOUND', message: NOT_FOUND_MESSAGE } as const

function capHash (capability: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(createHash('sha256').update(capability).digest())
}

interface Row { cap_hash: Uint8Array, chunks: number | bigint, first: number | bigint, stored: number | bigint, bytes: number | bigint, expires_at: number | bigint }

export class SqliteBlobStore {
  private total = 0
  private readonly q: Record<'get' | 'create' | 'addChunk' | 'bump' | 'chunk' | 'delBlob' | 'delChunks' | 'expired', ReturnType<Database['prepare']>>

  constructor (private readonly db: Database) {
    this.q = {
      get: db.prepare('SELECT cap_hash, chunks, first, stored, bytes, expires_at FROM blobs WHERE id = ?'),
      create: db.prepare('INSERT INTO blobs (id, cap_hash, chunks, first, stored, expires_at) VALUES (?, ?, ?, ?, ?, ?)'),
      addChunk: db.prepare('INSERT INTO blob_chunks (blob, idx, data) VALUES (?, ?, ?)'),
      bump: db.prepare('UPDATE blobs SET stored = stored + 1, bytes = bytes + ? WHERE id = ?'),
      chunk: db.prepare('SELECT data FROM blob_chunks WHERE blob = ? AND idx = ?'),
      delBlob: db.prepare('DELETE FROM blobs WHERE id = ? RETURNING bytes'),
      delChunks: db.prepare('DELETE FROM blob_chunks WHERE blob = ?'),
      expired: db.prepare('SELECT id FROM blobs WHERE expires_at <= ?')
    }
    this.total = Number((db.prepare('SELECT coalesce(sum(bytes), 0) AS b FROM blobs').get() as { b: number | bigint }).b)
  }

  /** Bytes held in all blobs (status, metrics, quota). */
  totalBytes (): number { return this.total }

  /**
   * The blob if it exists, is not expired and the capability matches; compared in constant time. `read`: status and
   * get also take the blob's fetch token, SHA-256(capability), which is what the relay stores: a group's members get
   * only the token (src/messenger/files/group-files.ts), so they can fetch a group's copy but never delete it (nor
   * put to it), while the sender (and a one-to-one recipient, who gets the capability) can.
   */
  private find (blobId: Uint8Array, capability: Uint8Array, now: number, read = false): Row | undefined {
    const row = this.q.get.get([Buffer.from(blobId)]) as Row | undefined
    const want = capHash(capability)
    // A missing blob costs the same comparisons as a present one.
    const stored = row === undefined ? new Uint8Array(32) : row.cap_hash
    const byCapability = timingSafeEqual(want, stored)
    const byToken = capability.length === stored.length && timingSafeEqual(capability, stored)
    const ok = (byCapability || (read && byToken)) && row !== undefined
    if (!ok || Number(row.expires_at) <= now) return undefined
    return row
  }

  /** Stores chunk `index` (must be the next one, or one already stored: then a no-op). Durable on return. */
  put (blobId: Uint8Array, capability: Uint8Array, chunks: number, index: number, data: Uint8Array, now: number, quota: BlobQuota): BlobResult<number> {
    return this.db.transaction((): BlobResult<number> => {
      const id = Buffer.from(blobId)
      let row = this.find(blobId, capability, now)
      if (row === undefined) {
        if (this.q.get.get([id]) !== undefined) return notFound // another capability's blob: say nothing more
        // Only the capability's own id may be created: whoever knows a blob id (a group's members) cannot claim it
        // first under a capability of its own and lock out the sender (src/wire/file.ts blobIdOfToken).
        if (!timingSafeEqual(blobIdOfToken(capHash(capability)), blobId)) return { ok: false, reason: 'BAD_FRAME', message: 'A blob id must be derived from its capability.' }
        if ((chunks - index) * data.length > quota.maxBlobBytes) return { ok: false, reason: 'TOO_LARGE', message: `This relay keeps files of at most ${quota.maxBlobBytes} bytes (encrypted).` }
        this.q.create.run([id, capHash(capability), chunks, index, index, now + quota.expiryMs])
        row = { cap_hash: capHash(capability), chunks, first: index, stored: index, bytes: 0, expires_at: now + quota.expiryMs }
      }
      if (Number(row.chunks) !== chunks) return { ok: false, reason: 'BAD_FRAME', message: 'The put names a different chunk count than the blob has.' }
      const stored = Number(row.stored)
      if (index < stored) return index >= Number(row.first) ? { ok: true, value: index } : { ok: false, reason: 'OUT_OF_ORDER', message: 'The blob on this relay starts after that chunk.' }
      if (index > stored) return { ok: false, reason: 'OUT_OF_ORDER', message: `The relay holds ${stored} chunks of this blob; send chunk ${stored} next.` }
      if (this.total + data.length > quota.maxTotalBytes) return { ok: false, reason: 'QUOTA_BYTES', message: 'This relay\'s blob store is full; park the file on another relay or retry later.' }
      this.q.addChunk.run([id, index, Buffer.from(data)])
      this.q.bump.run([data.length, id])
      this.total += data.length
      return { ok: true, value: index }
    })()
  }

  /** count: the next chunk the relay expects (chunks below the blob's first were never parked here). */
  /** Several puts (from any streams) in one commit: one fsync for all, as the mailbox deposits group theirs. */
  putMany (items: ReadonlyArray<{ blobId: Uint8Array, capability: Uint8Array, chunks: number, index: number, data: Uint8Array }>, now: number, quota: BlobQuota): Array<BlobResult<number>> {
    try {
      return this.db.transaction(() => items.map((i) => this.put(i.blobId, i.capability, i.chunks, i.index, i.data, now, quota)))()
    } catch (err) {
      // Rolled back: the byte counter follows the table again.
      this.total = Number((this.db.prepare('SELECT coalesce(sum(bytes), 0) AS b FROM blobs').get() as { b: number | bigint }).b)
      throw err
    }
  }

  /** count: the next chunk the relay expects (chunks below the blob's first were never parked here). */
  status (blobId: Uint8Array, capability: Uint8Array, now: number): BlobResult<{ count: number, chunks: number }> {
    const row = this.find(blobId, capability, now, true)
    if (row === undefined) return notFound
    return { ok: true, value: { count: Number(row.stored), chunks: Number(row.chunks) } }
  }

  get (blobId: Uint8Array, capability: Uint8Array, index: number, now: number): BlobResult<Uint8Array> {
    const row = this.find(blobId, capability, now, true)
    if (row === undefined) return notFound
    if (index >= Number(row.stored) || index < Number(row.first)) return { ok: false, reason: 'NOT_FOUND', message: 'The relay does not hold that chunk yet.' }
    const c = this.q.chunk.get([Buffer.from(blobId), index]) as { data: Uint8Array } | undefined
    if (c === undefined) return { ok: false, reason: 'INTERNAL', message: 'The relay lost that chunk.' }
    return { ok: true, value: new Uint8Array(c.data) }
  }

  delete (blobId: Uint8Array, capability: Uint8Array, now: number): BlobResult<true> {
    if (this.find(blobId, capability, now) === undefined) return notFound
    this.remove(Buffer.from(blobId))
    return { ok: true, value: true }
  }

  private remove (id: Uint8Array<ArrayBuffer>): void {
    this.db.transaction(() => {
      const r = this.q.delBlob.get([id]) as { bytes: number | bigint } | undefined
      this.q.delChunks.run([id])
      if (r !== undefined) this.total -= Number(r.bytes)
    })()
  }

  /** Deletes expired blobs; returns how many. */
  sweep (now: number): number {
    const ids = (this.q.expired.all([now]) as Array<{ id: Uint8Array }>).map((r) => Buffer.from(r.id))
    for (const id of ids) this.remove(id)
    return ids.length
  }

  /** Test hook (the tampering relay of test/messenger/files.test.ts): flips a byte of a stored chunk. */
  tamperForTest (blobId: Uint8Array, index: number): boolean {
    const c = this.q.chunk.get([Buffer.from(blobId), index]) as { data: Uint8Array } | undefined
    if (c === undefined) return false
    const data = Buffer.from(c.data)
    data[40] = (data[40] ?? 0) ^ 1
    this.db.prepare('UPDATE blob_chunks SET data = ? WHERE blob = ? AND idx = ?').run([data, Buffer.from(blobId), index])
    return true
  }
}
