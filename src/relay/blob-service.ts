// Relay side of /0m1/blob/1.0.0 (issue 12): anonymous puts of encrypted chunks (group-committed across streams and
// answered after the commit), status,
// get and delete, each gated by the blob's capability. Requests on one stream are answered in order; a client keeps
// up to MAX_BLOB_PUTS_IN_FLIGHT puts unanswered, and the relay reads no further ahead (the muxer window holds the
// rest back). Logs carry event names and refusal reasons only: never blob ids, capabilities or peer ids.
import type { Connection, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { Logger } from '../platform/logger.ts'
import { NetError } from '../net/errors.ts'
import { WireError } from '../wire/errors.ts'
import { decodeBlobClientFrame, encodeBlobServerFrame, MAX_BLOB_FRAME_BYTES, MAX_BLOB_PUTS_IN_FLIGHT, type BlobClientFrame, type BlobRefusal, type BlobServerFrame } from '../wire/blob.ts'
import type { BlobQuota, BlobResult, SqliteBlobStore } from './blob-store.ts'
import { UploadRate, type UploadBudget } from './blob-rate.ts'
import { ipPrefix } from './admission.ts'

export interface BlobServiceOptions {
  readonly store: SqliteBlobStore
  readonly quota: BlobQuota
  readonly logger: Logger
  readonly now: () => number
  /** Bytes of chunks one uploading peer may put per window (src/relay/blob-rate.ts); absent: no per-peer budget. */
  readonly upload?: UploadBudget | undefined
  /** The same per network prefix (issue 12 review: fresh peer ids cost nothing); absent: no per-prefix budget. */
  readonly prefixUpload?: UploadBudget | undefined
  /** The prefix a remote counts under (default ipPrefix, as the mailbox admission: src/relay/admission.ts). */
  readonly prefixOf?: ((remoteAddr: string, remotePeer: string) => string) | undefined
}

export class BlobService {
  private readonly streams = new Set<Stream>()
  private stopped = false
  /** Refusals by reason (tests, metrics). */
  readonly refusals = new Map<BlobRefusal, number>()

  /** Per-peer upload budgets (tests, metrics). */
  readonly uploads: UploadRate | undefined
  /** Per-prefix upload budgets (tests, metrics). */
  readonly prefixUploads: UploadRate | undefined

  constructor (private readonly o: BlobServiceOptions) {
    this.uploads = o.upload === undefined ? undefined : new UploadRate(o.upload)
    this.prefixUploads = o.prefixUpload === undefined ? undefined : new UploadRate(o.prefixUpload)
  }

  readonly handle = (stream: Stream, connection: Connection): void => {
    if (this.stopped) { stream.abort(new NetError('CLOSED', 'Relay is stopping.')); return }
    this.streams.add(stream)
    const peer = connection.remotePeer.toString()
    const remoteAddr = connection.remoteAddr.toString()
    this.serve(stream, peer, this.o.prefixOf?.(remoteAddr, peer) ?? ipPrefix(remoteAddr)).catch((err: unknown) => {
      this.o.logger.debug('blob-stream-error', { code: (err as Error).name })
      stream.abort(err instanceof Error ? err : new Error('blob stream failed'))
    }).finally(() => { this.streams.delete(stream) })
  }

  stop (): void {
    this.stopped = true
    for (const s of this.streams) s.abort(new NetError('CLOSED', 'Relay is stopping.'))
    this.streams.clear()
  }

  private refuse (reqId: number, reason: BlobRefusal, message: string): BlobServerFrame {
    this.refusals.set(reason, (this.refusals.get(reason) ?? 0) + 1)
    this.o.logger.info('blob-refused', { reason })
    return { type: 'error', reqId, reason, message }
  }

  private answer<T> (reqId: number, r: BlobResult<T>, ok: (v: T) => BlobServerFrame): BlobServerFrame {
    return r.ok ? ok(r.value) : this.refuse(reqId, r.reason, r.message)
  }

  /** Puts waiting for the next group commit (all streams). */
  private batch: Array<{ f: Extract<BlobClientFrame, { type: 'put' }>, resolve: (r: BlobResult<number>) => void, reject: (e: unknown) => void }> = []

  private commitPut (f: Extract<BlobClientFrame, { type: 'put' }>): Promise<BlobResult<number>> {
    return new Promise((resolve, reject) => {
      this.batch.push({ f, resolve, reject })
      if (this.batch.length === 1) setImmediate(() => { this.flush() })
    })
  }

  private flush (): void {
    const items = this.batch
    this.batch = []
    try {
      const results = this.o.store.putMany(items.map((i) => i.f), this.o.now(), this.o.quota)
      items.forEach((i, k) => { i.resolve(results[k] as BlobResult<number>) })
    } catch (err) {
      for (const i of items) i.reject(err)
    }
  }

  /** The refusal of a put over the uploader's budget: one sentence with the limit, no identifiers. */
  private rateRefusal (reqId: number): BlobServerFrame {
    const b = this.o.upload as UploadBudget
    const amount = b.bytesPerWindow >= 1024 * 1024 ? `${Math.floor(b.bytesPerWindow / (1024 * 1024))} MiB` : `${Math.floor(b.bytesPerWindow / 1024)} KiB`
    return this.refuse(reqId, 'RATE_LIMITED', `This relay takes at most ${amount} of file chunks per ${Math.max(1, Math.round(b.windowMs / 60_000))} min from one sender or one network; park the file on another relay or retry later.`)
  }

  /** Counts a put against its peer's and its network prefix's budgets; false (nothing counted) if either is spent. */
  private takeUpload (peer: string, prefix: string, bytes: number, now: number): boolean {
    if (this.prefixUploads !== undefined && !this.prefixUploads.take(prefix, bytes, now)) return false
    if (this.uploads !== undefined && !this.uploads.take(peer, bytes, now)) { this.prefixUploads?.refund(prefix, bytes); return false }
    return true
  }

  private async serve (stream: Stream, peer: string, prefix: string): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: MAX_BLOB_FRAME_BYTES, maxBufferSize: MAX_BLOB_PUTS_IN_FLIGHT * (MAX_BLOB_FRAME_BYTES + 8) })
    // Answers go out in request order; puts wait for a group commit while the next frames are read, up to the
    // client's window.
    let answers: Promise<void> = Promise.resolve()
    let failed: Error | undefined
    const inFlight = new Set<Promise<void>>()
    const send = (work: Promise<BlobServerFrame>): void => {
      const p = answers.then(async () => { await lp.write(encodeBlobServerFrame(await work)) })
      answers = p.catch((err: unknown) => { failed ??= err instanceof Error ? err : new Error('blob answer failed') })
      inFlight.add(p)
      void p.catch(() => {}).finally(() => { inFlight.delete(p) })
    }
    const internal = (err: unknown): BlobServerFrame => {
      this.o.logger.error('blob-store-failed', { code: (err as Error).name })
      return this.refuse(0, 'INTERNAL', 'The relay could not store or read the blob; try another relay.')
    }
    for (;;) {
      while (inFlight.size >= MAX_BLOB_PUTS_IN_FLIGHT) await Promise.race(inFlight).catch(() => {})
      if (failed !== undefined) throw failed
      let raw: Uint8Array
      try {
        raw = (await lp.read()).subarray()
      } catch (err) {
        const name = (err as Error).name
        if (name === 'UnexpectedEOFError') { await answers; await stream.close().catch(() => {}); return }
        if (name === 'InvalidDataLengthError' || name === 'InvalidDataLengthLengthError') {
          await answers
          await lp.write(encodeBlobServerFrame(this.refuse(0, 'TOO_LARGE', `Frame is over the ${MAX_BLOB_FRAME_BYTES}-byte limit.`))).catch(() => {})
          await stream.close().catch(() => {})
          return
        }
        throw err
      }
      let f: BlobClientFrame
      try {
        f = decodeBlobClientFrame(raw)
      } catch (err) {
        if (!WireError.is(err)) throw err
        await answers
        await lp.write(encodeBlobServerFrame(this.refuse(0, WireError.is(err, 'VERSION') ? 'UNSUPPORTED_VERSION' : WireError.is(err, 'TOO_LARGE') ? 'TOO_LARGE' : 'BAD_FRAME', err.message))).catch(() => {})
        await stream.close().catch(() => {})
        return
      }
      const s = this.o.store
      const now = this.o.now()
      const reqId = f.reqId
      try {
        switch (f.type) {
          case 'put': {
            if (!this.takeUpload(peer, prefix, f.data.length, now)) { send(Promise.resolve(this.rateRefusal(reqId))); break }
            const index = f.index
            send(this.commitPut(f).then((r) => this.answer(reqId, r, () => ({ type: 'stored', reqId, index })), internal))
            break
          }
          case 'status': send(Promise.resolve(this.answer(reqId, s.status(f.blobId, f.capability, now), (v) => ({ type: 'have', reqId, ...v })))); break
          case 'get': { const index = f.index; send(Promise.resolve(this.answer(reqId, s.get(f.blobId, f.capability, index, now), (data) => ({ type: 'chunk', reqId, index, data })))); break }
          case 'delete': send(Promise.resolve(this.answer(reqId, s.delete(f.blobId, f.capability, now), () => ({ type: 'deleted', reqId })))); break
        }
      } catch (err) {
        send(Promise.resolve(internal(err)))
      }
    }
  }
}
