// Issue 13: the relay's side of short invites (/0m1/park/1.0.0, frames: src/wire/parked-invite.ts). A small,
// bounded store of sealed invites: the relay cannot open them (the key is only in the short link), keeps each
// until its expiry (at most MAX_PARK_LIFETIME_MS), at most MAX_PARKED_INVITES in all and at most
// parkedInvitesPerPrefixWindow parks per network prefix per window (counted in memory only: the relay stores
// nothing about who parked), and deletes one when the inviter presents its remove token (revoke). Anyone holding
// the id may fetch the sealed bytes.
import { createHash } from 'node:crypto'
import type { Connection, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { Logger } from '../platform/logger.ts'
import type { Database } from '../store/db.ts'
import { ipPrefix } from './admission.ts'
import { UploadRate, type UploadBudget } from './blob-rate.ts'
import { decodeParkRequest, encodeParkAnswer, MAX_PARK_FRAME_BYTES, PARK_PROTOCOL, type ParkAnswer, type ParkRequest } from '../wire/parked-invite.ts'

/** Invites parked at once on one relay: 10,000 × 6 KiB is 60 MiB at most, small beside its mailboxes. */
export const MAX_PARKED_INVITES = 10_000
/** The longest an invite may stay parked: an invite lives at most 30 days (MAX_INVITE_LIFETIME_MS). */
export const MAX_PARK_LIFETIME_MS = 30 * 24 * 3600_000
/** One park request and its answer on one stream. */
export const PARK_STREAM_DEADLINE_MS = 10_000

const hashOf = (token: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(createHash('sha256').update(token).digest())

export interface ParkedInvitesOptions {
  readonly now: () => number
  /** Parks per network prefix per window (the budget counts parks, one each); absent: no per-prefix budget. */
  readonly perPrefix?: UploadBudget | undefined
  /** The prefix a remote counts under (default ipPrefix, as the mailbox admission: src/relay/admission.ts). */
  readonly prefixOf?: ((remoteAddr: string, remotePeer: string) => string) | undefined
}

export class ParkedInvites {
  readonly #db: Database
  readonly #now: () => number
  readonly #prefixOf: (remoteAddr: string, remotePeer: string) => string
  /** Parks per prefix in the current window (tests, metrics). */
  readonly perPrefix: UploadRate | undefined

  constructor (db: Database, o: ParkedInvitesOptions) {
    this.#db = db
    this.#now = o.now
    this.#prefixOf = o.prefixOf ?? ((addr) => ipPrefix(addr))
    this.perPrefix = o.perPrefix === undefined ? undefined : new UploadRate(o.perPrefix)
  }

  /** One request's answer; `prefix` is the network prefix of the remote that sent it. */
  answer (req: ParkRequest, prefix: string): ParkAnswer {
    const now = this.#now()
    const id = new Uint8Array(req.id)
    switch (req.op) {
      case 'park': {
        if (req.expiresAt <= now || req.expiresAt > now + MAX_PARK_LIFETIME_MS) return { status: 'refused' }
        const count = Number(this.#db.prepare('SELECT count(*) AS n FROM parked_invites').get()?.n ?? 0)
        if (count >= MAX_PARKED_INVITES) return { status: 'refused' }
        if (this.perPrefix !== undefined && !this.perPrefix.take(prefix, 1, now)) return { status: 'refused' }
        const r = this.#db.prepare('INSERT OR IGNORE INTO parked_invites (id, sealed, remove_hash, expires_at) VALUES (?, ?, ?, ?)')
          .run([id, new Uint8Array(req.sealed), hashOf(req.removeToken), req.expiresAt])
        if (r.changes !== 1) { this.perPrefix?.refund(prefix, 1); return { status: 'refused' } }
        return { status: 'ok' }
      }
      case 'fetch': {
        const row = this.#db.prepare('SELECT sealed FROM parked_invites WHERE id = ? AND expires_at > ?').get([id, now])
        return row === undefined ? { status: 'not-found' } : { status: 'ok', sealed: row.sealed as Uint8Array }
      }
      case 'remove': {
        const r = this.#db.prepare('DELETE FROM parked_invites WHERE id = ? AND remove_hash = ?').run([id, hashOf(req.removeToken)])
        return { status: r.changes === 1 ? 'ok' : 'not-found' }
      }
    }
  }

  /** Deletes expired parked invites; returns how many. */
  sweep (): number {
    return this.#db.prepare('DELETE FROM parked_invites WHERE expires_at <= ?').run([this.#now()]).changes
  }

  count (): number {
    return Number(this.#db.prepare('SELECT count(*) AS n FROM parked_invites').get()?.n ?? 0)
  }

  /** The protocol handler: one request, one answer, then the stream closes. A bad frame aborts the stream. */
  handle = (stream: Stream, connection: Connection): void => {
    const signal = AbortSignal.timeout(PARK_STREAM_DEADLINE_MS)
    const lp = lpStream(stream, { maxDataLength: MAX_PARK_FRAME_BYTES })
    const prefix = this.#prefixOf(connection.remoteAddr.toString(), connection.remotePeer.toString())
    void (async () => {
      const frame = (await lp.read({ signal })).subarray()
      const answer = this.answer(decodeParkRequest(frame), prefix)
      await lp.write(encodeParkAnswer(answer), { signal })
      await stream.close({ signal })
    })().catch((err: unknown) => {
      this.#log?.debug('park-stream-failed', { error: err instanceof Error ? err.name : typeof err })
      stream.abort(err instanceof Error ? err : new Error('park failed'))
    })
  }

  #log: Logger | undefined
  withLogger (log: Logger): this { this.#log = log; return this }
}

export { PARK_PROTOCOL }
