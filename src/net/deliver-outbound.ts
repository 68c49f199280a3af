// The sending end of /0m1/deliver/2.1.0 (2.0.0 with an older receiver): one stream per connection, opened on first
// use and reused, with up to
// DELIVER_WINDOW envelopes in flight; each send resolves or fails on its own ack. A stream that dies fails only the
// envelopes pending on it, and the next send opens a fresh one on the same connection.
import type { Connection, Stream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'
import { NetError, atStream } from './errors.ts'
import { FrameReader, lengthPrefixed } from './frame-reader.ts'
import {
  acksCarryReceipts, decodeDeliverFrame, DELIVER_PROTOCOLS, DELIVER_WINDOW, encodeDeliverFrame, MAX_ACK_FRAME_BYTES, MAX_DELIVER_ID, STREAM_ACK_ID,
  type DeliverAck
} from '../wire/deliver.ts'

/** From the envelope sent to the receiver's ack: its handler decrypts and stores before acking. */
export const ACK_DEADLINE_MS = 15_000
/** Opening the deliver stream on a connection we already hold: local work plus one round trip. */
export const OPEN_STREAM_DEADLINE_MS = 3_000

interface Pending {
  readonly deadlineAt: number
  /** Undefined once the caller gave up (aborted): the slot stays taken until the ack, so the window stays exact. */
  settle: ((r: { delivered: boolean } | { err: Error }) => void) | undefined
}

function ackError (status: DeliverAck['status']): NetError | undefined {
  if (status === 'accepted' || status === 'delivered') return undefined
  if (status === 'rejected') return new NetError('REJECTED', 'The receiving device did not accept the envelope.')
  if (status === 'too-large') return new NetError('TOO_LARGE', 'The receiving device refused the envelope as too large.')
  return new NetError('BAD_FRAME', 'The receiving device could not parse the envelope frame.')
}

function aborted (signal: AbortSignal): NetError {
  return new NetError('ABORTED', 'Cancelled.', { cause: signal.reason })
}

class OutboundChannel {
  readonly #stream: Stream
  readonly #reader = new FrameReader(MAX_ACK_FRAME_BYTES)
  /** In send order, which is deadline order: the first entry is always the next to expire. */
  readonly #pending = new Map<number, Pending>()
  /** Sends waiting for a slot, first come first served. */
  readonly #waiters: Array<{ wake: () => void }> = []
  /** Slots handed to woken waiters that have not yet resumed. */
  #reserved = 0
  #nextId = 1
  #timer: ReturnType<typeof setTimeout> | undefined
  #failure: NetError | undefined
  /** A 2.1.0 stream: its acks may be delivered receipts. On 2.0.0 such an ack is a broken receiver. */
  readonly #receipts: boolean

  constructor (stream: Stream, private readonly onDead: () => void) {
    this.#stream = stream
    this.#receipts = acksCarryReceipts(stream.protocol)
    stream.addEventListener('message', (e: StreamMessageEvent) => { this.#onData(e) })
    stream.addEventListener('close', (e: StreamCloseEvent) => {
      this.#fail(new NetError('CLOSED', 'The deliver stream closed before the receiving device acknowledged.', { cause: e.error }))
    })
    // The receiver will send no more acks: waiting for the deadline would only delay the next path.
    stream.addEventListener('remoteCloseWrite', () => {
      this.#abort(new NetError('CLOSED', 'The receiving device closed the deliver stream.'))
    })
  }

  get dead (): boolean { return this.#failure !== undefined }
  get pending (): number { return this.#pending.size }
  get waiting (): number { return this.#waiters.length }
  get streamId (): string { return this.#stream.id }

  /** Resolves true when the ack was the receiver's delivered receipt. */
  async send (envelope: Uint8Array, signal: AbortSignal | undefined): Promise<boolean> {
    this.#throwIfDead()
    if (this.#pending.size + this.#reserved >= DELIVER_WINDOW || this.#waiters.length > 0) {
      await this.#room(signal)
      this.#throwIfDead() // woken by the stream's failure
    }
    // From here to the send, nothing awaits: the slot is ours.
    if (signal?.aborted === true) { this.#release(); throw aborted(signal) }
    const id = this.#takeId()
    let frame: Uint8Array
    try {
      frame = atStream(() => encodeDeliverFrame({ type: 'deliver', id, envelope }))
    } catch (err) {
      this.#release()
      throw err
    }
    return await new Promise<boolean>((resolve, reject) => {
      const onAbort = (): void => { p.settle = undefined; reject(aborted(signal as AbortSignal)) }
      const p: Pending = {
        deadlineAt: Date.now() + ACK_DEADLINE_MS,
        settle: (r) => {
          signal?.removeEventListener('abort', onAbort)
          if ('err' in r) reject(r.err); else resolve(r.delivered)
        }
      }
      this.#pending.set(id, p)
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#arm()
      try {
        // The window bounds what the stream buffers, so send()'s need-drain answer needs no wait here.
        this.#stream.send(lengthPrefixed([frame]))
      } catch (err) {
        this.#abort(new NetError('CLOSED', 'The deliver stream could not be written.', { cause: err }))
      }
    })
  }

  #throwIfDead (): void {
    if (this.#failure !== undefined) throw this.#failure
  }

  #takeId (): number {
    let id = this.#nextId
    while (this.#pending.has(id)) id = id === MAX_DELIVER_ID ? 1 : id + 1
    this.#nextId = id === MAX_DELIVER_ID ? 1 : id + 1
    return id
  }

  async #room (signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted === true) throw aborted(signal)
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        wake: () => { signal?.removeEventListener('abort', onAbort); resolve() }
      }
      const onAbort = (): void => {
        const i = this.#waiters.indexOf(waiter)
        if (i >= 0) this.#waiters.splice(i, 1)
        reject(aborted(signal as AbortSignal))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#waiters.push(waiter)
    })
    this.#reserved--
  }

  /** A slot taken and not used: it goes to the next waiter. */
  #release (): void {
    this.#wakeWaiters()
  }

  #wakeWaiters (): void {
    while (this.#waiters.length > 0 && this.#pending.size + this.#reserved < DELIVER_WINDOW) {
      this.#reserved++
      this.#waiters.shift()?.wake()
    }
  }

  #onData (e: StreamMessageEvent): void {
    if (this.#failure !== undefined) return
    this.#reader.push(e.data)
    try {
      for (let raw = this.#reader.next(); raw !== undefined; raw = this.#reader.next()) {
        const f = atStream(() => decodeDeliverFrame(raw))
        if (f.type !== 'acks') throw new NetError('BAD_FRAME', 'The receiving device sent a frame that is not an ack.')
        for (const a of f.acks) this.#onAck(a)
      }
    } catch (err) {
      this.#abort(NetError.is(err) ? err : new NetError('BAD_FRAME', 'The receiving device sent an unreadable ack.', { cause: err }))
      return
    }
    this.#wakeWaiters()
  }

  #onAck (a: DeliverAck): void {
    if (a.id === STREAM_ACK_ID) {
      throw new NetError('BAD_FRAME', `The receiving device refused the deliver stream (${a.status}).`)
    }
    if (a.status === 'delivered' && !this.#receipts) throw new NetError('BAD_FRAME', 'The receiving device sent a delivered ack on a 2.0.0 stream.')
    const p = this.#pending.get(a.id)
    if (p === undefined) return // a late ack for an id already failed with its stream: nothing waits on it
    this.#pending.delete(a.id)
    const err = ackError(a.status)
    p.settle?.(err === undefined ? { delivered: a.status === 'delivered' } : { err })
  }

  /** One timer for the whole table, set for the oldest entry; an entry acked early only makes it fire for nothing. */
  #arm (): void {
    if (this.#timer !== undefined) return
    const first = this.#pending.values().next()
    if (first.done === true) return
    this.#timer = setTimeout(() => { this.#timer = undefined; this.#sweep() }, Math.max(0, first.value.deadlineAt - Date.now()))
    this.#timer.unref()
  }

  #sweep (): void {
    const first = this.#pending.values().next()
    if (first.done === true) return
    if (first.value.deadlineAt <= Date.now()) {
      // The receiver has held an envelope for the whole deadline: the stream is stuck, not just slow. Resetting it
      // fails what is pending here (those try their next path) and the next send starts a fresh stream.
      this.#abort(new NetError('TIMEOUT', 'The receiving device did not acknowledge in time.'))
      return
    }
    this.#arm()
  }

  #abort (err: NetError): void {
    this.#fail(err)
    this.#stream.abort(err)
  }

  #fail (err: NetError): void {
    if (this.#failure !== undefined) return
    this.#failure = err
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    this.onDead()
    const pending = [...this.#pending.values()]
    this.#pending.clear()
    for (const p of pending) p.settle?.({ err })
    // Waiters wake into the failure check and throw it.
    const waiters = this.#waiters.splice(0)
    this.#reserved += waiters.length
    for (const w of waiters) w.wake()
  }
}

/**
 * The deliver stream of each connection, and the opening of one. Keyed weakly by the connection object, so an
 * entry goes with its connection; nothing is opened until a send needs it.
 */
const opened = new WeakMap<Connection, OutboundChannel>()
const opening = new WeakMap<Connection, Promise<OutboundChannel>>()

async function channelFor (conn: Connection): Promise<OutboundChannel> {
  const ch = opened.get(conn)
  if (ch !== undefined && !ch.dead) return ch
  const inProgress = opening.get(conn)
  if (inProgress !== undefined) return await inProgress // concurrent first sends share one stream
  const p = (async () => {
    // 2.1.0 first; a receiver that speaks only 2.0.0 picks that (its acks are never receipts).
    const stream = await conn.newStream([...DELIVER_PROTOCOLS], { signal: AbortSignal.timeout(OPEN_STREAM_DEADLINE_MS), runOnLimitedConnection: true })
    // Its close event may have passed already: such a stream would never fail what is sent on it.
    if (stream.status !== 'open') throw new NetError('CLOSED', 'The deliver stream closed as it opened.')
    const fresh: OutboundChannel = new OutboundChannel(stream, () => { if (opened.get(conn) === fresh) opened.delete(conn) })
    opened.set(conn, fresh)
    return fresh
  })()
  opening.set(conn, p)
  try {
    return await p
  } finally {
    if (opening.get(conn) === p) opening.delete(conn)
  }
}

/**
 * Sends one envelope on the connection's deliver stream (opened if needed) and waits for its ack; resolves true when
 * the ack was the receiver's delivered receipt (2.1.0). Throws NetError: REJECTED / TOO_LARGE / BAD_FRAME from the
 * receiver's ack, CLOSED or TIMEOUT when the stream died, ABORTED.
 */
export async function sendOnConnection (conn: Connection, envelope: Uint8Array, signal: AbortSignal | undefined): Promise<boolean> {
  const ch = opened.get(conn)
  // The common case stays synchronous up to the send: no extra turn through an async lookup.
  return await (ch !== undefined && !ch.dead ? ch : await channelFor(conn)).send(envelope, signal)
}

/** What the connection's deliver stream holds now (tests and diagnostics); undefined when it has none open. */
export function outboundState (conn: Connection): { pending: number, waiting: number, streamId: string } | undefined {
  const ch = opened.get(conn)
  return ch === undefined || ch.dead ? undefined : { pending: ch.pending, waiting: ch.waiting, streamId: ch.streamId }
}
