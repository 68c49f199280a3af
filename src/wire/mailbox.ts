// Frames of /0m1/mailbox/2.0.0: multi-envelope deposits (anonymous, answered per envelope after the relay's
// commit), challenge authentication of a mailbox owner, paged fetch, ack/delete and a bodiless new-item notice. Each frame is one varint-length-prefixed message; both sides bound the prefix before
// buffering (MAX_CLIENT_FRAME_BYTES on the relay, MAX_RELAY_FRAME_BYTES on the device).
import { WireError } from './errors.ts'
import { MAILBOX_ID_BYTES, MAX_ENVELOPE_BYTES } from './envelope.ts'

export const MAILBOX_PROTOCOL = '/0m1/mailbox/2.0.0'
/** Version 2: multi-envelope deposit frames answered per envelope, pages of up to MAX_FETCH_ITEMS, and a
 * bodiless notice instead of pushing envelopes (a paused reader must not make the relay buffer envelopes). */
export const MAILBOX_VERSION = 0x02
/** Relay-chosen random item ids: unlinkable across mailboxes, no ordering leak. */
export const ITEM_ID_BYTES = 16
export const CHALLENGE_BYTES = 32
export const ED25519_PUBLIC_KEY_BYTES = 32
export const ED25519_SIGNATURE_BYTES = 64
/** One page holds at most this many items: a 10,000 backlog drains in 40 round trips, and a full page of 4 KiB
 * envelopes (1 MiB) is what a device buffers per fetch. */
export const MAX_FETCH_ITEMS = 256
/** Envelope bytes per page (at least one item is always sent, so a page may reach this plus one envelope). */
export const MAX_PAGE_ENVELOPE_BYTES = 1024 * 1024
/** Ids per ack frame: a full page, four times over. */
export const MAX_ACK_IDS = 1024
/** Envelopes per deposit frame: enough that one frame per commit keeps the relay's group commit full
 * (64–256 rows per transaction is where SQLCipher's per-row cost dominates, perf.md). */
export const MAX_DEPOSIT_ITEMS = 256
/** Envelope bytes per deposit frame (one envelope of any allowed size always fits): what the relay buffers per
 * frame, so it bounds the relay's memory per deposit stream together with the frames it reads ahead. */
export const MAX_DEPOSIT_FRAME_ENVELOPE_BYTES = 1024 * 1024
/** Deposit frames a device may have sent and not yet seen answered on one stream; the relay reads that many ahead
 * and no more (its memory per stream is bounded by this times a full frame). */
export const MAX_DEPOSIT_FRAMES_IN_FLIGHT = 8
/** Mailbox streams one connection may hold, on both ends: one deposit stream, and one session per mailbox the
 * device owns (a session per contact plus pending invites share the fetch identity's one connection). */
export const MAILBOX_MAX_STREAMS_PER_CONNECTION = 512
/** Per-envelope bytes in a deposit frame besides the envelope: mailbox id and length. */
const DEPOSIT_ITEM_OVERHEAD = 32 + 4
/** Refusal sentences are short and never hold identifiers. */
export const MAX_REASON_BYTES = 200
/** Largest frame a device may send: a full deposit frame (version, type, request id, count, items). */
export const MAX_CLIENT_FRAME_BYTES = 1 + 1 + 4 + 2 + MAX_DEPOSIT_ITEMS * DEPOSIT_ITEM_OVERHEAD + MAX_DEPOSIT_FRAME_ENVELOPE_BYTES
/** Largest frame a relay may send: a full page. */
export const MAX_RELAY_FRAME_BYTES = 1 + 1 + 4 + 8 + 1 + 2 + MAX_FETCH_ITEMS * (ITEM_ID_BYTES + 4) + MAX_PAGE_ENVELOPE_BYTES + MAX_ENVELOPE_BYTES
/** How long a relay keeps an envelope nobody fetched (issue 3: 30 days); senders give up on a
 * message after the same time, since no copy of it is left to fetch. */
export const MAILBOX_RETENTION_MS = 30 * 24 * 3600 * 1000
/** Domain separation of the owner's signature: it can never be replayed as anything else. */
export const AUTH_CONTEXT = '0m1 mailbox auth v1'

const T = {
  deposit: 0x01,
  authBegin: 0x02,
  authProve: 0x03,
  fetch: 0x04,
  ack: 0x05,
  ok: 0x81,
  challenge: 0x82,
  batch: 0x83,
  notice: 0x84,
  error: 0x85,
  deposited: 0x86,
  acked: 0x87
} as const

/** Why a relay refused a mailbox request: one byte on the wire (the index in REASONS). */
export type RefusalReason =
  | 'TOO_LARGE'
  | 'QUOTA_COUNT'
  | 'QUOTA_BYTES'
  | 'RATE_LIMITED'
  | 'AUTH_FAILED'
  | 'NOT_AUTHENTICATED'
  | 'BAD_FRAME'
  | 'UNSUPPORTED_VERSION'
  | 'INTERNAL'

const REASONS: readonly RefusalReason[] = ['TOO_LARGE', 'QUOTA_COUNT', 'QUOTA_BYTES', 'RATE_LIMITED', 'AUTH_FAILED', 'NOT_AUTHENTICATED', 'BAD_FRAME', 'UNSUPPORTED_VERSION', 'INTERNAL']

export interface MailboxItem { readonly id: Uint8Array, readonly envelope: Uint8Array }
export interface DepositItem { readonly mailboxId: Uint8Array, readonly envelope: Uint8Array }
/** One envelope's fate in a deposit frame: stored (durable), or refused with a reason. */
export type DepositStatus = 'stored' | RefusalReason

export type ClientFrame =
  | { readonly type: 'deposit', readonly reqId: number, readonly items: readonly DepositItem[] }
  | { readonly type: 'auth-begin', readonly reqId: number, readonly mailboxId: Uint8Array }
  | { readonly type: 'auth-prove', readonly reqId: number, readonly publicKey: Uint8Array, readonly signature: Uint8Array }
  | { readonly type: 'fetch', readonly reqId: number, readonly cursor: number, readonly limit: number }
  | { readonly type: 'ack', readonly reqId: number, readonly ids: readonly Uint8Array[] }

export type RelayFrame =
  | { readonly type: 'ok', readonly reqId: number, readonly count: number }
  | { readonly type: 'challenge', readonly reqId: number, readonly challenge: Uint8Array }
  | { readonly type: 'batch', readonly reqId: number, readonly cursor: number, readonly more: boolean, readonly items: readonly MailboxItem[] }
  /** Something new was deposited in the session's mailbox: fetch. No body, so nothing piles up for a slow reader. */
  | { readonly type: 'notice' }
  | { readonly type: 'error', readonly reqId: number, readonly reason: RefusalReason, readonly message: string }
  /** The answer to a deposit frame, sent after the relay's commit: one status per envelope, in order. */
  | { readonly type: 'deposited', readonly reqId: number, readonly statuses: readonly DepositStatus[] }
  /** The answer to an ack: for each id, in order, whether it was deleted (acks from several callers share a frame). */
  | { readonly type: 'acked', readonly reqId: number, readonly deleted: readonly boolean[] }

/** Whether a deposit frame holding `count` envelopes of `bytes` bytes in all may take one more of `next` bytes. */
export function depositFrameFits (count: number, bytes: number, next: number): boolean {
  return count < MAX_DEPOSIT_ITEMS && bytes + next <= MAX_DEPOSIT_FRAME_ENVELOPE_BYTES
}

/** The bytes the owner signs: context, relay peer id (so a challenge cannot be forwarded to another relay), challenge, mailbox id. */
export function authMessage (relayPeerId: Uint8Array, challenge: Uint8Array, mailboxId: Uint8Array): Uint8Array {
  if (relayPeerId.length === 0 || relayPeerId.length > 255) throw new RangeError('relayPeerId must be 1..255 bytes')
  fixed(challenge, CHALLENGE_BYTES, 'challenge')
  fixed(mailboxId, MAILBOX_ID_BYTES, 'mailboxId')
  const ctx = new TextEncoder().encode(AUTH_CONTEXT)
  const w = new Writer(ctx.length + 1 + relayPeerId.length + CHALLENGE_BYTES + MAILBOX_ID_BYTES)
  w.bytes(ctx); w.u8(relayPeerId.length); w.bytes(relayPeerId); w.bytes(challenge); w.bytes(mailboxId)
  return w.done()
}

export function encodeClientFrame (f: ClientFrame): Uint8Array {
  reqIdOk(f.reqId)
  switch (f.type) {
    case 'deposit': {
      if (f.items.length === 0 || f.items.length > MAX_DEPOSIT_ITEMS) throw new RangeError(`a deposit frame holds 1..${MAX_DEPOSIT_ITEMS} envelopes`)
      let bytes = 0
      for (const it of f.items) {
        fixed(it.mailboxId, MAILBOX_ID_BYTES, 'mailboxId')
        if (it.envelope.length === 0) throw new RangeError('envelope must not be empty')
        if (it.envelope.length > MAX_ENVELOPE_BYTES) throw new WireError('TOO_LARGE', `Envelope of ${it.envelope.length} bytes is over the ${MAX_ENVELOPE_BYTES}-byte maximum.`)
        bytes += it.envelope.length
      }
      if (bytes > MAX_DEPOSIT_FRAME_ENVELOPE_BYTES) throw new RangeError(`a deposit frame holds at most ${MAX_DEPOSIT_FRAME_ENVELOPE_BYTES} envelope bytes`)
      const w = head(T.deposit, f.reqId, 2 + f.items.length * DEPOSIT_ITEM_OVERHEAD + bytes).u16(f.items.length)
      for (const it of f.items) w.bytes(it.mailboxId).u32(it.envelope.length).bytes(it.envelope)
      return w.done()
    }
    case 'auth-begin':
      fixed(f.mailboxId, MAILBOX_ID_BYTES, 'mailboxId')
      return head(T.authBegin, f.reqId, MAILBOX_ID_BYTES).bytes(f.mailboxId).done()
    case 'auth-prove':
      fixed(f.publicKey, ED25519_PUBLIC_KEY_BYTES, 'publicKey')
      fixed(f.signature, ED25519_SIGNATURE_BYTES, 'signature')
      return head(T.authProve, f.reqId, ED25519_PUBLIC_KEY_BYTES + ED25519_SIGNATURE_BYTES).bytes(f.publicKey).bytes(f.signature).done()
    case 'fetch':
      if (!Number.isSafeInteger(f.cursor) || f.cursor < 0) throw new RangeError('cursor must be a non-negative safe integer')
      if (!Number.isInteger(f.limit) || f.limit < 1 || f.limit > MAX_FETCH_ITEMS) throw new RangeError(`limit must be 1..${MAX_FETCH_ITEMS}`)
      return head(T.fetch, f.reqId, 10).u64(f.cursor).u16(f.limit).done()
    case 'ack': {
      if (f.ids.length === 0 || f.ids.length > MAX_ACK_IDS) throw new RangeError(`ids must hold 1..${MAX_ACK_IDS} item ids`)
      const w = head(T.ack, f.reqId, 2 + f.ids.length * ITEM_ID_BYTES).u16(f.ids.length)
      for (const id of f.ids) w.bytes(fixed(id, ITEM_ID_BYTES, 'ids[]'))
      return w.done()
    }
  }
}

export function decodeClientFrame (bytes: Uint8Array): ClientFrame {
  const r = open(bytes, MAX_CLIENT_FRAME_BYTES)
  const type = r.u8()
  const reqId = r.u32()
  let f: ClientFrame
  switch (type) {
    case T.deposit: {
      const n = r.u16()
      if (n < 1 || n > MAX_DEPOSIT_ITEMS) throw new WireError('INVALID', `Deposit of ${n} envelopes is outside 1..${MAX_DEPOSIT_ITEMS}.`)
      const items: DepositItem[] = []
      let bytes = 0
      for (let i = 0; i < n; i++) {
        const mailboxId = r.take(MAILBOX_ID_BYTES)
        const len = r.u32()
        if (len === 0) throw new WireError('INVALID', 'Deposit carries an empty envelope.')
        if (len > MAX_ENVELOPE_BYTES) throw new WireError('TOO_LARGE', `Envelope of ${len} bytes is over the ${MAX_ENVELOPE_BYTES}-byte maximum.`)
        bytes += len
        if (bytes > MAX_DEPOSIT_FRAME_ENVELOPE_BYTES) throw new WireError('TOO_LARGE', `Deposit frame is over ${MAX_DEPOSIT_FRAME_ENVELOPE_BYTES} envelope bytes.`)
        items.push({ mailboxId, envelope: r.take(len) })
      }
      f = { type: 'deposit', reqId, items }
      break
    }
    case T.authBegin: f = { type: 'auth-begin', reqId, mailboxId: r.take(MAILBOX_ID_BYTES) }; break
    case T.authProve: f = { type: 'auth-prove', reqId, publicKey: r.take(ED25519_PUBLIC_KEY_BYTES), signature: r.take(ED25519_SIGNATURE_BYTES) }; break
    case T.fetch: {
      const cursor = r.u64()
      const limit = r.u16()
      if (limit < 1 || limit > MAX_FETCH_ITEMS) throw new WireError('INVALID', `Fetch limit ${limit} is outside 1..${MAX_FETCH_ITEMS}.`)
      f = { type: 'fetch', reqId, cursor, limit }
      break
    }
    case T.ack: {
      const n = r.u16()
      if (n < 1 || n > MAX_ACK_IDS) throw new WireError('INVALID', `Ack of ${n} ids is outside 1..${MAX_ACK_IDS}.`)
      const ids: Uint8Array[] = []
      for (let i = 0; i < n; i++) ids.push(r.take(ITEM_ID_BYTES))
      f = { type: 'ack', reqId, ids }
      break
    }
    default: throw new WireError('UNKNOWN_KIND', `Unknown mailbox request type ${type}.`)
  }
  r.end()
  return f
}

export function encodeRelayFrame (f: RelayFrame): Uint8Array {
  switch (f.type) {
    case 'ok':
      reqIdOk(f.reqId)
      return head(T.ok, f.reqId, 4).u32(f.count).done()
    case 'challenge':
      reqIdOk(f.reqId)
      return head(T.challenge, f.reqId, CHALLENGE_BYTES).bytes(fixed(f.challenge, CHALLENGE_BYTES, 'challenge')).done()
    case 'batch': {
      reqIdOk(f.reqId)
      if (f.items.length > MAX_FETCH_ITEMS) throw new RangeError(`a page holds at most ${MAX_FETCH_ITEMS} items`)
      const size = f.items.reduce((n, it) => n + ITEM_ID_BYTES + 4 + it.envelope.length, 0)
      const w = head(T.batch, f.reqId, 8 + 1 + 2 + size).u64(f.cursor).u8(f.more ? 1 : 0).u16(f.items.length)
      for (const it of f.items) w.bytes(fixed(it.id, ITEM_ID_BYTES, 'item.id')).u32(it.envelope.length).bytes(it.envelope)
      const out = w.done()
      if (out.length > MAX_RELAY_FRAME_BYTES) throw new RangeError('page is over MAX_RELAY_FRAME_BYTES')
      return out
    }
    case 'notice':
      return head(T.notice, 0, 0).done()
    case 'deposited': {
      reqIdOk(f.reqId)
      if (f.statuses.length === 0 || f.statuses.length > MAX_DEPOSIT_ITEMS) throw new RangeError(`a deposit answer holds 1..${MAX_DEPOSIT_ITEMS} statuses`)
      const w = head(T.deposited, f.reqId, 2 + f.statuses.length).u16(f.statuses.length)
      for (const st of f.statuses) w.u8(st === 'stored' ? 0 : 1 + reasonIndex(st))
      return w.done()
    }
    case 'acked': {
      reqIdOk(f.reqId)
      const n = f.deleted.length
      if (n === 0 || n > MAX_ACK_IDS) throw new RangeError(`an ack answer holds 1..${MAX_ACK_IDS} bits`)
      const bits = new Uint8Array(Math.ceil(n / 8))
      f.deleted.forEach((d, i) => { if (d) bits[i >> 3] = (bits[i >> 3] ?? 0) | (0x80 >> (i & 7)) })
      return head(T.acked, f.reqId, 2 + bits.length).u16(n).bytes(bits).done()
    }
    case 'error': {
      reqIdOk(f.reqId)
      let msg = new TextEncoder().encode(f.message)
      if (msg.length > MAX_REASON_BYTES) msg = msg.subarray(0, MAX_REASON_BYTES)
      return head(T.error, f.reqId, 1 + 2 + msg.length).u8(reasonIndex(f.reason)).u16(msg.length).bytes(msg).done()
    }
  }
}

export function decodeRelayFrame (bytes: Uint8Array): RelayFrame {
  const r = open(bytes, MAX_RELAY_FRAME_BYTES)
  const type = r.u8()
  const reqId = r.u32()
  let f: RelayFrame
  switch (type) {
    case T.ok: f = { type: 'ok', reqId, count: r.u32() }; break
    case T.challenge: f = { type: 'challenge', reqId, challenge: r.take(CHALLENGE_BYTES) }; break
    case T.batch: {
      const cursor = r.u64()
      const moreByte = r.u8()
      if (moreByte > 1) throw new WireError('INVALID', 'Batch "more" flag must be 0 or 1.')
      const n = r.u16()
      if (n > MAX_FETCH_ITEMS) throw new WireError('INVALID', `Batch of ${n} items is over ${MAX_FETCH_ITEMS}.`)
      const items: MailboxItem[] = []
      for (let i = 0; i < n; i++) {
        const id = r.take(ITEM_ID_BYTES)
        const len = r.u32()
        if (len === 0 || len > MAX_ENVELOPE_BYTES) throw new WireError('INVALID', `Batch item of ${len} bytes is outside 1..${MAX_ENVELOPE_BYTES}.`)
        items.push({ id, envelope: r.take(len) })
      }
      f = { type: 'batch', reqId, cursor, more: moreByte === 1, items }
      break
    }
    case T.notice:
      if (reqId !== 0) throw new WireError('INVALID', 'A notice carries request id 0.')
      f = { type: 'notice' }
      break
    case T.deposited: {
      const n = r.u16()
      if (n < 1 || n > MAX_DEPOSIT_ITEMS) throw new WireError('INVALID', `Deposit answer of ${n} statuses is outside 1..${MAX_DEPOSIT_ITEMS}.`)
      const statuses: DepositStatus[] = []
      for (let i = 0; i < n; i++) {
        const b = r.u8()
        const reason = b === 0 ? 'stored' : REASONS[b - 1]
        if (reason === undefined) throw new WireError('UNKNOWN_KIND', 'Unknown deposit status.')
        statuses.push(reason)
      }
      f = { type: 'deposited', reqId, statuses }
      break
    }
    case T.acked: {
      const n = r.u16()
      if (n < 1 || n > MAX_ACK_IDS) throw new WireError('INVALID', `Ack answer of ${n} bits is outside 1..${MAX_ACK_IDS}.`)
      const bits = r.take(Math.ceil(n / 8))
      if (n % 8 !== 0 && ((bits[bits.length - 1] ?? 0) & (0xff >> (n % 8))) !== 0) throw new WireError('INVALID', 'Ack answer has padding bits set.')
      f = { type: 'acked', reqId, deleted: Array.from({ length: n }, (_, i) => ((bits[i >> 3] ?? 0) & (0x80 >> (i & 7))) !== 0) }
      break
    }
    case T.error: {
      const reason = REASONS[r.u8()]
      if (reason === undefined) throw new WireError('UNKNOWN_KIND', 'Unknown refusal reason.')
      const len = r.u16()
      if (len > MAX_REASON_BYTES) throw new WireError('INVALID', 'Refusal sentence is too long.')
      f = { type: 'error', reqId, reason, message: new TextDecoder('utf-8', { fatal: false }).decode(r.take(len)) }
      break
    }
    default: throw new WireError('UNKNOWN_KIND', `Unknown mailbox reply type ${type}.`)
  }
  r.end()
  return f
}

function reasonIndex (reason: RefusalReason): number {
  const i = REASONS.indexOf(reason)
  if (i < 0) throw new RangeError('unknown refusal reason')
  return i
}

function reqIdOk (reqId: number): void {
  if (!Number.isInteger(reqId) || reqId < 0 || reqId > 0xffffffff) throw new RangeError('reqId must be a u32')
}

function fixed (b: Uint8Array, n: number, name: string): Uint8Array {
  if (!(b instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`)
  if (b.length !== n) throw new RangeError(`${name} must be ${n} bytes`)
  return b
}

function head (type: number, reqId: number, bodyBytes: number): Writer {
  return new Writer(1 + 1 + 4 + bodyBytes).u8(MAILBOX_VERSION).u8(type).u32(reqId)
}

function open (bytes: Uint8Array, max: number): Reader {
  if (bytes.length < 1) throw new WireError('TRUNCATED', 'Empty mailbox frame.')
  if (bytes[0] !== MAILBOX_VERSION) throw new WireError('VERSION', `Mailbox frame version ${bytes[0]} is not supported; this build speaks version ${MAILBOX_VERSION}.`)
  if (bytes.length > max) throw new WireError('TOO_LARGE', `Mailbox frame of ${bytes.length} bytes is over the ${max}-byte limit.`)
  const r = new Reader(bytes)
  r.u8()
  return r
}

class Writer {
  private readonly buf: Uint8Array
  private readonly view: DataView
  private at = 0
  constructor (size: number) { this.buf = new Uint8Array(size); this.view = new DataView(this.buf.buffer) }
  u8 (v: number): this { this.view.setUint8(this.at, v); this.at += 1; return this }
  u16 (v: number): this { this.view.setUint16(this.at, v); this.at += 2; return this }
  u32 (v: number): this { this.view.setUint32(this.at, v); this.at += 4; return this }
  u64 (v: number): this { this.view.setBigUint64(this.at, BigInt(v)); this.at += 8; return this }
  bytes (b: Uint8Array): this { this.buf.set(b, this.at); this.at += b.length; return this }
  done (): Uint8Array {
    if (this.at !== this.buf.length) throw new Error(`frame writer size mismatch (${this.at} != ${this.buf.length})`)
    return this.buf
  }
}

class Reader {
  private readonly view: DataView
  private at = 0
  constructor (private readonly buf: Uint8Array) { this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength) }
  private need (n: number): void {
    if (this.at + n > this.buf.length) throw new WireError('TRUNCATED', 'Mailbox frame is truncated.')
  }
  u8 (): number { this.need(1); const v = this.view.getUint8(this.at); this.at += 1; return v }
  u16 (): number { this.need(2); const v = this.view.getUint16(this.at); this.at += 2; return v }
  u32 (): number { this.need(4); const v = this.view.getUint32(this.at); this.at += 4; return v }
  u64 (): number {
    this.need(8)
    const v = this.view.getBigUint64(this.at)
    this.at += 8
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new WireError('INVALID', 'Cursor is out of range.')
    return Number(v)
  }
  take (n: number): Uint8Array { this.need(n); const v = new Uint8Array(this.buf.subarray(this.at, this.at + n)); this.at += n; return v }
  rest (): Uint8Array { const v = new Uint8Array(this.buf.subarray(this.at)); this.at = this.buf.length; return v }
  end (): void {
    if (this.at !== this.buf.length) throw new WireError('TRAILING', 'Mailbox frame has trailing bytes.')
  }
}
