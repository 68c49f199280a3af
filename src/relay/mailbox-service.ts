// Relay side of /0m1/mailbox/2.0.0: anonymous multi-envelope deposits, pipelined on one stream and group-committed
// across connections (durable before the answer), owner authentication by a signed relay challenge, paged fetch,
// ack/delete, and a bodiless notice to the owner's open sessions when something new arrives.
// Logs carry event names, sizes and refusal reasons only: never peer ids, mailbox ids or envelope bytes.
import { createHash, createPublicKey, randomBytes, timingSafeEqual, verify } from 'node:crypto'
import type { Connection, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { Logger } from '../platform/logger.ts'
import { countRefusal, newMailboxCounters, type MailboxCounters } from './metrics.ts'
import { NetError } from '../net/errors.ts'
import { WireError } from '../wire/errors.ts'
import {
  authMessage, CHALLENGE_BYTES, decodeClientFrame, encodeRelayFrame, MAX_CLIENT_FRAME_BYTES, MAX_DEPOSIT_FRAMES_IN_FLIGHT, MAX_PAGE_ENVELOPE_BYTES,
  type ClientFrame, type DepositItem, type DepositStatus, type RefusalReason, type RelayFrame
} from '../wire/mailbox.ts'
import type { DepositEntry, DepositResult, MailboxStore } from './store.ts'
import type { RelayLimits } from './limits.ts'
import { ipPrefix, type Admission } from './admission.ts'

/** Bytes a peer may have in flight unread on one mailbox stream: two full frames. */
const STREAM_BUFFER_BYTES = 2 * MAX_CLIENT_FRAME_BYTES
/** Rate window for deposits per connection. */
const RATE_WINDOW_MS = 60_000
/** ASN.1 SPKI prefix of a raw Ed25519 public key (RFC 8410), so node:crypto can verify with it. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')
const NOTICE = encodeRelayFrame({ type: 'notice' })
/** Bytes of one notice frame on the wire (length prefix, version, type, request id 0). */
export const NOTICE_FRAME_BYTES = 1 + NOTICE.length

interface Session {
  /** Something new is in the mailbox: send a notice unless one is already unanswered. */
  readonly notify: () => void
  readonly close: () => void
  /** Notice bytes written to this session and not yet answered by a fetch (at most one notice). */
  readonly outstanding: () => number
}

/**
 * What a relay sees of one mailbox operation on its connections. The relay stores and logs none of it; the hook
 * exists so tests (the observer ledger) can check what a curious relay operator could collect.
 */
export interface MailboxObservation {
  readonly op: 'deposit' | 'session'
  readonly mailboxId: Uint8Array
  readonly remotePeer: string
  readonly remoteAddr: string
  readonly size?: number
}

export interface MailboxServiceOptions {
  readonly store: MailboxStore
  readonly limits: RelayLimits
  readonly logger: Logger
  readonly now: () => number
  /** The relay's peer id (multihash bytes), bound into every signed challenge. */
  readonly relayPeerId: Uint8Array
  /** Test hook: called with what the relay sees of each deposit and each authenticated session. */
  readonly observe?: ((o: MailboxObservation) => void) | undefined
  /** Issue 14.2: owner memory, guest quota and per-prefix limits. */
  readonly admission: Admission
  /** The address prefix a connection counts under (default ipPrefix of its remote address); tests on loopback
   * inject one to play several networks. */
  readonly prefixOf?: ((remoteAddr: string, remotePeer: string) => string) | undefined
}

interface Queued extends DepositEntry { readonly resolve: (r: DepositResult) => void, readonly reject: (e: unknown) => void }

export class MailboxService {
  private readonly o: MailboxServiceOptions
  private readonly sessions = new Map<string, Session[]>()
  private batch: Queued[] = []
  private readonly rates = new Map<string, { start: number, count: number }>()
  private readonly streams = new Set<Stream>()
  private stopped = false
  /** Transactions committed and envelopes in them (tests check that deposits from many streams share commits). */
  readonly commits = { transactions: 0, envelopes: 0 }
  /** What the metrics endpoint shows (src/relay/metrics.ts): counts and sizes only. */
  readonly counters: MailboxCounters = newMailboxCounters()

  constructor (o: MailboxServiceOptions) { this.o = o }

  /** libp2p stream handler. */
  readonly handle = (stream: Stream, connection: Connection): void => {
    if (this.stopped) { stream.abort(new NetError('CLOSED', 'Relay is stopping.')); return }
    this.streams.add(stream)
    this.serve(stream, connection).catch((err: unknown) => {
      this.o.logger.debug('mailbox-stream-error', { code: errorCode(err) })
      stream.abort(err instanceof Error ? err : new Error('mailbox stream failed'))
    }).finally(() => { this.streams.delete(stream) })
  }

  stop (): void {
    this.stopped = true
    for (const list of this.sessions.values()) for (const s of list) s.close()
    this.sessions.clear()
    for (const s of this.streams) s.abort(new NetError('CLOSED', 'Relay is stopping.'))
    this.streams.clear()
  }

  sessionCount (): number {
    let n = 0
    for (const l of this.sessions.values()) n += l.length
    return n
  }

  /** Bytes written to owner sessions and not yet answered by a fetch, over all sessions (issue 14.1: this is
   * all a paused reader can make the relay hold for it, at most NOTICE_FRAME_BYTES per session). */
  pushBytesOutstanding (): number {
    let n = 0
    for (const l of this.sessions.values()) for (const s of l) n += s.outstanding()
    return n
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const connectionId = connection.id
    const remoteAddr = connection.remoteAddr.toString()
    const prefix = this.o.prefixOf?.(remoteAddr, connection.remotePeer.toString()) ?? ipPrefix(remoteAddr)
    const observe = (op: MailboxObservation['op'], mailboxId: Uint8Array, size?: number): void => {
      this.o.observe?.({ op, mailboxId, remotePeer: connection.remotePeer.toString(), remoteAddr: connection.remoteAddr.toString(), ...(size !== undefined ? { size } : {}) })
    }
    const lp = lpStream(stream, { maxDataLength: MAX_CLIENT_FRAME_BYTES, maxBufferSize: STREAM_BUFFER_BYTES })
    // Writes may overlap (deposit answers come back as commits finish); each frame goes to the muxer whole.
    const send = async (f: RelayFrame): Promise<void> => { await lp.write(encodeRelayFrame(f)) }
    let pending: { mailboxId: Uint8Array, challenge: Uint8Array } | undefined
    let owner: { key: string, mailboxId: Uint8Array, session: Session, answered: () => void } | undefined
    const deposits = new Set<Promise<void>>()
    try {
      for (;;) {
        // Pipelined deposits: read on while commits run, up to the per-stream bound.
        // Beyond the protocol's bound the relay stops reading the stream until a commit answers (the muxer's window then
        // holds the sender back), so a stream costs at most that many frames of memory.
        while (deposits.size >= MAX_DEPOSIT_FRAMES_IN_FLIGHT) await Promise.race(deposits)
        let raw: Uint8Array
        try {
          raw = (await lp.read()).subarray()
        } catch (err) {
          const name = (err as Error).name
          if (name === 'UnexpectedEOFError') { // the peer closed its side: answer what is in flight, then close ours
            await Promise.allSettled(deposits)
            await stream.close().catch(() => {})
            return
          }
          if (name === 'InvalidDataLengthError' || name === 'InvalidDataLengthLengthError') {
            this.o.logger.info('mailbox-refused', { reason: 'TOO_LARGE' })
            countRefusal(this.counters, 'TOO_LARGE')
            await send({ type: 'error', reqId: 0, reason: 'TOO_LARGE', message: `Frame is over the ${MAX_CLIENT_FRAME_BYTES}-byte limit; envelopes may be at most ${this.o.limits.maxEnvelopeBytes} bytes.` }).catch(() => {})
            await stream.close().catch(() => {})
            return
          }
          throw err
        }
        let frame: ClientFrame
        try {
          frame = decodeClientFrame(raw)
        } catch (err) {
          const reason: RefusalReason = WireError.is(err, 'VERSION') ? 'UNSUPPORTED_VERSION' : WireError.is(err, 'TOO_LARGE') ? 'TOO_LARGE' : 'BAD_FRAME'
          this.o.logger.info('mailbox-refused', { reason })
          countRefusal(this.counters, reason)
          await send({ type: 'error', reqId: 0, reason, message: (err as Error).message })
          await stream.close().catch(() => {})
          return
        }
        switch (frame.type) {
          case 'deposit': {
            for (const it of frame.items) observe('deposit', it.mailboxId, it.envelope.length)
            const reqId = frame.reqId
            const p: Promise<void> = this.deposit(frame.items, connectionId, prefix)
              .then(async (statuses) => { await send({ type: 'deposited', reqId, statuses }) })
              .catch((err: unknown) => { stream.abort(err instanceof Error ? err : new Error('mailbox answer failed')) })
              .finally(() => { deposits.delete(p) })
            deposits.add(p)
            break
          }
          case 'auth-begin': {
            const challenge = new Uint8Array(randomBytes(CHALLENGE_BYTES))
            pending = { mailboxId: frame.mailboxId, challenge }
            await send({ type: 'challenge', reqId: frame.reqId, challenge })
            break
          }
          case 'auth-prove': {
            const p = pending
            pending = undefined
            if (p === undefined || !this.verifyOwner(p.mailboxId, p.challenge, frame.publicKey, frame.signature)) {
              this.o.logger.info('mailbox-refused', { reason: 'AUTH_FAILED' })
              countRefusal(this.counters, 'AUTH_FAILED')
              await send({ type: 'error', reqId: frame.reqId, reason: 'AUTH_FAILED', message: 'The mailbox signature did not verify.' })
              break
            }
            if (owner !== undefined) { owner.answered(); this.unregister(owner.key, owner.session) }
            // Remembered (durably) before the answer: from now on the mailbox takes bulk deposits (issue 14.2). A failed
            // write costs the owner only the bulk quota until its next session, never the session itself.
            try {
              this.o.admission.ownerAuthenticated(p.mailboxId, prefix, this.o.now())
            } catch (err) {
              this.o.logger.error('mailbox-owner-record-failed', { code: errorCode(err) })
            }
            const key = Buffer.from(p.mailboxId).toString('hex')
            owner = { key, mailboxId: p.mailboxId, ...this.noticeSession(stream, lp) }
            this.register(key, owner.session)
            observe('session', p.mailboxId)
            this.counters.sessions++
            this.o.logger.debug('mailbox-session-open')
            await send({ type: 'ok', reqId: frame.reqId, count: 0 })
            break
          }
          case 'fetch': {
            if (owner === undefined) { countRefusal(this.counters, 'NOT_AUTHENTICATED'); await send(notAuthenticated(frame.reqId)); break }
            // Answered before the page is read: whatever is committed after this gets a new notice.
            owner.answered()
            const { items, more } = this.o.store.page(owner.mailboxId, frame.cursor, frame.limit, MAX_PAGE_ENVELOPE_BYTES, this.o.now())
            const cursor = items.length > 0 ? (items[items.length - 1]?.seq ?? frame.cursor) : frame.cursor
            this.o.logger.debug('mailbox-fetch', { items: items.length })
            this.counters.fetches++
            this.counters.fetchedEnvelopes += items.length
            await send({ type: 'batch', reqId: frame.reqId, cursor, more, items: items.map((i) => ({ id: i.id, envelope: i.envelope })) })
            break
          }
          case 'ack': {
            if (owner === undefined) { countRefusal(this.counters, 'NOT_AUTHENTICATED'); await send(notAuthenticated(frame.reqId)); break }
            const deleted = this.o.store.ackEach(owner.mailboxId, frame.ids)
            this.o.logger.debug('mailbox-ack', { items: deleted.filter(Boolean).length })
            this.counters.acks += deleted.filter(Boolean).length
            await send({ type: 'acked', reqId: frame.reqId, deleted })
            break
          }
        }
      }
    } finally {
      if (owner !== undefined) { owner.answered(); this.unregister(owner.key, owner.session) }
    }
  }

  /**
   * An owner session's push side (issue 14.1). A deposit never writes its envelope to a session: it writes a
   * bodiless notice, and only when the previous notice has been answered by a fetch, so a paused reader costs the
   * relay one notice at most, however many deposits arrive. A session that leaves a notice unanswered for
   * limits.sessionNoticeDeadlineMs is closed (its reader is stuck or gone; the device reopens a session).
   */
  private noticeSession (stream: Stream, lp: { write: (b: Uint8Array) => Promise<void> }): { session: Session, answered: () => void } {
    let unanswered = false
    let timer: NodeJS.Timeout | undefined
    const close = (): void => { stream.abort(new NetError('CLOSED', 'Mailbox session closed.')) }
    const answered = (): void => {
      unanswered = false
      if (timer !== undefined) { clearTimeout(timer); timer = undefined }
    }
    const session: Session = {
      notify: () => {
        if (unanswered) return
        unanswered = true
        timer = setTimeout(() => {
          this.o.logger.info('mailbox-session-stalled')
          close()
        }, this.o.limits.sessionNoticeDeadlineMs)
        timer.unref()
        this.counters.notices++
        lp.write(NOTICE).catch(() => {}) // one frame at most is outstanding: nothing to wait for
      },
      close: () => { answered(); close() },
      outstanding: () => unanswered ? NOTICE_FRAME_BYTES : 0
    }
    return { session, answered }
  }

  /**
   * Group commit: deposits that arrive in the same turn of the event loop, from every stream and connection, are
   * written in one transaction (one fsync under synchronous=FULL); deposits that arrive while it commits go in the
   * next one. Each is answered only after its commit.
   */
  private store (items: readonly DepositEntry[], now: number): Promise<DepositResult[]> {
    const first = this.batch.length === 0
    const all = items.map((entry) => {
      const { promise, resolve, reject } = Promise.withResolvers<DepositResult>()
      this.batch.push({ ...entry, resolve, reject })
      return promise
    })
    if (first) setImmediate(() => { this.commit(now) })
    return Promise.all(all)
  }

  private commit (now: number): void {
    const batch = this.batch
    this.batch = []
    const started = performance.now()
    try {
      const results = this.o.store.depositMany(batch, now, this.o.admission.quota)
      this.commits.transactions++
      this.commits.envelopes += batch.length
      const seconds = (performance.now() - started) / 1000
      this.counters.commits++
      this.counters.commitSeconds += seconds
      this.counters.commitMaxSeconds = Math.max(this.counters.commitMaxSeconds, seconds)
      batch.forEach((b, i) => { b.resolve(results[i] as DepositResult) })
    } catch (err) {
      for (const b of batch) b.reject(err)
    }
  }

  /** One deposit frame: checks, the group commit, then notices to the owners' sessions. One status per envelope. */
  private async deposit (items: readonly DepositItem[], connectionId: string, prefix: string): Promise<DepositStatus[]> {
    const l = this.o.limits
    const admission = this.o.admission
    const now = this.o.now()
    const statuses: DepositStatus[] = []
    const accepted: Array<{ at: number, item: DepositItem }> = []
    let limited: DepositStatus | undefined
    for (const [at, item] of items.entries()) {
      if (item.envelope.length > l.maxEnvelopeBytes) {
        this.o.logger.info('mailbox-refused', { reason: 'TOO_LARGE', size: item.envelope.length })
        countRefusal(this.counters, 'TOO_LARGE')
        statuses.push('TOO_LARGE')
        continue
      }
      // Per connection, then per address prefix (issue 14.2: fresh peer ids and connections do not multiply it).
      const refusal = this.takeRate(connectionId, now) ? admission.admit(prefix, item.envelope.length, now) : 'RATE_LIMITED'
      if (refusal !== undefined) {
        countRefusal(this.counters, refusal)
        statuses.push(refusal)
        limited ??= refusal
      } else {
        statuses.push('stored')
        accepted.push({ at, item })
      }
    }
    if (limited !== undefined) this.o.logger.info('mailbox-refused', { reason: limited })
    if (accepted.length === 0) return statuses
    let results: DepositResult[]
    try {
      results = await this.store(accepted.map((a) => ({ ...a.item, guest: admission.isGuest(a.item.mailboxId, now) })), now)
    } catch (err) {
      this.o.logger.error('mailbox-store-failed', { code: errorCode(err) })
      for (const a of accepted) { statuses[a.at] = 'INTERNAL'; admission.refund(prefix, a.item.envelope.length, now) }
      countRefusal(this.counters, 'INTERNAL', accepted.length)
      return statuses
    }
    // Committed (synchronous=FULL) above: now the answer may go out, and the owners' live sessions get a notice.
    const touched = new Set<string>()
    results.forEach((r, i) => {
      const a = accepted[i] as { at: number, item: DepositItem }
      if (!r.ok) {
        this.o.logger.info('mailbox-refused', { reason: r.reason })
        countRefusal(this.counters, r.reason)
        statuses[a.at] = r.reason
        admission.refund(prefix, a.item.envelope.length, now)
        return
      }
      this.counters.deposits++
      this.counters.depositBytes += a.item.envelope.length
      touched.add(Buffer.from(a.item.mailboxId).toString('hex'))
    })
    for (const key of touched) for (const s of this.sessions.get(key) ?? []) s.notify()
    this.o.logger.debug('mailbox-deposit', { items: accepted.length })
    return statuses
  }

  private verifyOwner (mailboxId: Uint8Array, challenge: Uint8Array, publicKey: Uint8Array, signature: Uint8Array): boolean {
    const digest = createHash('sha256').update(publicKey).digest()
    if (!timingSafeEqual(digest, mailboxId)) return false
    try {
      const key = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' })
      return verify(null, authMessage(this.o.relayPeerId, challenge, mailboxId), key, signature)
    } catch {
      return false
    }
  }

  private takeRate (connectionId: string, now: number): boolean {
    if (this.rates.size > 10_000) {
      for (const [k, v] of this.rates) if (now - v.start >= RATE_WINDOW_MS) this.rates.delete(k)
    }
    let r = this.rates.get(connectionId)
    if (r === undefined || now - r.start >= RATE_WINDOW_MS) {
      r = { start: now, count: 0 }
      this.rates.set(connectionId, r)
    }
    r.count++
    return r.count <= this.o.limits.depositsPerMinutePerConnection
  }

  private register (key: string, s: Session): void {
    const list = this.sessions.get(key) ?? []
    list.push(s)
    // A reconnecting owner may leave a dead session behind for a moment: the oldest goes, the newest stays.
    while (list.length > this.o.limits.maxSessionsPerMailbox) list.shift()?.close()
    this.sessions.set(key, list)
  }

  private unregister (key: string, s: Session): void {
    const list = this.sessions.get(key)
    if (list === undefined) return
    const i = list.indexOf(s)
    if (i >= 0) list.splice(i, 1)
    if (list.length === 0) this.sessions.delete(key)
  }
}

function notAuthenticated (reqId: number): RelayFrame {
  return { type: 'error', reqId, reason: 'NOT_AUTHENTICATED', message: 'Authenticate with the mailbox key before fetching or acknowledging.' }
}

function errorCode (err: unknown): string {
  if (NetError.is(err)) return err.code
  return err instanceof Error ? err.name : 'unknown'
}
