// Sealing a file while it is sent (issue 12 throughput): the announcement needs only the file's hash (and its key
// and header), so the file is hashed in one fast pass, announced, and then sealed into its chunk file block by block
// while the first chunks already go out. Sealing the whole file before announcing it left the contact idle for a
// fifth of a 50 MB direct transfer.
//
// While a new file is sealed, the source is not hashed again (that cost the sender a second SHA-256 pass on the
// transfer's path): its stamp (device, inode, size, modification time) must be the one seen when it was hashed, at
// the start and at the end, and the last chunk is released only after that last check, so a contact never gets a
// whole file whose source changed on the way (it gets a cancel instead: transfers.ts). Reads never go past the
// announced size, and a short read fails the job before anything of that block is sealed.
//
// A sender that stops mid-seal (a crash, a restart) seals again from chunk 0 with a sealer resumed from the key and
// header (FileSealer.resume): the same plaintext gives byte-identical chunks, so what the contact confirmed stays
// valid and is not sent again. Hashing and sealing are then ONE pass, and the resumed job releases no chunk until
// the whole source hashed to the announced value (and its stamp held): a file changed since its announcement is
// sealed under the same key and nonces only into this device's own chunk file, never sent. The old chunk file is
// written over in place, never truncated. No push state is kept at rest: only the key and header (in the store).
import { createHash, timingSafeEqual, type Hash } from 'node:crypto'
import { constants } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { FileSealer } from '../../e2ee/file-crypto.ts'
import { chunkCount, FILE_CHUNK_BYTES, FILE_CIPHER_CHUNK_BYTES } from '../../wire/file.ts'
import { MessengerError } from '../errors.ts'

/** Chunks sealed and written at once (1 MiB of plaintext): one read and one write per block. */
export const SEAL_BLOCK_CHUNKS = 16
/** The hash pass reads this much at a time (4 MiB), the next read running while one is hashed. */
const HASH_READ_BYTES = 4 * 1024 * 1024

/** Reads exactly buf.length bytes at `position`, or fewer at the end of the file; returns how many. */
export async function readFull (fh: FileHandle, buf: Buffer, position: number): Promise<number> {
  let got = 0
  while (got < buf.length) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, position + got)
    if (bytesRead === 0) break
    got += bytesRead
  }
  return got
}

/** Writes all of `buf` at `position` (a write may take fewer bytes than asked: the rest is written again). */
export async function writeFull (fh: FileHandle, buf: Uint8Array, position: number): Promise<void> {
  let put = 0
  while (put < buf.length) {
    const { bytesWritten } = await fh.write(buf, put, buf.length - put, position + put)
    if (bytesWritten <= 0) throw new Error('the chunk file took no bytes')
    put += bytesWritten
  }
}

function unreadable (cause?: unknown): MessengerError {
  return new MessengerError('FILE_UNREADABLE', 'That file could not be read; check the path.', cause === undefined ? undefined : { cause })
}

/** Failures that mean the source is no longer the file announced (vs one that could not be read at all). */
const changes = new WeakSet<Error>()

function changed (): MessengerError {
  const err = new MessengerError('FILE_UNREADABLE', 'The file changed or went away while it was being sent; send it again.')
  changes.add(err)
  return err
}

/** Whether a sealing failure was the source changing (its stamp, size or hash) rather than a read failing. */
export function isSourceChanged (err: unknown): boolean { return err instanceof Error && changes.has(err) }

function stopped (): MessengerError { return new MessengerError('STOPPED', 'Sealing stopped.') }

async function openSource (path: string): Promise<FileHandle> {
  try { return await open(path, 'r') } catch (err) { throw unreadable(err) }
}

/** What identifies a file's version without reading it: device, inode, size and modification time (ns). Not the
 * change time: it also moves on metadata-only changes (a chmod, a new hard link, a backup tool's attributes), which
 * failed transfers of files whose bytes never changed. */
async function stampOf (fh: FileHandle): Promise<{ stamp: string, size: bigint }> {
  const st = await fh.stat({ bigint: true })
  return { stamp: `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}`, size: st.size }
}

/** The SHA-256 of a file of `size` bytes (FILE_UNREADABLE if it cannot be read or is not that size), and its stamp
 * (stampOf) taken before it was read: a later write changes it. */
export async function hashFile (path: string, size: number): Promise<{ sha256: Buffer, stamp: string }> {
  const src = await openSource(path)
  try {
    const { stamp } = await stampOf(src)
    const hash = createHash('sha256')
    const bufs = [Buffer.allocUnsafe(HASH_READ_BYTES), Buffer.allocUnsafe(HASH_READ_BYTES)] as const
    // Never more than size + 1 bytes: one byte past the size tells a file that grew (it is not read to its end).
    const wantAt = (at: number): number => Math.min(HASH_READ_BYTES, size + 1 - at)
    let at = 0
    let want = wantAt(0)
    let reading = readFull(src, bufs[0].subarray(0, want), 0)
    for (let k = 0; ; k++) {
      const n = await reading
      if (n === 0) break
      const buf = k % 2 === 0 ? bufs[0] : bufs[1]
      at += n
      if (at > size) break
      const full = n === want
      // The other buffer was hashed last turn: read into it while this one is hashed.
      if (full) { want = wantAt(at); reading = readFull(src, (k % 2 === 0 ? bufs[1] : bufs[0]).subarray(0, want), at) }
      hash.update(buf.subarray(0, n))
      if (!full) break
    }
    if (at !== size || (await stampOf(src)).stamp !== stamp) throw changed()
    return { sha256: hash.digest(), stamp }
  } finally {
    await src.close()
  }
}

export interface SealSpec {
  readonly source: string
  readonly target: string
  readonly key: Uint8Array
  readonly header: Uint8Array
  readonly size: number
  readonly sha256: Uint8Array
  /** The source's stamp when it was hashed (hashFile); a resumed job takes its own. */
  readonly stamp?: string | undefined
  /** Called once the chunk file is whole and synced, before its last chunk is released: the source is then no
   * longer needed and is forgotten first, so no later failure of it (a crash, a changed source at a restart's
   * re-seal) can fail or cancel a file the contact may already hold whole. */
  readonly whole?: (() => void) | undefined
  /** Tests only: sealing waits (until released or cancelled) before the block that starts at this chunk, as a slow
   * disk or a crash mid-seal would leave it. */
  readonly holdAt?: number | undefined
}

/** Tests only: the next job started or resumed waits before the block at this chunk (SealSpec.holdAt). */
let holdNextAt: number | undefined
/** Tests only: the next job's final sync fails (a full or failing disk). */
let failNextSyncForTest = false

/**
 * Seals `source` into `target` in order, chunk file durable (and SealSpec.whole called) before its last chunk is
 * released. `sealed` counts the chunks released to
 * readers (in the target, readable there); waitFor(n) resolves once n are. A new file's chunks are released as they
 * are written, but its last one only once the source's stamp was checked at the end; a resumed file's only once the
 * whole source hashed to the announced value. A job that fails releases nothing more, and waitFor rejects from then
 * on. A source whose stamp changed fails the job (FILE_UNREADABLE) and the transfer with it.
 */
export class SealJob {
  sealed = 0
  readonly chunks: number
  readonly done: Promise<void>
  /** Resolves once the target exists (readers may open it); rejects if the job fails before that. */
  readonly ready: Promise<void>
  #opened: (() => void) | undefined
  #openFailed: ((e: Error) => void) | undefined
  #cancelled = false
  #release: (() => void) | undefined
  #failure: Error | undefined
  readonly #holdAt: number | undefined
  readonly #failSync: boolean
  readonly #waiters = new Set<{ n: number, resolve: () => void, reject: (e: Error) => void }>()

  /** `first`: a new file's sealer and its target, already open for writing (readers can open it at once); none: a
   * file whose sealing a restart cut short (resume). */
  private constructor (private readonly spec: SealSpec, first?: { sealer: FileSealer, out: FileHandle }) {
    this.chunks = chunkCount(spec.size)
    this.#holdAt = spec.holdAt ?? holdNextAt
    holdNextAt = undefined
    this.#failSync = failNextSyncForTest
    failNextSyncForTest = false
    this.ready = first !== undefined ? Promise.resolve() : new Promise<void>((resolve, reject) => { this.#opened = resolve; this.#openFailed = reject })
    this.ready.catch(() => {})
    this.done = this.#run(first)
    this.done.catch(() => {})
  }

  /** Opens the target (a new file: created, or emptied) and starts sealing a new file. */
  static async start (spec: SealSpec, sealer: FileSealer): Promise<SealJob> {
    const out = await open(spec.target, 'w', 0o600)
    return new SealJob(spec, { sealer, out })
  }

  /** Seals again, from chunk 0 and byte for byte (FileSealer.resume), a file a restart cut short mid-seal: hashed in
   * the same pass, nothing released unless it still hashes to the announced value. */
  static resume (spec: SealSpec): SealJob {
    return new SealJob(spec)
  }

  /** Tests only: the next job (new or resumed) holds before the block at chunk `n` until released or cancelled. */
  static holdNextForTest (n: number | undefined): void { holdNextAt = n }

  /** Tests only: the next job (new or resumed) fails its final sync. */
  static failNextSyncForTest (): void { failNextSyncForTest = true }

  get failure (): Error | undefined { return this.#failure }

  /** Stops at the next block (stop, or the file deleted); `done` then rejects with STOPPED. */
  cancel (): void { this.#cancelled = true; this.#release?.() }

  /** Tests only: lets a job held at `holdAt` go on. */
  release (): void { this.#holding = false; this.#release?.() }
  #holding = true
  /** Tests only: the job waits at its `holdAt` now. */
  get heldForTest (): boolean { return this.#waitingAtHold }
  #waitingAtHold = false

  /** Resolves once at least `n` chunks are released; rejects if the job failed or is cancelled (whatever it had
   * released: a reader of a failed job stops). */
  async waitFor (n: number): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure
    if (this.sealed >= Math.min(n, this.chunks)) return
    await new Promise<void>((resolve, reject) => { this.#waiters.add({ n: Math.min(n, this.chunks), resolve, reject }) })
  }

  #advance (sealed: number): void {
    if (this.#failure !== undefined || sealed <= this.sealed) return
    this.sealed = sealed
    for (const w of this.#waiters) if (w.n <= sealed) { this.#waiters.delete(w); w.resolve() }
  }

  #fail (err: unknown): Error {
    this.#failure ??= err instanceof Error ? err : new Error('sealing failed')
    this.#openFailed?.(this.#failure)
    for (const w of this.#waiters) w.reject(this.#failure)
    this.#waiters.clear()
    return this.#failure
  }

  async #run (first: { sealer: FileSealer, out: FileHandle } | undefined): Promise<void> {
    let out = first?.out
    let src: FileHandle | undefined
    try {
      src = await openSource(this.spec.source)
      const now = await stampOf(src)
      if (now.size !== BigInt(this.spec.size) || (this.spec.stamp !== undefined && now.stamp !== this.spec.stamp)) throw changed()
      if (this.#cancelled) throw stopped()
      if (out === undefined) {
        // Resumed: written over in place (never truncated: the chunks there are this file's, byte for byte, unless
        // the source changed, which the hash at the end tells before anything is released).
        out = await open(this.spec.target, constants.O_RDWR | constants.O_CREAT, 0o600)
        this.#opened?.()
      }
      const resumed = first === undefined
      const sealer = first?.sealer ?? FileSealer.resume(this.spec.key, this.spec.header)
      await this.#seal(src, out, sealer, resumed ? createHash('sha256') : undefined)
      // The last check before the last chunk goes: the source is still the one hashed (and announced).
      if ((await stampOf(src)).stamp !== now.stamp) throw changed()
      // Durable, and the source forgotten, before the last chunk goes: once it has gone nothing may fail the job.
      if (this.#failSync) throw new Error('the chunk file could not be synced (test)')
      await out.sync()
      this.spec.whole?.()
      this.#advance(this.chunks)
    } catch (err) {
      throw this.#fail(err)
    } finally {
      await src?.close().catch(() => {})
      await out?.close().catch(() => {})
    }
  }

  /** Reads, seals and writes every block; a resumed job (`hash`) releases nothing, a new one all but the last
   * chunk (#run releases it after the final stamp check). */
  async #seal (src: FileHandle, out: FileHandle, sealer: FileSealer, hash: Hash | undefined): Promise<void> {
    const { chunks } = this
    const { size } = this.spec
    // Two of each buffer: the next block is read, and the last one written, while this one is sealed.
    const plainBufs = [Buffer.alloc(SEAL_BLOCK_CHUNKS * FILE_CHUNK_BYTES), Buffer.alloc(SEAL_BLOCK_CHUNKS * FILE_CHUNK_BYTES)] as const
    const sealedBufs = [Buffer.alloc(SEAL_BLOCK_CHUNKS * FILE_CIPHER_CHUNK_BYTES), Buffer.alloc(SEAL_BLOCK_CHUNKS * FILE_CIPHER_CHUNK_BYTES)] as const
    const writes: [Promise<unknown>, Promise<unknown>] = [Promise.resolve(), Promise.resolve()]
    const blocks = Math.ceil(chunks / SEAL_BLOCK_CHUNKS)
    /** Plaintext bytes of a block: never past the announced size (bytes a grown file gained are not read). */
    const wantOf = (block: number): number => Math.max(0, Math.min(SEAL_BLOCK_CHUNKS * FILE_CHUNK_BYTES, size - block * SEAL_BLOCK_CHUNKS * FILE_CHUNK_BYTES))
    const readBlock = (block: number): Promise<number> => {
      const p = readFull(src, (block % 2 === 0 ? plainBufs[0] : plainBufs[1]).subarray(0, wantOf(block)), block * SEAL_BLOCK_CHUNKS * FILE_CHUNK_BYTES)
      p.catch(() => {})
      return p
    }
    let reading = readBlock(0)
    try {
      for (let b = 0; b < blocks; b++) {
        const first = b * SEAL_BLOCK_CHUNKS
        if (this.#holdAt !== undefined && first >= this.#holdAt && this.#holding && !this.#cancelled) {
          this.#waitingAtHold = true
          await new Promise<void>((resolve) => { this.#release = resolve })
          this.#waitingAtHold = false
        }
        if (this.#cancelled) throw stopped()
        const count = Math.min(SEAL_BLOCK_CHUNKS, chunks - first)
        const n = await reading
        // A file cut short since it was hashed: nothing of this block is sealed.
        if (n !== wantOf(b)) throw changed()
        if (b + 1 < blocks) reading = readBlock(b + 1)
        const buf = b % 2 === 0 ? plainBufs[0] : plainBufs[1]
        const sealed = b % 2 === 0 ? sealedBufs[0] : sealedBufs[1]
        hash?.update(buf.subarray(0, n))
        // This block's sealed buffer was last written two blocks ago.
        await writes[b % 2]
        for (let k = 0; k < count; k++) {
          const i = first + k
          const plain = buf.subarray(k * FILE_CHUNK_BYTES, Math.max(k * FILE_CHUNK_BYTES, Math.min(n, (k + 1) * FILE_CHUNK_BYTES)))
          sealer.sealInto(plain, i === chunks - 1, sealed.subarray(k * FILE_CIPHER_CHUNK_BYTES, (k + 1) * FILE_CIPHER_CHUNK_BYTES))
        }
        // Blocks are written in order (a write waits for the one before), so `sealed` only ever covers a prefix. No
        // fdatasync until the end: chunks go out once written (a crash before the end seals again from the source),
        // and a sync every few MiB held the next writes, and so the upload, behind the disk. The file's last chunk
        // waits for #run's final check; a resumed file's chunks all wait for its hash.
        const release = hash === undefined ? Math.min(first + count, chunks - 1) : 0
        const prev = b % 2 === 0 ? writes[1] : writes[0]
        const w: Promise<unknown> = prev.then(async () => {
          await writeFull(out, sealed.subarray(0, count * FILE_CIPHER_CHUNK_BYTES), first * FILE_CIPHER_CHUNK_BYTES)
          this.#advance(release)
        })
        w.catch(() => {})
        writes[b % 2] = w
      }
    } finally {
      // Nothing left running on the file handles when this returns or throws.
      await Promise.allSettled([reading, ...writes])
    }
    await Promise.all(writes)
    if (hash !== undefined && !timingSafeEqual(hash.digest(), this.spec.sha256)) throw changed()
  }
}
