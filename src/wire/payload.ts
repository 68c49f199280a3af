// The plaintext inside a libsignal message: a versioned payload with a random id and a
// per-conversation, per-sender sequence number. Layout and limits: docs/protocol.md "Payload".
import { Reader, Writer } from './bytes.ts'
import { WireError } from './errors.ts'
import { MAILBOX_ID_BYTES, MAILBOX_KEY_BYTES } from './envelope.ts'
import { decodeFileDescriptor, encodeFileDescriptor, type FileDescriptor } from './file.ts'
import { MAX_TEXT_BYTES } from './text-limit.ts'

/** v2 (issue 9): a card carries the sender's presence verification key. */
export const PAYLOAD_VERSION = 0x02
export const PAYLOAD_ID_BYTES = 16
export const PRESENCE_SECRET_BYTES = 32
/** Raw Ed25519 public key that verifies the sender's presence records (RFC 8032). */
export const PRESENCE_KEY_BYTES = 32
export const KIND_TEXT = 0x01
export const KIND_RECEIPT = 0x02
export const KIND_CARD = 0x03
/** Issue 12: a file announcement (descriptor and an optional caption); a message like a text. */
export const KIND_FILE = 0x07
/** Issue 11: a group control body (src/wire/group.ts) inside the pairwise session. */
export const KIND_GROUP = 0x08
/** Issue 12: the sender gives up a file it announced (its source changed or could not be read while it was being
 * sealed): the receiver stops waiting for the chunks and shows the file failed with the reason (control, seq 0). */
export const KIND_FILE_CANCEL = 0x09
/** Why a sender cancelled a file (a code, never free text: the receiver words it). Unknown codes read as 'other'. */
export type FileCancelReason = 'changed' | 'unreadable' | 'other'
const FILE_CANCEL_REASONS: Record<FileCancelReason, number> = { other: 0, changed: 1, unreadable: 2 }
export { MAX_TEXT_BYTES } from './text-limit.ts'
/** Issue 13: a text that quotes an earlier message of the conversation (its id and a short excerpt). */
export const KIND_REPLY = 0x04
/** Issue 13: the sender replaces the text of one of its own messages (control, seq 0). */
export const KIND_EDIT = 0x05
/** Issue 13: the sender withdraws one of its own messages for everyone (control, seq 0). */
export const KIND_DELETE = 0x06
/** A reply's quoted excerpt: enough to recognise the message on a screen, never its whole text. */
export const MAX_QUOTE_BYTES = 280
/** One receipt acknowledges at most this many messages (512 × 16 B = 8 KiB). */
export const MAX_RECEIPT_IDS = 512
/** Display names: 128 bytes of UTF-8 (about 30–128 characters) is plenty for a name on a screen. */
export const MAX_NAME_BYTES = 128
/** A libp2p peer id string (base58 or CIDv1) is well under 128 characters. */
export const MAX_PEER_ID_BYTES = 128
/** Relay and network addresses are multiaddr strings; 256 bytes holds a circuit address. */
export const MAX_ADDRESS_BYTES = 256
export const MAX_RELAYS = 8
export const MAX_ADDRESSES = 16
/** A self-issued libsignal sender certificate is about 260 bytes. */
export const MAX_CERTIFICATE_BYTES = 1024
/** Whole payload limit, below the envelope's largest body. */
export const MAX_PAYLOAD_BYTES = 48 * 1024

export interface ContactCard {
  readonly displayName: string
  /** The sender's mailbox for messages addressed to it (its receive direction). */
  readonly mailboxId: Uint8Array
  readonly mailboxKey: Uint8Array
  readonly presenceSecret: Uint8Array
  /** Verifies this sender's presence records (src/e2ee/presence.ts); only ever sent inside the encryption. */
  readonly presenceKey: Uint8Array
  readonly peerId?: string
  readonly relays: readonly string[]
  readonly addresses: readonly string[]
  /** libsignal SenderCertificate issued by the sender's own identity key. */
  readonly senderCertificate: Uint8Array
}

export type ReceiptType = 'delivered' | 'read'

export type Payload =
  | { readonly kind: 'text', readonly id: Uint8Array, readonly seq: number, readonly sentAt: number, readonly text: string }
  | { readonly kind: 'receipt', readonly id: Uint8Array, readonly seq: number, readonly type: ReceiptType, readonly ids: readonly Uint8Array[] }
  | { readonly kind: 'card', readonly id: Uint8Array, readonly seq: number, readonly card: ContactCard }
  | { readonly kind: 'reply', readonly id: Uint8Array, readonly seq: number, readonly sentAt: number, readonly text: string, readonly replyTo: Uint8Array, readonly quote: string }
  | { readonly kind: 'edit', readonly id: Uint8Array, readonly seq: number, readonly target: Uint8Array, readonly editedAt: number, readonly text: string }
  | { readonly kind: 'delete', readonly id: Uint8Array, readonly seq: number, readonly target: Uint8Array, readonly deletedAt: number }
  | { readonly kind: 'file', readonly id: Uint8Array, readonly seq: number, readonly sentAt: number, readonly text: string, readonly file: FileDescriptor }
  | { readonly kind: 'group', readonly id: Uint8Array, readonly seq: number, readonly body: Uint8Array }
  | { readonly kind: 'file-cancel', readonly id: Uint8Array, readonly seq: number, readonly target: Uint8Array, readonly reason: FileCancelReason }

/** Payloads that are messages of the conversation (a sequence number, a receipt, a row in the history). */
export type MessagePayload = Extract<Payload, { kind: 'text' | 'reply' | 'file' }>
export function isMessagePayload (p: Payload): p is MessagePayload {
  return p.kind === 'text' || p.kind === 'reply' || p.kind === 'file'
}

const KIND_CODES: Record<Payload['kind'], number> = {
  text: KIND_TEXT, receipt: KIND_RECEIPT, card: KIND_CARD, reply: KIND_REPLY, edit: KIND_EDIT, delete: KIND_DELETE, file: KIND_FILE, group: KIND_GROUP, 'file-cancel': KIND_FILE_CANCEL
}

const RECEIPT_TYPES: Record<ReceiptType, number> = { delivered: 1, read: 2 }

export function encodePayload (p: Payload): Uint8Array {
  const w = new Writer(128)
  w.u8(PAYLOAD_VERSION)
  w.u8(KIND_CODES[p.kind])
  w.fixed(p.id, PAYLOAD_ID_BYTES, 'id')
  w.u32(p.seq)
  switch (p.kind) {
    case 'text':
      w.u64(p.sentAt)
      w.string(2, MAX_TEXT_BYTES, p.text, 'text')
      break
    case 'receipt':
      w.u8(RECEIPT_TYPES[p.type])
      if (p.ids.length > MAX_RECEIPT_IDS) throw new RangeError(`a receipt holds at most ${MAX_RECEIPT_IDS} ids`)
      w.u16(p.ids.length)
      for (const id of p.ids) w.fixed(id, PAYLOAD_ID_BYTES, 'receipt id')
      break
    case 'card':
      encodeCard(w, p.card)
      break
    case 'reply':
      w.u64(p.sentAt)
      w.string(2, MAX_TEXT_BYTES, p.text, 'text')
      w.fixed(p.replyTo, PAYLOAD_ID_BYTES, 'replyTo')
      w.string(2, MAX_QUOTE_BYTES, p.quote, 'quote')
      break
    case 'edit':
      w.fixed(p.target, PAYLOAD_ID_BYTES, 'target')
      w.u64(p.editedAt)
      w.string(2, MAX_TEXT_BYTES, p.text, 'text')
      break
    case 'delete':
      w.fixed(p.target, PAYLOAD_ID_BYTES, 'target')
      w.u64(p.deletedAt)
      break
    case 'file':
      w.u64(p.sentAt)
      w.string(2, MAX_TEXT_BYTES, p.text, 'text')
      encodeFileDescriptor(w, p.file)
      break
    case 'group':
      w.sized(4, MAX_PAYLOAD_BYTES, p.body, 'group body')
      break
    case 'file-cancel':
      w.fixed(p.target, PAYLOAD_ID_BYTES, 'target')
      w.u8(FILE_CANCEL_REASONS[p.reason])
      break
  }
  return w.finish().slice()
}

function encodeCard (w: Writer, c: ContactCard): void {
  w.string(1, MAX_NAME_BYTES, c.displayName, 'displayName')
  w.fixed(c.mailboxId, MAILBOX_ID_BYTES, 'mailboxId')
  w.fixed(c.mailboxKey, MAILBOX_KEY_BYTES, 'mailboxKey')
  w.fixed(c.presenceSecret, PRESENCE_SECRET_BYTES, 'presenceSecret')
  w.fixed(c.presenceKey, PRESENCE_KEY_BYTES, 'presenceKey')
  w.string(1, MAX_PEER_ID_BYTES, c.peerId ?? '', 'peerId')
  w.strings(MAX_RELAYS, MAX_ADDRESS_BYTES, c.relays, 'relays')
  w.strings(MAX_ADDRESSES, MAX_ADDRESS_BYTES, c.addresses, 'addresses')
  w.sized(2, MAX_CERTIFICATE_BYTES, c.senderCertificate, 'senderCertificate')
}

function decodeCard (r: Reader): ContactCard {
  const displayName = r.string(1, MAX_NAME_BYTES, 'display name')
  const mailboxId = r.fixed(MAILBOX_ID_BYTES, 'mailbox id')
  const mailboxKey = r.fixed(MAILBOX_KEY_BYTES, 'mailbox key')
  const presenceSecret = r.fixed(PRESENCE_SECRET_BYTES, 'presence secret')
  const presenceKey = r.fixed(PRESENCE_KEY_BYTES, 'presence key')
  const peerId = r.string(1, MAX_PEER_ID_BYTES, 'peer id')
  const relays = r.strings(MAX_RELAYS, MAX_ADDRESS_BYTES, 'relays')
  const addresses = r.strings(MAX_ADDRESSES, MAX_ADDRESS_BYTES, 'addresses')
  const senderCertificate = r.sized(2, MAX_CERTIFICATE_BYTES, 'sender certificate')
  return { displayName, mailboxId, mailboxKey, presenceSecret, presenceKey, ...(peerId === '' ? {} : { peerId }), relays, addresses, senderCertificate }
}

export function decodePayload (bytes: Uint8Array): Payload {
  const r = new Reader(bytes, 'message payload')
  const version = r.u8('version')
  if (version !== PAYLOAD_VERSION) throw new WireError('VERSION', `The message payload has version ${version}; this program reads version ${PAYLOAD_VERSION}.`)
  if (bytes.length > MAX_PAYLOAD_BYTES) throw new WireError('TOO_LARGE', `The message payload is over ${MAX_PAYLOAD_BYTES} bytes.`)
  const kind = r.u8('kind')
  const id = r.fixed(PAYLOAD_ID_BYTES, 'id')
  const seq = r.u32('seq')
  let p: Payload
  switch (kind) {
    case KIND_TEXT: {
      const sentAt = r.u64('sent time')
      const text = r.string(2, MAX_TEXT_BYTES, 'text')
      if (seq === 0) throw new WireError('INVALID', 'A text message must have a sequence number of 1 or more.')
      p = { kind: 'text', id, seq, sentAt, text }
      break
    }
    case KIND_RECEIPT: {
      const t = r.u8('receipt type')
      const type: ReceiptType | undefined = t === 1 ? 'delivered' : t === 2 ? 'read' : undefined
      if (type === undefined) throw new WireError('UNKNOWN_KIND', `The receipt has an unknown type ${t}.`)
      const n = r.u16('receipt count')
      if (n > MAX_RECEIPT_IDS) throw new WireError('TOO_LARGE', `The receipt lists more than ${MAX_RECEIPT_IDS} messages.`)
      const ids: Uint8Array[] = []
      for (let i = 0; i < n; i++) ids.push(r.fixed(PAYLOAD_ID_BYTES, 'receipt id'))
      p = { kind: 'receipt', id, seq, type, ids }
      break
    }
    case KIND_CARD:
      p = { kind: 'card', id, seq, card: decodeCard(r) }
      break
    case KIND_REPLY: {
      const sentAt = r.u64('sent time')
      const text = r.string(2, MAX_TEXT_BYTES, 'text')
      const replyTo = r.fixed(PAYLOAD_ID_BYTES, 'quoted message id')
      const quote = r.string(2, MAX_QUOTE_BYTES, 'quote')
      if (seq === 0) throw new WireError('INVALID', 'A reply must have a sequence number of 1 or more.')
      p = { kind: 'reply', id, seq, sentAt, text, replyTo, quote }
      break
    }
    case KIND_EDIT: {
      const target = r.fixed(PAYLOAD_ID_BYTES, 'edited message id')
      const editedAt = r.u64('edit time')
      const text = r.string(2, MAX_TEXT_BYTES, 'text')
      if (text.length === 0) throw new WireError('INVALID', 'An edit must carry some text.')
      p = { kind: 'edit', id, seq, target, editedAt, text }
      break
    }
    case KIND_DELETE: {
      const target = r.fixed(PAYLOAD_ID_BYTES, 'deleted message id')
      const deletedAt = r.u64('delete time')
      p = { kind: 'delete', id, seq, target, deletedAt }
      break
    }
    case KIND_FILE: {
      const sentAt = r.u64('sent time')
      const text = r.string(2, MAX_TEXT_BYTES, 'text')
      const file = decodeFileDescriptor(r)
      if (seq === 0) throw new WireError('INVALID', 'A file message must have a sequence number of 1 or more.')
      p = { kind: 'file', id, seq, sentAt, text, file }
      break
    }
    case KIND_GROUP:
      p = { kind: 'group', id, seq, body: r.sized(4, MAX_PAYLOAD_BYTES, 'group body') }
      break
    case KIND_FILE_CANCEL: {
      const target = r.fixed(PAYLOAD_ID_BYTES, 'cancelled file message id')
      const code = r.u8('cancel reason')
      const reason = (Object.keys(FILE_CANCEL_REASONS) as FileCancelReason[]).find((k) => FILE_CANCEL_REASONS[k] === code) ?? 'other'
      p = { kind: 'file-cancel', id, seq, target, reason }
      break
    }
    default:
      throw new WireError('UNKNOWN_KIND', `The message payload has kind ${kind}, which this version does not know; a newer 0message1 may have sent it.`)
  }
  if (!isMessagePayload(p) && seq !== 0) throw new WireError('INVALID', 'A control message (receipt, card, edit, delete, group, file-cancel) must have sequence number 0.')
  r.end()
  return p
}
