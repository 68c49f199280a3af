// Relay side of /0m1/blob/1.0.0 (issue 12): anonymous puts of encrypted chunks (answered after the commit), status,
// get and delete, each gated by the blob's capability. Requests on one stream are answered in order; a client keeps
// up to MAX_BLOB_PUTS_IN_FLIGHT puts unanswered, and the relay reads no further ahead (the muxer window holds the
// rest back). Logs carry event names and refusal reasons only: never blob ids, capabilities or peer ids.
import type { Connection, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { Logger } from '../platform/logger.ts'
import { NetError } from '../net/errors.ts'
import { WireError } from '../wire/errors.ts'
import { decodeBlobClientFrame, encodeBlobServerFrame, MAX_BLOB_FRAME_BYTES, MAX_BLOB_PUTS_IN_FLIGHT, type BlobRefusal, type BlobServerFrame } from '../wire/blob.ts'
import type { BlobQuota, BlobResult, SqliteBlobStore } from './blob-store.ts'

export interface BlobServiceOptions {
  readonly store: SqliteBlobStore
  readonly quota: BlobQuota
  readonly logger: Logger
  readonly now: () => number
}

export class BlobService {
  private readonly streams = new Set<Stream>()
  private stopped = false
  /** Refusals by reason (tests, metrics). */
  readonly refusals = new Map<BlobRefusal, number>()

  constructor (private readonly o: BlobServiceOptions) {}

  readonly handle = (stream: Stream, _connection: Connection): void => {
    if (this.stopped) { stream.abort(new NetError('CLOSED', 'Relay is stopping.')); return }
    this.streams.add(stream)
    this.serve(stream).catch((err: unknown) => {
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

  private async serve (stream: Stream): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: MAX_BLOB_FRAME_BYTES, maxBufferSize: MAX_BLOB_PUTS_IN_FLIGHT * (MAX_BLOB_FRAME_BYTES + 8) })
    for (;;) {
      let raw: Uint8Array
      try {
        raw = (await lp.read()).subarray()
      } catch (err) {
        const name = (err as Error).name
        if (name === 'UnexpectedEOFError') { await stream.close().catch(() => {}); return }
        if (name === 'InvalidDataLengthError' || name === 'InvalidDataLengthLengthError') {
          await lp.write(encodeBlobServerFrame(this.refuse(0, 'TOO_LARGE', `Frame is over the ${MAX_BLOB_FRAME_BYTES}-byte limit.`))).catch(() => {})
          await stream.close().catch(() => {})
          return
        }
        throw err
      }
      let out: BlobServerFrame
      try {
        const f = decodeBlobClientFrame(raw)
        const now = this.o.now()
        const s = this.o.store
        switch (f.type) {
          case 'put': out = this.answer(f.reqId, s.put(f.blobId, f.capability, f.chunks, f.index, f.data, now, this.o.quota), (index) => ({ type: 'stored', reqId: f.reqId, index })); break
          case 'status': out = this.answer(f.reqId, s.status(f.blobId, f.capability, now), (v) => ({ type: 'have', reqId: f.reqId, ...v })); break
          case 'get': out = this.answer(f.reqId, s.get(f.blobId, f.capability, f.index, now), (data) => ({ type: 'chunk', reqId: f.reqId, index: f.index, data })); break
          case 'delete': out = this.answer(f.reqId, s.delete(f.blobId, f.capability, now), () => ({ type: 'deleted', reqId: f.reqId })); break
        }
      } catch (err) {
        if (!WireError.is(err)) {
          this.o.logger.error('blob-store-failed', { code: (err as Error).name })
          out = this.refuse(0, 'INTERNAL', 'The relay could not store or read the blob; try another relay.')
        } else {
          out = this.refuse(0, WireError.is(err, 'VERSION') ? 'UNSUPPORTED_VERSION' : WireError.is(err, 'TOO_LARGE') ? 'TOO_LARGE' : 'BAD_FRAME', err.message)
          await lp.write(encodeBlobServerFrame(out)).catch(() => {})
          await stream.close().catch(() => {})
          return
        }
      }
      await lp.write(encodeBlobServerFrame(out))
    }
  }
}
