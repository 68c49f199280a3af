// Device side of /0m1/mailbox/2.0.0: an authenticated session on one mailbox (paged fetch, ack/delete, and the
// relay's new-item notices turned into fetched items for onPush). Deposits: src/net/mailbox-deposit.ts.
// Frames in src/wire/mailbox.ts.
import type { Libp2p, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import type { Logger } from '../platform/logger.ts'
import { NetError, atStream } from './errors.ts'
import { MAILBOX_REQUEST_DEADLINE_MS } from './mailbox-deposit.ts'
import { peerIdOf } from './libp2p.ts'
import {
  authMessage, decodeRelayFrame, encodeClientFrame, MAILBOX_MAX_STREAMS_PER_CONNECTION, MAILBOX_PROTOCOL, MAX_ACK_IDS, MAX_FETCH_ITEMS,
  MAX_RELAY_FRAME_BYTES,
  type ClientFrame, type MailboxItem, type RelayFrame
} from '../wire/mailbox.ts'

export { depositTo, MAILBOX_REQUEST_DEADLINE_MS } from './mailbox-deposit.ts'
/** Unread bytes tolerated on a session stream: two full pages. */
const CLIENT_BUFFER_BYTES = 2 * MAX_RELAY_FRAME_BYTES

export interface MailboxSession {
  /** The next page (oldest first) after what this session already returned; [] once drained. Unacked items come back in a new session. */
  fetch(o?: { limit?: number, signal?: AbortSignal }): Promise<MailboxItem[]>
  /** The next fetch starts again from the oldest item still on the relay: what was fetched and not acked comes back. */
  rewind(): void
  /** Every remaining item, page by page (convenience over fetch()). */
  fetchAll(o?: { signal?: AbortSignal }): Promise<MailboxItem[]>
  /** Deletes the items on the relay; returns how many it deleted. */
  ack(ids: readonly Uint8Array[], o?: { signal?: AbortSignal }): Promise<number>
  /** Called for each envelope deposited while this session is open (not acked: call ack()). The relay sends a notice,
   * the session fetches what is new and calls back for each item; a callback's promise is awaited before the next page. */
  onPush(cb: (item: MailboxItem) => unknown): void
  /** Called once when the session ends (relay gone, stream reset, close()). */
  onClose(cb: (err?: Error) => void): void
  readonly closed: boolean
  close(): Promise<void>
}

export interface MailboxBox {
  readonly mailboxId: Uint8Array
  readonly publicKey: Uint8Array
  readonly sign: (challenge: Uint8Array) => Uint8Array
}

function relayTarget (relayAddr: string): { ma: ReturnType<typeof multiaddr>, peerIdBytes: Uint8Array } {
  const id = peerIdOf(relayAddr)
  if (id === undefined) throw new RangeError('relayAddr must end in /p2p/<relay peer id>')
  return { ma: multiaddr(relayAddr), peerIdBytes: peerIdFromString(id).toMultihash().bytes }
}

function deadline (signal: AbortSignal | undefined, ms: number): AbortSignal {
  const t = AbortSignal.timeout(ms)
  return signal === undefined ? t : AbortSignal.any([signal, t])
}

function refusal (f: Extract<RelayFrame, { type: 'error' }>): NetError {
  if (f.reason === 'AUTH_FAILED' || f.reason === 'NOT_AUTHENTICATED') return new NetError('AUTH_FAILED', `The relay refused: ${f.message}`, { reason: f.reason })
  return new NetError('REFUSED', `The relay refused: ${f.message}`, { reason: f.reason })
}

function wrap (err: unknown, signal: AbortSignal): Error {
  if (NetError.is(err)) return err
  if (signal.aborted) {
    const r: unknown = signal.reason
    const timedOut = r instanceof Error && r.name === 'TimeoutError'
    return new NetError(timedOut ? 'TIMEOUT' : 'ABORTED', timedOut ? 'The relay did not answer in time.' : 'Cancelled.', { cause: err })
  }
  return new NetError('UNREACHABLE', 'The relay could not be reached.', { cause: err })
}

/**
 * A connection libp2p still lists may already be dead (the relay restarted, a NAT dropped it): the first stream on
 * it fails and libp2p drops it. One retry dials afresh. Refusals and aborts are final. Nothing else is closed: a
 * refused or reset stream must not tear down the connection's other streams (the device's own sessions on it).
 */
async function withOneRetry<T> (fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (!NetError.is(err, 'UNREACHABLE')) throw err
    return await fn()
  }
}

export async function openMailboxSession (libp2p: Libp2p, relayAddr: string, box: MailboxBox, logger: Logger, o: { signal?: AbortSignal | undefined } = {}): Promise<MailboxSession> {
  relayTarget(relayAddr)
  return await withOneRetry(async () => await openSessionOnce(libp2p, relayAddr, box, logger, o.signal))
}

async function openSessionOnce (libp2p: Libp2p, relayAddr: string, box: MailboxBox, logger: Logger, callerSignal: AbortSignal | undefined): Promise<MailboxSession> {
  const { ma, peerIdBytes } = relayTarget(relayAddr)
  const signal = deadline(callerSignal, MAILBOX_REQUEST_DEADLINE_MS)
  let stream: Stream | undefined
  try {
    stream = await libp2p.dialProtocol(ma, MAILBOX_PROTOCOL, { signal, maxOutboundStreams: MAILBOX_MAX_STREAMS_PER_CONNECTION })
    const session = new Session(stream, logger)
    const ch = await session.request({ type: 'auth-begin', reqId: 0, mailboxId: box.mailboxId }, signal)
    if (ch.type !== 'challenge') throw new NetError('BAD_FRAME', 'The relay answered auth with an unexpected frame.')
    const signature = box.sign(authMessage(peerIdBytes, ch.challenge, box.mailboxId))
    const ok = await session.request({ type: 'auth-prove', reqId: 0, publicKey: box.publicKey, signature }, signal)
    if (ok.type !== 'ok') throw new NetError('BAD_FRAME', 'The relay answered auth with an unexpected frame.')
    return session
  } catch (err) {
    stream?.abort(err instanceof Error ? err : new Error('session failed'))
    throw wrap(err, signal)
  }
}

type Pending = { resolve: (f: RelayFrame) => void, reject: (e: Error) => void }

class Session implements MailboxSession {
  private readonly lp: LengthPrefixedStream<Stream>
  private readonly pending = new Map<number, Pending>()
  private readonly pushCbs: Array<(item: MailboxItem) => unknown> = []
  /** Fetches run one at a time: they share the cursor, so no item is returned twice. */
  private fetching: Promise<unknown> = Promise.resolve()
  /** Acks waiting for the next frame. */
  private readonly acks: Array<{ ids: readonly Uint8Array[], resolve: (n: number) => void, reject: (e: Error) => void }> = []
  /** A notice came that no fetch has answered yet. */
  private noticeQueued = false
  /** The fetch-and-hand-over loop for notices is running. */
  private noticeRunning = false
  private readonly closeCbs: Array<(err?: Error) => void> = []
  private nextReq = 1
  private cursor = 0
  private done = false

  constructor (private readonly stream: Stream, private readonly logger: Logger) {
    this.lp = lpStream(stream, { maxDataLength: MAX_RELAY_FRAME_BYTES, maxBufferSize: CLIENT_BUFFER_BYTES })
    this.readLoop().catch(() => {})
  }

  get closed (): boolean { return this.done }

  private async readLoop (): Promise<void> {
    let error: Error | undefined
    try {
      for (;;) {
        const raw = (await this.lp.read()).subarray()
        const f = atStream(() => decodeRelayFrame(raw))
        if (f.type === 'notice') { this.noticed(); continue }
        const p = this.pending.get(f.reqId)
        if (p === undefined) {
          // reqId 0 is the relay refusing the stream itself (bad frame, oversized frame)
          if (f.type === 'error') throw refusal(f)
          continue
        }
        this.pending.delete(f.reqId)
        p.resolve(f)
      }
    } catch (err) {
      if (!((err as Error).name === 'UnexpectedEOFError')) error = err instanceof Error ? err : new Error('session failed')
    } finally {
      this.finish(error)
    }
  }

  private finish (err?: Error): void {
    if (this.done) return
    this.done = true
    const e = err ?? new NetError('CLOSED', 'The mailbox session is closed.')
    for (const p of this.pending.values()) p.reject(NetError.is(e) ? e : new NetError('CLOSED', 'The mailbox session ended.', { cause: e }))
    this.pending.clear()
    for (const cb of this.closeCbs) {
      try { cb(err) } catch { /* a close callback must not break the others */ }
    }
  }

  async request (frame: ClientFrame, signal: AbortSignal): Promise<RelayFrame> {
    if (this.done) throw new NetError('CLOSED', 'The mailbox session is closed.')
    const reqId = this.nextReq++
    const bytes = atStream(() => encodeClientFrame({ ...frame, reqId }))
    const reply = new Promise<RelayFrame>((resolve, reject) => {
      this.pending.set(reqId, { resolve, reject })
      const onAbort = (): void => { this.pending.delete(reqId); reject(wrap(signal.reason, signal)) }
      if (signal.aborted) onAbort()
      else signal.addEventListener('abort', onAbort, { once: true })
    })
    // If the write fails, the reply is rejected later by finish() with nobody awaiting it: that must not
    // become an unhandled rejection (it killed the process in the chaos run).
    reply.catch(() => {})
    try {
      await this.lp.write(bytes, { signal })
    } catch (err) {
      this.pending.delete(reqId)
      throw err
    }
    const f = await reply
    if (f.type === 'error') throw refusal(f)
    return f
  }

  rewind (): void {
    // Behind any fetch in flight, which would otherwise move the position forward again.
    this.fetching = this.fetching.then(() => { this.cursor = 0 })
  }

  async fetch (o: { limit?: number, signal?: AbortSignal } = {}): Promise<MailboxItem[]> {
    return (await this.page(o)).items
  }

  private async page (o: { limit?: number, signal?: AbortSignal | undefined }): Promise<{ items: MailboxItem[], more: boolean }> {
    const run = this.fetching.then(async () => {
      const signal = deadline(o.signal, MAILBOX_REQUEST_DEADLINE_MS)
      const f = await this.request({ type: 'fetch', reqId: 0, cursor: this.cursor, limit: o.limit ?? MAX_FETCH_ITEMS }, signal)
      if (f.type !== 'batch') throw new NetError('BAD_FRAME', 'The relay answered a fetch with an unexpected frame.')
      this.cursor = Math.max(this.cursor, f.cursor)
      return { items: [...f.items], more: f.more }
    })
    this.fetching = run.catch(() => {})
    return await run
  }

  /** The relay says something new is in the mailbox: fetch it (page by page) and hand each item to onPush. */
  private noticed (): void {
    // Without a listener the items stay for the owner's own fetch (a fetch here would move the cursor past them).
    if (this.pushCbs.length === 0) return
    // One run at a time, so a flood of deposits never has the device handle more than one page at once; a notice
    // that comes during a run makes it fetch again when its page is handled.
    this.noticeQueued = true
    if (this.noticeRunning) return
    this.noticeRunning = true
    void (async () => {
      try {
        while (this.noticeQueued && !this.done) {
          this.noticeQueued = false
          for (;;) {
            const { items, more } = await this.page({}) // throws CLOSED once the session ends
            await Promise.all(items.map(async (item) => {
              for (const cb of this.pushCbs) {
                try { await cb(item) } catch { this.logger.warn('mailbox-push-callback-failed') }
              }
            }))
            if (!more) break
          }
        }
      } finally {
        // Cleared in the same turn as the loop's last check: a notice read after it starts a new run.
        this.noticeRunning = false
      }
    })().catch((err: unknown) => { this.logger.debug('mailbox-notice-fetch-failed', { error: (err as Error).name }) })
  }

  async fetchAll (o: { signal?: AbortSignal } = {}): Promise<MailboxItem[]> {
    const out: MailboxItem[] = []
    for (;;) {
      const page = await this.fetch(o.signal !== undefined ? { signal: o.signal } : {})
      if (page.length === 0) return out
      out.push(...page)
    }
  }

  /** Acks asked for in the same turn of the event loop share frames (pushed items are acked one by one). */
  async ack (ids: readonly Uint8Array[], o: { signal?: AbortSignal } = {}): Promise<number> {
    if (ids.length === 0) return 0
    const { promise, resolve, reject } = Promise.withResolvers<number>()
    this.acks.push({ ids, resolve, reject })
    if (this.acks.length === 1) setImmediate(() => { void this.flushAcks() })
    if (o.signal === undefined) return await promise
    const signal = o.signal
    return await new Promise<number>((res, rej) => {
      const onAbort = (): void => { rej(wrap(signal.reason, signal)) }
      if (signal.aborted) { onAbort(); return }
      signal.addEventListener('abort', onAbort, { once: true })
      promise.then(res, rej).finally(() => { signal.removeEventListener('abort', onAbort) })
    })
  }

  private async flushAcks (): Promise<void> {
    const callers = this.acks.splice(0)
    const all = callers.flatMap((c) => [...c.ids])
    try {
      const deleted: boolean[] = []
      for (let i = 0; i < all.length; i += MAX_ACK_IDS) {
        const chunk = all.slice(i, i + MAX_ACK_IDS)
        const f = await this.request({ type: 'ack', reqId: 0, ids: chunk }, deadline(undefined, MAILBOX_REQUEST_DEADLINE_MS))
        if (f.type !== 'acked' || f.deleted.length !== chunk.length) throw new NetError('BAD_FRAME', 'The relay answered an ack with an unexpected frame.')
        deleted.push(...f.deleted)
      }
      let at = 0
      for (const c of callers) {
        c.resolve(deleted.slice(at, at + c.ids.length).filter(Boolean).length)
        at += c.ids.length
      }
    } catch (err) {
      for (const c of callers) c.reject(err instanceof Error ? err : new Error('ack failed'))
    }
  }

  onPush (cb: (item: MailboxItem) => unknown): void { this.pushCbs.push(cb) }

  onClose (cb: (err?: Error) => void): void {
    if (this.done) queueMicrotask(() => { cb() })
    else this.closeCbs.push(cb)
  }

  async close (): Promise<void> {
    if (this.done) return
    this.finish()
    await this.stream.close({ signal: AbortSignal.timeout(2000) }).catch(() => { this.stream.abort(new Error('closed')) })
  }
}
