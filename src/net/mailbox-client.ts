// Device side of /0m1/mailbox/1.0.0: anonymous deposit, and an authenticated session on one mailbox
// (paged fetch, ack/delete, live push). Frames in src/wire/mailbox.ts.
import type { Libp2p, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import type { Logger } from '../platform/logger.ts'
import { NetError, atStream } from './errors.ts'
import { peerIdOf } from './libp2p.ts'
import {
  authMessage, decodeRelayFrame, encodeClientFrame, MAILBOX_PROTOCOL, MAX_ACK_IDS, MAX_FETCH_ITEMS, MAX_RELAY_FRAME_BYTES,
  type ClientFrame, type MailboxItem, type RelayFrame
} from '../wire/mailbox.ts'

/** Dialing a relay and getting a deposit committed: relays are support nodes on decent links. */
export const MAILBOX_REQUEST_DEADLINE_MS = 15_000
/** Unread bytes tolerated on a session stream: two full pages. */
const CLIENT_BUFFER_BYTES = 2 * MAX_RELAY_FRAME_BYTES

export interface MailboxSession {
  /** The next page (oldest first) after what this session already returned; [] once drained. Unacked items come back in a new session. */
  fetch(o?: { limit?: number, signal?: AbortSignal }): Promise<MailboxItem[]>
  /** Every remaining item, page by page (convenience over fetch()). */
  fetchAll(o?: { signal?: AbortSignal }): Promise<MailboxItem[]>
  /** Deletes the items on the relay; returns how many it deleted. */
  ack(ids: readonly Uint8Array[], o?: { signal?: AbortSignal }): Promise<number>
  /** Called for each envelope deposited while this session is open (not acked: call ack()). */
  onPush(cb: (item: MailboxItem) => void): void
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
 * it fails. One retry, after libp2p has dropped that connection, dials afresh. Refusals and aborts are final.
 */
async function withOneRetry<T> (libp2p: Libp2p, relayAddr: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (!NetError.is(err, 'UNREACHABLE')) throw err
    const id = peerIdOf(relayAddr)
    await Promise.all(libp2p.getConnections().filter((c) => c.remotePeer.toString() === id).map(async (c) => { await c.close().catch(() => {}) }))
    return await fn()
  }
}

export async function depositTo (libp2p: Libp2p, relayAddr: string, mailboxId: Uint8Array, envelope: Uint8Array, o: { signal?: AbortSignal | undefined } = {}): Promise<void> {
  const frame = atStream(() => encodeClientFrame({ type: 'deposit', reqId: 1, mailboxId, envelope })) // checks sizes before any dial
  relayTarget(relayAddr)
  await withOneRetry(libp2p, relayAddr, async () => { await depositOnce(libp2p, relayAddr, frame, o.signal) })
}

async function depositOnce (libp2p: Libp2p, relayAddr: string, frame: Uint8Array, callerSignal: AbortSignal | undefined): Promise<void> {
  const { ma } = relayTarget(relayAddr)
  const signal = deadline(callerSignal, MAILBOX_REQUEST_DEADLINE_MS)
  let stream: Stream | undefined
  try {
    stream = await libp2p.dialProtocol(ma, MAILBOX_PROTOCOL, { signal })
    const lp = lpStream(stream, { maxDataLength: MAX_RELAY_FRAME_BYTES, maxBufferSize: CLIENT_BUFFER_BYTES })
    await lp.write(frame, { signal })
    const raw = (await lp.read({ signal })).subarray()
    const reply = atStream(() => decodeRelayFrame(raw))
    if (reply.type === 'error') throw refusal(reply)
    if (reply.type !== 'ok' || reply.reqId !== 1) throw new NetError('BAD_FRAME', 'The relay answered a deposit with an unexpected frame.')
    await stream.close({ signal }).catch(() => {})
  } catch (err) {
    stream?.abort(err instanceof Error ? err : new Error('deposit failed'))
    throw wrap(err, signal)
  }
}

export async function openMailboxSession (libp2p: Libp2p, relayAddr: string, box: MailboxBox, logger: Logger, o: { signal?: AbortSignal | undefined } = {}): Promise<MailboxSession> {
  relayTarget(relayAddr)
  return await withOneRetry(libp2p, relayAddr, async () => await openSessionOnce(libp2p, relayAddr, box, logger, o.signal))
}

async function openSessionOnce (libp2p: Libp2p, relayAddr: string, box: MailboxBox, logger: Logger, callerSignal: AbortSignal | undefined): Promise<MailboxSession> {
  const { ma, peerIdBytes } = relayTarget(relayAddr)
  const signal = deadline(callerSignal, MAILBOX_REQUEST_DEADLINE_MS)
  let stream: Stream | undefined
  try {
    stream = await libp2p.dialProtocol(ma, MAILBOX_PROTOCOL, { signal })
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
  private readonly pushCbs: Array<(item: MailboxItem) => void> = []
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
        if (f.type === 'push') {
          for (const cb of this.pushCbs) {
            try { cb(f.item) } catch { this.logger.warn('mailbox-push-callback-failed') }
          }
          continue
        }
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

  async fetch (o: { limit?: number, signal?: AbortSignal } = {}): Promise<MailboxItem[]> {
    const signal = deadline(o.signal, MAILBOX_REQUEST_DEADLINE_MS)
    const f = await this.request({ type: 'fetch', reqId: 0, cursor: this.cursor, limit: o.limit ?? MAX_FETCH_ITEMS }, signal)
    if (f.type !== 'batch') throw new NetError('BAD_FRAME', 'The relay answered a fetch with an unexpected frame.')
    this.cursor = Math.max(this.cursor, f.cursor)
    return [...f.items]
  }

  async fetchAll (o: { signal?: AbortSignal } = {}): Promise<MailboxItem[]> {
    const out: MailboxItem[] = []
    for (;;) {
      const page = await this.fetch(o.signal !== undefined ? { signal: o.signal } : {})
      if (page.length === 0) return out
      out.push(...page)
    }
  }

  async ack (ids: readonly Uint8Array[], o: { signal?: AbortSignal } = {}): Promise<number> {
    let n = 0
    for (let i = 0; i < ids.length; i += MAX_ACK_IDS) {
      const signal = deadline(o.signal, MAILBOX_REQUEST_DEADLINE_MS)
      const f = await this.request({ type: 'ack', reqId: 0, ids: ids.slice(i, i + MAX_ACK_IDS) }, signal)
      if (f.type !== 'ok') throw new NetError('BAD_FRAME', 'The relay answered an ack with an unexpected frame.')
      n += f.count
    }
    return n
  }

  onPush (cb: (item: MailboxItem) => void): void { this.pushCbs.push(cb) }

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
