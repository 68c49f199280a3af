// Relay side of /0m1/mailbox/1.0.0: anonymous deposits (durable before the ack), owner authentication by a
// signed relay challenge, paged fetch, ack/delete, and live push to the owner's open sessions.
// Logs carry event names, sizes and refusal reasons only: never peer ids, mailbox ids or envelope bytes.
import { createHash, createPublicKey, randomBytes, timingSafeEqual, verify } from 'node:crypto'
import type { Connection, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { Logger } from '../platform/logger.ts'
import { NetError } from '../net/errors.ts'
import { WireError } from '../wire/errors.ts'
import {
  authMessage, CHALLENGE_BYTES, decodeClientFrame, encodeRelayFrame, MAX_CLIENT_FRAME_BYTES, MAX_PAGE_ENVELOPE_BYTES,
  type ClientFrame, type MailboxItem, type RefusalReason, type RelayFrame
} from '../wire/mailbox.ts'
import type { DepositResult, MailboxStore } from './store.ts'
import type { RelayLimits } from './limits.ts'

/** Bytes a peer may have in flight unread on one mailbox stream: two full deposits. */
const STREAM_BUFFER_BYTES = 2 * MAX_CLIENT_FRAME_BYTES
/** Rate window for deposits per connection. */
const RATE_WINDOW_MS = 60_000
/** ASN.1 SPKI prefix of a raw Ed25519 public key (RFC 8410), so node:crypto can verify with it. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

interface Session {
  readonly push: (item: MailboxItem) => void
  readonly close: () => void
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
}

export class MailboxService {
  private readonly o: MailboxServiceOptions
  private readonly sessions = new Map<string, Session[]>()
  private readonly batch: Array<{ mailboxId: Uint8Array, envelope: Uint8Array, resolve: (r: DepositResult) => void, reject: (e: unknown) => void }> = []
  private readonly rates = new Map<string, { start: number, count: number }>()
  private readonly streams = new Set<Stream>()
  private stopped = false

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

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const connectionId = connection.id
    const observe = (op: MailboxObservation['op'], mailboxId: Uint8Array, size?: number): void => {
      this.o.observe?.({ op, mailboxId, remotePeer: connection.remotePeer.toString(), remoteAddr: connection.remoteAddr.toString(), ...(size !== undefined ? { size } : {}) })
    }
    const lp = lpStream(stream, { maxDataLength: MAX_CLIENT_FRAME_BYTES, maxBufferSize: STREAM_BUFFER_BYTES })
    const send = async (f: RelayFrame): Promise<void> => { await lp.write(encodeRelayFrame(f)) }
    let pending: { mailboxId: Uint8Array, challenge: Uint8Array } | undefined
    let owner: { key: string, mailboxId: Uint8Array, session: Session } | undefined
    try {
      for (;;) {
        let raw: Uint8Array
        try {
          raw = (await lp.read()).subarray()
        } catch (err) {
          const name = (err as Error).name
          if (name === 'UnexpectedEOFError') return // the peer closed its side: normal end
          if (name === 'InvalidDataLengthError' || name === 'InvalidDataLengthLengthError') {
            this.o.logger.info('mailbox-refused', { reason: 'TOO_LARGE' })
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
          await send({ type: 'error', reqId: 0, reason, message: (err as Error).message })
          await stream.close().catch(() => {})
          return
        }
        switch (frame.type) {
          case 'deposit':
            observe('deposit', frame.mailboxId, frame.envelope.length)
            await send(await this.deposit(frame.reqId, frame.mailboxId, frame.envelope, connectionId))
            break
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
              await send({ type: 'error', reqId: frame.reqId, reason: 'AUTH_FAILED', message: 'The mailbox signature did not verify.' })
              break
            }
            if (owner !== undefined) this.unregister(owner.key, owner.session)
            const key = Buffer.from(p.mailboxId).toString('hex')
            const session: Session = {
              push: (item) => { lp.write(encodeRelayFrame({ type: 'push', item })).catch(() => {}) },
              close: () => { stream.abort(new NetError('CLOSED', 'Relay is stopping.')) }
            }
            owner = { key, mailboxId: p.mailboxId, session }
            this.register(key, session)
            observe('session', p.mailboxId)
            this.o.logger.debug('mailbox-session-open')
            await send({ type: 'ok', reqId: frame.reqId, count: 0 })
            break
          }
          case 'fetch': {
            if (owner === undefined) { await send(notAuthenticated(frame.reqId)); break }
            const { items, more } = this.o.store.page(owner.mailboxId, frame.cursor, frame.limit, MAX_PAGE_ENVELOPE_BYTES, this.o.now())
            const cursor = items.length > 0 ? (items[items.length - 1]?.seq ?? frame.cursor) : frame.cursor
            this.o.logger.debug('mailbox-fetch', { items: items.length })
            await send({ type: 'batch', reqId: frame.reqId, cursor, more, items: items.map((i) => ({ id: i.id, envelope: i.envelope })) })
            break
          }
          case 'ack': {
            if (owner === undefined) { await send(notAuthenticated(frame.reqId)); break }
            const n = this.o.store.ack(owner.mailboxId, frame.ids)
            this.o.logger.debug('mailbox-ack', { items: n })
            await send({ type: 'ok', reqId: frame.reqId, count: n })
            break
          }
        }
      }
    } finally {
      if (owner !== undefined) this.unregister(owner.key, owner.session)
    }
  }

  /**
   * Group commit: deposits that arrive in the same turn of the event loop are written in one
   * transaction (one fsync under synchronous=FULL); each is acknowledged only after that commit.
   */
  private store (mailboxId: Uint8Array, envelope: Uint8Array, now: number): Promise<DepositResult> {
    const { promise, resolve, reject } = Promise.withResolvers<DepositResult>()
    this.batch.push({ mailboxId, envelope, resolve, reject })
    if (this.batch.length === 1) {
      setImmediate(() => {
        const batch = this.batch.splice(0, this.batch.length)
        const l = this.o.limits
        try {
          const results = this.o.store.depositMany(batch, now, { maxCount: l.maxMailboxCount, maxBytes: l.maxMailboxBytes, maxTotalBytes: l.maxTotalBytes, expiryMs: l.expiryMs })
          batch.forEach((b, i) => { b.resolve(results[i] as DepositResult) })
        } catch (err) {
          for (const b of batch) b.reject(err)
        }
      })
    }
    return promise
  }

  private async deposit (reqId: number, mailboxId: Uint8Array, envelope: Uint8Array, connectionId: string): Promise<RelayFrame> {
    const l = this.o.limits
    if (envelope.length > l.maxEnvelopeBytes) {
      this.o.logger.info('mailbox-refused', { reason: 'TOO_LARGE', size: envelope.length })
      return { type: 'error', reqId, reason: 'TOO_LARGE', message: `Envelope of ${envelope.length} bytes is over this relay's maximum of ${l.maxEnvelopeBytes} bytes.` }
    }
    const now = this.o.now()
    if (!this.takeRate(connectionId, now)) {
      this.o.logger.info('mailbox-refused', { reason: 'RATE_LIMITED' })
      return { type: 'error', reqId, reason: 'RATE_LIMITED', message: `More than ${l.depositsPerMinutePerConnection} deposits a minute on one connection; slow down and retry.` }
    }
    let r
    try {
      r = await this.store(mailboxId, envelope, now)
    } catch (err) {
      this.o.logger.error('mailbox-store-failed', { code: errorCode(err) })
      return { type: 'error', reqId, reason: 'INTERNAL', message: 'The relay could not store the envelope; try another relay.' }
    }
    if (!r.ok) {
      this.o.logger.info('mailbox-refused', { reason: r.reason })
      return { type: 'error', reqId, reason: r.reason, message: r.message }
    }
    this.o.logger.debug('mailbox-deposit', { size: envelope.length })
    // Committed (synchronous=FULL) above: now the ack may go out, and the owner's live sessions get a push.
    for (const s of this.sessions.get(Buffer.from(mailboxId).toString('hex')) ?? []) s.push({ id: r.item.id, envelope: r.item.envelope })
    return { type: 'ok', reqId, count: 1 }
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
