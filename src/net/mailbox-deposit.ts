// Device side of mailbox deposits: one long-lived stream per (libp2p node, relay), carrying multi-envelope deposit
// frames, several in flight. Concurrent deposit() calls to the same relay are coalesced into one frame; each call
// resolves when the relay's answer says its envelope is stored (the relay answers after its commit), or rejects
// with a typed NetError. A stream that fails is replaced; it never closes the connection or other streams.
import type { Libp2p, Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import { NetError, atStream } from './errors.ts'
import { peerIdOf } from './libp2p.ts'
import {
  decodeRelayFrame, depositFrameFits, encodeClientFrame, MAILBOX_MAX_STREAMS_PER_CONNECTION, MAILBOX_PROTOCOL,
  MAX_DEPOSIT_FRAMES_IN_FLIGHT, MAX_RELAY_FRAME_BYTES, type DepositStatus
} from '../wire/mailbox.ts'
import { MAILBOX_ID_BYTES, MAX_ENVELOPE_BYTES } from '../wire/envelope.ts'

/** Dialing a relay and getting a deposit frame committed: relays are support nodes on decent links. */
export const MAILBOX_REQUEST_DEADLINE_MS = 15_000
/** A deposit stream with nothing in flight for this long is closed (the next deposit opens another). */
export const DEPOSIT_STREAM_IDLE_MS = 30_000
/** Attempts per envelope: a stream that dies under it (a relay restart, a dead connection libp2p still listed) gets
 * one more try on a fresh stream; refusals, timeouts and aborts are final. */
const DEPOSIT_ATTEMPTS = 2
/** Unread bytes tolerated on a deposit stream: its answers are small; a relay error frame is smaller still. */
const DEPOSIT_READ_BUFFER_BYTES = 64 * 1024

interface Pending {
  readonly mailboxId: Uint8Array
  readonly envelope: Uint8Array
  readonly resolve: () => void
  readonly reject: (err: Error) => void
  readonly signal: AbortSignal | undefined
  readonly onAbort: (() => void) | undefined
  attempts: number
  settled: boolean
}

interface Open { readonly stream: Stream, readonly lp: LengthPrefixedStream<Stream> }

/** Why a relay refused one envelope, as a sentence (the status byte carries only the reason). */
export function refusedEnvelope (reason: Exclude<DepositStatus, 'stored'>): NetError {
  const why: Partial<Record<DepositStatus, string>> = {
    TOO_LARGE: 'the envelope is over its size limit',
    QUOTA_COUNT: 'the mailbox holds its maximum number of envelopes',
    QUOTA_BYTES: 'the mailbox holds its maximum of bytes, or the relay (or its share for mailboxes whose owner has not connected recently, or for this network) is full',
    RATE_LIMITED: 'too many deposits on this connection or from this network; slow down and retry',
    INTERNAL: 'it could not store the envelope; try another relay'
  }
  const code = reason === 'AUTH_FAILED' || reason === 'NOT_AUTHENTICATED' ? 'AUTH_FAILED' : 'REFUSED'
  return new NetError(code, `The relay refused the deposit: ${why[reason] ?? reason.toLowerCase().replaceAll('_', ' ')}.`, { reason })
}

class DepositChannel {
  private readonly queue: Pending[] = []
  /** Frames sent and not answered, by request id, with the stream they went on. */
  private readonly inflight = new Map<number, { readonly open: Open, readonly items: Pending[] }>()
  private open: Open | undefined
  private opening: Promise<Open> | undefined
  private pumping = false
  private scheduled = false
  private nextReq = 1
  private deadline: NodeJS.Timeout | undefined
  private idle: NodeJS.Timeout | undefined

  constructor (private readonly libp2p: Libp2p, private readonly relayAddr: string) {}

  deposit (mailboxId: Uint8Array, envelope: Uint8Array, signal: AbortSignal | undefined): Promise<void> {
    const { promise, resolve, reject } = Promise.withResolvers<undefined>()
    if (signal?.aborted === true) return Promise.reject(aborted(signal))
    const onAbort = signal === undefined ? undefined : (): void => { this.settle(p, aborted(signal)) }
    const p: Pending = { mailboxId, envelope, resolve: () => { resolve(undefined) }, reject, signal, onAbort, attempts: 0, settled: false }
    if (onAbort !== undefined) signal?.addEventListener('abort', onAbort, { once: true })
    this.queue.push(p)
    this.schedule()
    return promise
  }

  /** Callers of the same turn of the event loop share a frame. */
  private schedule (): void {
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => { this.scheduled = false; void this.pump() })
  }

  private settle (p: Pending, err?: Error): void {
    if (p.settled) return
    p.settled = true
    if (p.onAbort !== undefined) p.signal?.removeEventListener('abort', p.onAbort)
    if (err === undefined) p.resolve()
    else p.reject(err)
  }

  private async pump (): Promise<void> {
    if (this.pumping) return
    this.pumping = true
    try {
      for (;;) {
        while (this.queue[0]?.settled === true) this.queue.shift()
        if (this.queue.length === 0 || this.inflight.size >= MAX_DEPOSIT_FRAMES_IN_FLIGHT) return
        let open: Open
        try {
          open = await this.stream()
        } catch (err) {
          this.failQueued(wrap(err))
          continue
        }
        const items: Pending[] = []
        let bytes = 0
        while (this.queue.length > 0) {
          const p = this.queue[0] as Pending
          if (p.settled) { this.queue.shift(); continue }
          if (!depositFrameFits(items.length, bytes, p.envelope.length)) break
          this.queue.shift()
          p.attempts++
          items.push(p)
          bytes += p.envelope.length
        }
        if (items.length === 0) continue
        const reqId = this.nextReq
        this.nextReq = this.nextReq >= 0xffffffff ? 1 : this.nextReq + 1
        this.inflight.set(reqId, { open, items })
        this.armDeadline()
        try {
          await open.lp.write(encodeClientFrame({ type: 'deposit', reqId, items }))
        } catch (err) {
          this.failStream(open, wrap(err))
        }
      }
    } finally {
      this.pumping = false
    }
  }

  private async stream (): Promise<Open> {
    if (this.open !== undefined) return this.open
    this.opening ??= this.dial().finally(() => { this.opening = undefined })
    return await this.opening
  }

  private async dial (): Promise<Open> {
    const stream = await this.libp2p.dialProtocol(multiaddr(this.relayAddr), MAILBOX_PROTOCOL, {
      signal: AbortSignal.timeout(MAILBOX_REQUEST_DEADLINE_MS),
      maxOutboundStreams: MAILBOX_MAX_STREAMS_PER_CONNECTION
    })
    const open: Open = { stream, lp: lpStream(stream, { maxDataLength: MAX_RELAY_FRAME_BYTES, maxBufferSize: DEPOSIT_READ_BUFFER_BYTES }) }
    this.open = open
    this.readLoop(open).catch(() => {})
    return open
  }

  private async readLoop (open: Open): Promise<void> {
    try {
      for (;;) {
        const raw = (await open.lp.read()).subarray()
        const f = atStream(() => decodeRelayFrame(raw))
        if (f.type === 'error' && f.reqId === 0) throw new NetError('REFUSED', `The relay refused: ${f.message}`, { reason: f.reason })
        if (f.type !== 'deposited') throw new NetError('BAD_FRAME', 'The relay answered a deposit with an unexpected frame.')
        const items = this.inflight.get(f.reqId)?.items
        if (items === undefined || items.length !== f.statuses.length) throw new NetError('BAD_FRAME', 'The relay answered a deposit it was not asked.')
        this.inflight.delete(f.reqId)
        this.armDeadline()
        f.statuses.forEach((st, i) => { this.settle(items[i] as Pending, st === 'stored' ? undefined : refusedEnvelope(st)) })
        this.schedule()
      }
    } catch (err) {
      // A stream closed for idleness ends here with nothing in flight: nothing to fail.
      if (this.open !== open && ![...this.inflight.values()].some((f) => f.open === open)) return
      this.failStream(open, wrap(err))
    }
  }

  /** One timer for the whole stream: while a frame is in flight, some answer must come within the deadline. */
  private armDeadline (): void {
    if (this.inflight.size === 0) {
      if (this.deadline !== undefined) { clearTimeout(this.deadline); this.deadline = undefined }
      if (this.idle === undefined) {
        this.idle = setTimeout(() => { this.closeIdle() }, DEPOSIT_STREAM_IDLE_MS)
        this.idle.unref()
      } else this.idle.refresh()
      return
    }
    if (this.deadline === undefined) {
      this.deadline = setTimeout(() => {
        this.deadline = undefined
        if (this.open !== undefined) this.failStream(this.open, new NetError('TIMEOUT', 'The relay did not answer in time.'))
      }, MAILBOX_REQUEST_DEADLINE_MS)
      this.deadline.unref()
    } else this.deadline.refresh()
  }

  private closeIdle (): void {
    this.idle = undefined
    const open = this.open
    if (open === undefined || this.inflight.size > 0 || this.queue.length > 0) return
    this.open = undefined
    void open.stream.close({ signal: AbortSignal.timeout(2000) }).catch(() => { open.stream.abort(new Error('closed')) })
  }

  /** The stream is gone: its frames in flight get another attempt on a fresh stream, or fail. */
  private failStream (open: Open, err: Error): void {
    if (this.open === open) this.open = undefined
    open.stream.abort(err)
    const retry = NetError.is(err, 'UNREACHABLE') || NetError.is(err, 'CLOSED')
    const again: Pending[] = []
    for (const [reqId, frame] of [...this.inflight]) {
      if (frame.open !== open) continue
      this.inflight.delete(reqId)
      for (const p of frame.items) {
        if (p.settled) continue
        if (retry && p.attempts < DEPOSIT_ATTEMPTS) again.push(p)
        else this.settle(p, err)
      }
    }
    this.armDeadline()
    this.queue.unshift(...again)
    if (this.queue.length > 0) this.schedule()
  }

  /** No stream could be opened: queued envelopes get one more attempt, then fail with the error. */
  private failQueued (err: Error): void {
    const retry = NetError.is(err, 'UNREACHABLE')
    for (const p of this.queue.splice(0)) {
      p.attempts++
      if (retry && p.attempts < DEPOSIT_ATTEMPTS) this.queue.push(p)
      else this.settle(p, err)
    }
  }
}

function aborted (signal: AbortSignal): NetError {
  const r: unknown = signal.reason
  const timedOut = r instanceof Error && r.name === 'TimeoutError'
  return new NetError(timedOut ? 'TIMEOUT' : 'ABORTED', timedOut ? 'The relay did not answer in time.' : 'Cancelled.')
}

function wrap (err: unknown): Error {
  if (NetError.is(err)) return err
  if (err instanceof Error && err.name === 'TimeoutError') return new NetError('TIMEOUT', 'The relay did not answer in time.', { cause: err })
  if (err instanceof Error && err.name === 'UnexpectedEOFError') return new NetError('CLOSED', 'The relay closed the deposit stream.', { cause: err })
  return new NetError('UNREACHABLE', 'The relay could not be reached.', { cause: err })
}

const channels = new WeakMap<Libp2p, Map<string, DepositChannel>>()

/** Deposits one envelope; resolves once the relay has committed it. Calls made together share frames and a stream. */
export async function depositTo (libp2p: Libp2p, relayAddr: string, mailboxId: Uint8Array, envelope: Uint8Array, o: { signal?: AbortSignal | undefined } = {}): Promise<void> {
  // Checked before any dial, as the encoder would.
  if (mailboxId.length !== MAILBOX_ID_BYTES) throw new RangeError(`mailboxId must be ${MAILBOX_ID_BYTES} bytes`)
  if (envelope.length === 0) throw new RangeError('envelope must not be empty')
  if (envelope.length > MAX_ENVELOPE_BYTES) throw new NetError('TOO_LARGE', `Envelope of ${envelope.length} bytes is over the ${MAX_ENVELOPE_BYTES}-byte maximum.`)
  if (peerIdOf(relayAddr) === undefined) throw new RangeError('relayAddr must end in /p2p/<relay peer id>')
  let byRelay = channels.get(libp2p)
  if (byRelay === undefined) { byRelay = new Map(); channels.set(libp2p, byRelay) }
  let ch = byRelay.get(relayAddr)
  if (ch === undefined) { ch = new DepositChannel(libp2p, relayAddr); byRelay.set(relayAddr, ch) }
  await ch.deposit(mailboxId, envelope, o.signal)
}
