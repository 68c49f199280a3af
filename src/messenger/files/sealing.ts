// Sealing a file while it is sent (issue 12 throughput): the announcement needs only the file's hash (and its key
// and header), so the file is hashed in one fast pass, announced, and then sealed into its chunk file block by block
// while the first chunks already go out. Sealing the whole file before announcing it left the contact idle for a
// fifth of a 50 MB direct transfer.
//
// A sender that stops mid-seal (a crash, a restart) seals again from chunk 0 with a sealer resumed from the key and
// header (FileSealer.resume): the same plaintext gives byte-identical chunks, so what the contact confirmed stays
// valid and is not sent again. Nothing but the key and header (already in the encrypted store) is needed for that:
// no push state is kept at rest. The source is hashed again first, so a file changed since it was announced is never
// sealed a second time under the same key and nonces. While it is sealed, the source is not hashed again (that cost
// the sender a second SHA-256 pass on the transfer's path): its identity, size and modification time are compared
// with those seen when it was hashed (a file changed in between fails the job; the contact's hash check stays the
// final word).
import { createHash, timingSafeEqual } from 'node:crypto'
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

function unreadable (cause?: unknown): MessengerError {
  return new MessengerError('FILE_UNREADABLE', 'That file could not be read; check the path.', cause === undefined ? undefined : { cause })
}

function changed (): MessengerError {
  return new MessengerError('FILE_UNREADABLE', 'The file changed or went away while it was being sent; send it again.')
}

async function openSource (path: string): Promise<FileHandle> {
  try { return await open(path, 'r') } catch (err) { throw unreadable(err) }
}

/** What identifies a file's version without reading it: device, inode, size and modification time (ns). */
async function stampOf (fh: FileHandle): Promise<string> {
  const st = await fh.stat({ bigint: true })
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`
}

/** The SHA-256 of a file of `size` bytes (FILE_UNREADABLE if it cannot be read or is not that size), and its stamp
 * (stampOf) taken before it was read: a later write changes it. */
export async function hashFile (path: string, size: number): Promise<{ sha256: Buffer, stamp: string }> {
  const src = await openSource(path)
  try {
    const stamp = await stampOf(src)
    const hash = createHash('sha256')
    const bufs = [Buffer.allocUnsafe(HASH_READ_BYTES), Buffer.allocUnsafe(HASH_READ_BYTES)] as const
    let at = 0
    let reading = readFull(src, bufs[0], 0)
    for (let k = 0; ; k++) {
      const n = await reading
      if (n === 0) break
      const buf = k % 2 === 0 ? bufs[0] : bufs[1]
      at += n
      // The other buffer was hashed last turn: read into it while this one is hashed.
      if (n === HASH_READ_BYTES) reading = readFull(src, k % 2 === 0 ? bufs[1] : bufs[0], at)
      hash.update(buf.subarray(0, n))
      if (n < HASH_READ_BYTES) break
    }
    if (at !== size || await stampOf(src) !== stamp) throw changed()
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
  /** Tests only: sealing waits (until cancelled) before the block that starts at this chunk, as a slow disk or a
   * crash mid-seal would leave it. */
  readonly holdAt?: number | undefined
}

/**
 * Seals `source` into `target` (created or truncated) in order, chunk file durable at the end. `sealed` counts the
 * chunks written to the target so far (readable there); waitFor(n) resolves once n are. A source whose stamp
 * changed since its hash was taken fails the job (FILE_UNREADABLE) and the transfer with it.
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
  readonly #waiters = new Set<{ n: number, resolve: () => void, reject: (e: Error) => void }>()

  /** `first`: a new file's sealer and its target, already open for writing (readers can open it at once); none: a
   * file whose sealing a restart cut short (resume). */
  private constructor (private readonly spec: SealSpec, first?: { sealer: FileSealer, out: FileHandle }) {
    this.chunks = chunkCount(spec.size)
    this.ready = first !== undefined ? Promise.resolve() : new Promise<void>((resolve, reject) => { this.#opened = resolve; this.#openFailed = reject })
    this.ready.catch(() => {})
    this.done = this.#run(first)
    this.done.catch(() => {})
  }

  /** Opens the target and starts sealing a new file. */
  static async start (spec: SealSpec, sealer: FileSealer): Promise<SealJob> {
    const out = await open(spec.target, 'w', 0o600)
    return new SealJob(spec, { sealer, out })
  }

  /** Seals again, from chunk 0 and byte for byte (FileSealer.resume), a file a restart cut short mid-seal. Its source
   * is hashed first and must still match: a changed file is never sealed twice under the same key and nonces. */
  static resume (spec: SealSpec): SealJob {
    return new SealJob(spec)
  }

  get failure (): Error | undefined { return this.#failure }

  /** Stops at the next block (stop, or the file deleted); `done` then rejects with STOPPED. */
  cancel (): void { this.#cancelled = true; this.#release?.() }

  /** Tests only: lets a job held at `holdAt` go on. */
  release (): void { this.#holding = false; this.#release?.() }
  #holding = true

  /** Resolves once at least `n` chunks are in the target; rejects if the job fails or is cancelled first. */
  async waitFor (n: number): Promise<void> {
    if (this.sealed >= Math.min(n, this.chunks)) return
    if (this.#failure !== undefined) throw this.#failure
    await new Promise<void>((resolve, reject) => { this.#waiters.add({ n: Math.min(n, this.chunks), resolve, reject }) })
  }

  #advance (sealed: number): void {
    this.sealed = sealed
    for (const w of this.#waiters) if (w.n <= sealed) { this.#waiters.delete(w); w.resolve() }
  }

  async #run (first: { sealer: FileSealer, out: FileHandle } | undefined): Promise<void> {
    let out = first?.out
    try {
      let sealer = first?.sealer
      let stamp = this.spec.stamp
      if (sealer === undefined) {
        const hashed = await hashFile(this.spec.source, this.spec.size)
        if (!timingSafeEqual(hashed.sha256, this.spec.sha256)) throw changed()
        stamp = hashed.stamp
        if (this.#cancelled) throw new MessengerError('STOPPED', 'Sealing stopped.')
        sealer = FileSealer.resume(this.spec.key, this.spec.header)
        out = await open(this.spec.target, 'w', 0o600)
        this.#opened?.()
      }
      await this.#seal(out as FileHandle, sealer, stamp)
      await (out as FileHandle).sync()
    } catch (err) {
      this.#failure = err instanceof Error ? err : new Error('sealing failed')
      this.#openFailed?.(this.#failure)
      for (const w of this.#waiters) w.reject(this.#failure)
      this.#waiters.clear()
      throw this.#failure
    } finally {
      await out?.close().catch(() => {})
    }
  }

  async #seal (out: FileHandle, sealer: FileSealer, stamp: string | undefined): Promise<void> {
    const { chunks } = this
    const src = await openSource(this.spec.source)
    if (stamp !== undefined && await stampOf(src) !== stamp) { await src.close(); throw changed() }
    // Two of each buffer: the next block is read, and the last one written, while this one is hashed and sealed.
    const plainBufs = [Buffer.alloc(SEAL_BLOCK_CHUNKS * FILE_CHUNK_BYTES), Buffer.alloc(SEAL_BLOCK_CHUNKS * FILE_CHUNK_BYTES)] as const
    const sealedBufs = [Buffer.alloc(SEAL_BLOCK_CHUNKS * FILE_CIPHER_CHUNK_BYTES), Buffer.alloc(SEAL_BLOCK_CHUNKS * FILE_CIPHER_CHUNK_BYTES)] as const
    const writes: [Promise<unknown>, Promise<unknown>] = [Promise.resolve(), Promise.resolve()]
    const blocks = Math.ceil(chunks / SEAL_BLOCK_CHUNKS)
    const readBlock = (block: number): Promise<number> => {
      const first = block * SEAL_BLOCK_CHUNKS
      const count = Math.min(SEAL_BLOCK_CHUNKS, chunks - first)
      const p = readFull(src, (block % 2 === 0 ? plainBufs[0] : plainBufs[1]).subarray(0, count * FILE_CHUNK_BYTES), first * FILE_CHUNK_BYTES)
      p.catch(() => {})
      return p
    }
    let total = 0
    let reading = readBlock(0)
    try {
      for (let b = 0; b < blocks; b++) {
        const first = b * SEAL_BLOCK_CHUNKS
        if (this.spec.holdAt !== undefined && first >= this.spec.holdAt && this.#holding && !this.#cancelled) await new Promise<void>((resolve) => { this.#release = resolve })
        if (this.#cancelled) throw new MessengerError('STOPPED', 'Sealing stopped.')
        const count = Math.min(SEAL_BLOCK_CHUNKS, chunks - first)
        const n = await reading
        if (b + 1 < blocks) reading = readBlock(b + 1)
        total += n
        const buf = b % 2 === 0 ? plainBufs[0] : plainBufs[1]
        const sealed = b % 2 === 0 ? sealedBufs[0] : sealedBufs[1]
        // This block's sealed buffer was last written two blocks ago.
        await writes[b % 2]
        for (let k = 0; k < count; k++) {
          const i = first + k
          const plain = buf.subarray(k * FILE_CHUNK_BYTES, Math.max(k * FILE_CHUNK_BYTES, Math.min(n, (k + 1) * FILE_CHUNK_BYTES)))
          sealer.sealInto(plain, i === chunks - 1, sealed.subarray(k * FILE_CIPHER_CHUNK_BYTES, (k + 1) * FILE_CIPHER_CHUNK_BYTES))
        }
        // Blocks are written in order (a write waits for the one before), so `sealed` only ever covers a prefix. No
        // fdatasync until the end: chunks go out once written (a crash before the end seals again from the source),
        // and a sync every few MiB held the next writes, and so the upload, behind the disk.
        const prev = b % 2 === 0 ? writes[1] : writes[0]
        const w: Promise<unknown> = prev.then(async () => {
          await out.write(sealed, 0, count * FILE_CIPHER_CHUNK_BYTES, first * FILE_CIPHER_CHUNK_BYTES)
          this.#advance(first + count)
        })
        w.catch(() => {})
        writes[b % 2] = w
      }
      if (total !== this.spec.size || (stamp !== undefined && await stampOf(src) !== stamp)) throw changed()
    } finally {
      // Nothing left running on the file handles when this returns or throws.
      await Promise.allSettled([reading, ...writes])
      await src.close()
    }
    await Promise.all(writes)
  }
}
