// Group wire formats (issue 11): the group card, the signed membership change, the group bodies that
// travel inside pairwise sessions (payload kind 8) and the plaintext inside a sender-key message.
// Layout and limits: docs/protocol.md §10. Every length is bounded before it is read.
import { Reader, Writer } from './bytes.ts'
import { WireError } from './errors.ts'
import { MAILBOX_ID_BYTES, MAILBOX_KEY_BYTES } from './envelope.ts'
import { MAX_ADDRESSES, MAX_ADDRESS_BYTES, MAX_NAME_BYTES, MAX_PAYLOAD_BYTES, MAX_PEER_ID_BYTES, MAX_RELAYS, MAX_TEXT_BYTES } from './payload.ts'
import {
  BLOB_CAPABILITY_BYTES, BLOB_ID_BYTES, decodeFileDescriptor, encodeFileDescriptor, FILE_HASH_BYTES, FILE_HEADER_BYTES, FILE_KEY_BYTES, MAX_FILE_NAME_BYTES,
  MAX_FILE_TYPE_BYTES, type FileDescriptor
} from './file.ts'

export const GROUP_WIRE_VERSION = 0x01
/**
 * The signed membership change's own format version. 2: each change names its parents (the log heads its author
 * had applied), so a removed admin can no longer backdate a change before its removal (docs/protocol.md §10.3).
 * Version 1 changes (no parents) are refused.
 */
export const GROUP_CHANGE_VERSION = 0x02
/** A parent is named by the SHA-256 of its whole encoding. */
export const CHANGE_HASH_BYTES = 32
/**
 * Parents one change names: the heads of its author's log. More than a handful of heads means as many admins
 * changed the group at once; 16 covers that with room, and the next change merges whatever heads are left.
 */
export const MAX_PARENTS = 16
export const GROUP_ID_BYTES = 16
export const IDENTITY_KEY_BYTES = 33
export const SIGNATURE_BYTES = 64
/** A Kyber1024 public key is 1,569 bytes; room for a larger KEM without a format change. */
export const MAX_KYBER_KEY_BYTES = 2048
/** A card is about 1.9 KB: 16 of them keep an add change well inside one payload (48 KiB). */
export const MAX_CARDS_PER_CHANGE = 16
/** Members named by one remove change. */
export const MAX_REMOVED_PER_CHANGE = 64
/** One signed change: 16 cards of at most ~2.6 KB each, with headroom. */
export const MAX_CHANGE_BYTES = 44 * 1024
/** Changes in one `changes` body (a new member gets the whole log in as many bodies as it takes, see chunkChanges). */
export const MAX_CHANGES_PER_BODY = 64
/**
 * Bytes of one `changes` body: it travels as a group payload, whose whole encoding is at most MAX_PAYLOAD_BYTES;
 * 256 bytes leave room for the payload's own header (kind, id, seq, length) and the body's.
 */
export const MAX_CHANGES_BODY_BYTES = MAX_PAYLOAD_BYTES - 256
/** A changes body's own bytes: version, type, group id, count. */
const CHANGES_BODY_HEADER_BYTES = 1 + 1 + GROUP_ID_BYTES + 1
/** A SenderKeyDistributionMessage is about 100 bytes. */
export const MAX_SKDM_BYTES = 1024
/** The largest encoded file descriptor (issue 12): name and type (1-byte prefixes), size, hash, key, header, chunk
 * size and count, blob id, capability, and MAX_RELAYS relay addresses (count byte, 2-byte prefixes). Defined here, not
 * in file.ts, because file.ts and payload.ts import each other (a constant computed at load would see undefined). */
export const MAX_FILE_DESCRIPTOR_BYTES = (1 + MAX_FILE_NAME_BYTES) + (1 + MAX_FILE_TYPE_BYTES) + 8 + FILE_HASH_BYTES + FILE_KEY_BYTES + FILE_HEADER_BYTES +
  4 + 4 + BLOB_ID_BYTES + BLOB_CAPABILITY_BYTES + 1 + MAX_RELAYS * (2 + MAX_ADDRESS_BYTES)
/** A SenderKeyMessage holding the largest group text (32 KiB) with a file descriptor (issue 12) plus libsignal's overhead. */
export const MAX_SENDER_KEY_MESSAGE_BYTES = MAX_TEXT_BYTES + 1 + MAX_FILE_DESCRIPTOR_BYTES + 1024
/** Issue 12: the byte after a group text's text that says a file descriptor follows. */
export const GROUP_TEXT_FILE = 0x01
/** Domain separation of the change signature (XEdDSA by the author's identity key). */
export const CHANGE_SIGNATURE_CONTEXT = '0message1 group change v2\0'

/** What a member publishes to the group: enough for any other member to open a pairwise session (PQXDH) and reach it. */
export interface GroupCard {
  readonly identityKey: Uint8Array
  readonly registrationId: number
  readonly signedPreKeyId: number
  readonly signedPreKey: Uint8Array
  readonly signedPreKeySignature: Uint8Array
  /** The account's last-resort Kyber prekey (never deleted on use). */
  readonly kyberPreKeyId: number
  readonly kyberPreKey: Uint8Array
  readonly kyberPreKeySignature: Uint8Array
  /** The member's mailbox for this group: where other members deposit until they learn a per-pair one. */
  readonly mailboxId: Uint8Array
  readonly mailboxKey: Uint8Array
  readonly displayName: string
  readonly peerId?: string
  readonly relays: readonly string[]
  readonly addresses: readonly string[]
}

export type ChangeOp =
  | { readonly kind: 'create', readonly name: string, readonly card: GroupCard }
  | { readonly kind: 'add', readonly cards: readonly GroupCard[] }
  | { readonly kind: 'remove', readonly members: readonly Uint8Array[] }
  | { readonly kind: 'promote', readonly member: Uint8Array }
  | { readonly kind: 'rename', readonly name: string }
  | { readonly kind: 'leave' }

export interface ChangeBody {
  readonly groupId: Uint8Array
  /** The change's depth in the log: 1 for create; otherwise 1 + the highest version among its parents. */
  readonly version: number
  /** SHA-256 hashes of the log heads its author had applied (none for create, 1 to MAX_PARENTS otherwise), ascending. */
  readonly parents: readonly Uint8Array[]
  /** The author's identity key (33 bytes). */
  readonly author: Uint8Array
  readonly at: number
  readonly op: ChangeOp
}

export interface SignedChange extends ChangeBody {
  readonly signature: Uint8Array
  /** The whole encoding (body and signature), as received or made. */
  readonly bytes: Uint8Array
}

const OPS = { create: 1, add: 2, remove: 3, promote: 4, rename: 5, leave: 6 } as const

function writeCard (w: Writer, c: GroupCard): void {
  w.fixed(c.identityKey, IDENTITY_KEY_BYTES, 'identityKey')
  w.u16(c.registrationId)
  w.u32(c.signedPreKeyId)
  w.fixed(c.signedPreKey, IDENTITY_KEY_BYTES, 'signedPreKey')
  w.fixed(c.signedPreKeySignature, SIGNATURE_BYTES, 'signedPreKeySignature')
  w.u32(c.kyberPreKeyId)
  w.sized(2, MAX_KYBER_KEY_BYTES, c.kyberPreKey, 'kyberPreKey')
  w.fixed(c.kyberPreKeySignature, SIGNATURE_BYTES, 'kyberPreKeySignature')
  w.fixed(c.mailboxId, MAILBOX_ID_BYTES, 'mailboxId')
  w.fixed(c.mailboxKey, MAILBOX_KEY_BYTES, 'mailboxKey')
  w.string(1, MAX_NAME_BYTES, c.displayName, 'displayName')
  w.string(1, MAX_PEER_ID_BYTES, c.peerId ?? '', 'peerId')
  w.strings(MAX_RELAYS, MAX_ADDRESS_BYTES, c.relays, 'relays')
  w.strings(MAX_ADDRESSES, MAX_ADDRESS_BYTES, c.addresses, 'addresses')
}

function readCard (r: Reader): GroupCard {
  const identityKey = r.fixed(IDENTITY_KEY_BYTES, 'identity key')
  const registrationId = r.u16('registration id')
  const signedPreKeyId = r.u32('signed prekey id')
  const signedPreKey = r.fixed(IDENTITY_KEY_BYTES, 'signed prekey')
  const signedPreKeySignature = r.fixed(SIGNATURE_BYTES, 'signed prekey signature')
  const kyberPreKeyId = r.u32('kyber prekey id')
  const kyberPreKey = r.sized(2, MAX_KYBER_KEY_BYTES, 'kyber prekey')
  const kyberPreKeySignature = r.fixed(SIGNATURE_BYTES, 'kyber prekey signature')
  const mailboxId = r.fixed(MAILBOX_ID_BYTES, 'mailbox id')
  const mailboxKey = r.fixed(MAILBOX_KEY_BYTES, 'mailbox key')
  const displayName = r.string(1, MAX_NAME_BYTES, 'display name')
  const peerId = r.string(1, MAX_PEER_ID_BYTES, 'peer id')
  const relays = r.strings(MAX_RELAYS, MAX_ADDRESS_BYTES, 'relays')
  const addresses = r.strings(MAX_ADDRESSES, MAX_ADDRESS_BYTES, 'addresses')
  return {
    identityKey, registrationId, signedPreKeyId, signedPreKey, signedPreKeySignature, kyberPreKeyId, kyberPreKey, kyberPreKeySignature,
    mailboxId, mailboxKey, displayName, ...(peerId === '' ? {} : { peerId }), relays, addresses
  }
}

/** The signed part of a change: the signature covers CHANGE_SIGNATURE_CONTEXT || these bytes. */
export function encodeChangeBody (c: ChangeBody): Uint8Array {
  const w = new Writer(512)
  w.u8(GROUP_CHANGE_VERSION)
  w.fixed(c.groupId, GROUP_ID_BYTES, 'groupId')
  w.u32(c.version)
  checkParents(c.op.kind === 'create', c.parents, (m) => new RangeError(m))
  w.u8(c.parents.length)
  for (const p of c.parents) w.fixed(p, CHANGE_HASH_BYTES, 'parent')
  w.fixed(c.author, IDENTITY_KEY_BYTES, 'author')
  w.u64(c.at)
  const op = c.op
  w.u8(OPS[op.kind])
  switch (op.kind) {
    case 'create':
      w.string(1, MAX_NAME_BYTES, op.name, 'name')
      writeCard(w, op.card)
      break
    case 'add':
      if (op.cards.length === 0 || op.cards.length > MAX_CARDS_PER_CHANGE) throw new RangeError(`an add change carries 1 to ${MAX_CARDS_PER_CHANGE} cards`)
      w.u8(op.cards.length)
      for (const card of op.cards) writeCard(w, card)
      break
    case 'remove':
      if (op.members.length === 0 || op.members.length > MAX_REMOVED_PER_CHANGE) throw new RangeError(`a remove change names 1 to ${MAX_REMOVED_PER_CHANGE} members`)
      w.u8(op.members.length)
      for (const m of op.members) w.fixed(m, IDENTITY_KEY_BYTES, 'member')
      break
    case 'promote':
      w.fixed(op.member, IDENTITY_KEY_BYTES, 'member')
      break
    case 'rename':
      w.string(1, MAX_NAME_BYTES, op.name, 'name')
      break
    case 'leave':
      break
  }
  return w.finish().slice()
}

/** A create names no parent; any other change 1 to MAX_PARENTS, strictly ascending (one encoding per set). */
function checkParents (create: boolean, parents: readonly Uint8Array[], fail: (m: string) => Error): void {
  if (create ? parents.length !== 0 : parents.length === 0 || parents.length > MAX_PARENTS) {
    throw fail(create ? 'A group creation names no parent.' : `A group change names 1 to ${MAX_PARENTS} parents.`)
  }
  for (let i = 1; i < parents.length; i++) {
    if (Buffer.compare(parents[i - 1] as Uint8Array, parents[i] as Uint8Array) >= 0) throw fail('A group change names its parents once each, in ascending order.')
  }
}

export function signedChangeBytes (body: Uint8Array, signature: Uint8Array): Uint8Array {
  if (signature.length !== SIGNATURE_BYTES) throw new RangeError('a change signature is 64 bytes')
  const out = new Uint8Array(body.length + SIGNATURE_BYTES)
  out.set(body)
  out.set(signature, body.length)
  if (out.length > MAX_CHANGE_BYTES) throw new RangeError(`a group change is at most ${MAX_CHANGE_BYTES} bytes`)
  return out
}

/** Decodes a signed change (the signature is checked by the caller, src/e2ee/groups/membership.ts). */
export function decodeChange (bytes: Uint8Array): SignedChange & { readonly body: Uint8Array } {
  if (bytes.length > MAX_CHANGE_BYTES) throw new WireError('TOO_LARGE', `The group change is over ${MAX_CHANGE_BYTES} bytes.`)
  if (bytes.length < SIGNATURE_BYTES + 1) throw new WireError('TRUNCATED', 'The group change is too short.')
  const body = bytes.subarray(0, bytes.length - SIGNATURE_BYTES)
  const r = new Reader(body, 'group change')
  const v = r.u8('version')
  if (v !== GROUP_CHANGE_VERSION) throw new WireError('VERSION', `The group change has version ${v}; this program reads version ${GROUP_CHANGE_VERSION}.`)
  const groupId = r.fixed(GROUP_ID_BYTES, 'group id')
  const version = r.u32('change version')
  if (version === 0) throw new WireError('INVALID', 'A group change has a version of 1 or more.')
  const np = r.u8('parent count')
  if (np > MAX_PARENTS) throw new WireError('TOO_LARGE', `A group change names at most ${MAX_PARENTS} parents.`)
  const parents: Uint8Array[] = []
  for (let i = 0; i < np; i++) parents.push(r.fixed(CHANGE_HASH_BYTES, 'parent'))
  const author = r.fixed(IDENTITY_KEY_BYTES, 'author')
  const at = r.u64('time')
  const kind = r.u8('operation')
  let op: ChangeOp
  switch (kind) {
    case OPS.create: op = { kind: 'create', name: r.string(1, MAX_NAME_BYTES, 'name'), card: readCard(r) }; break
    case OPS.add: {
      const n = r.u8('card count')
      if (n === 0 || n > MAX_CARDS_PER_CHANGE) throw new WireError('TOO_LARGE', `An add change carries 1 to ${MAX_CARDS_PER_CHANGE} cards.`)
      const cards: GroupCard[] = []
      for (let i = 0; i < n; i++) cards.push(readCard(r))
      op = { kind: 'add', cards }
      break
    }
    case OPS.remove: {
      const n = r.u8('member count')
      if (n === 0 || n > MAX_REMOVED_PER_CHANGE) throw new WireError('TOO_LARGE', `A remove change names 1 to ${MAX_REMOVED_PER_CHANGE} members.`)
      const members: Uint8Array[] = []
      for (let i = 0; i < n; i++) members.push(r.fixed(IDENTITY_KEY_BYTES, 'member'))
      op = { kind: 'remove', members }
      break
    }
    case OPS.promote: op = { kind: 'promote', member: r.fixed(IDENTITY_KEY_BYTES, 'member') }; break
    case OPS.rename: op = { kind: 'rename', name: r.string(1, MAX_NAME_BYTES, 'name') }; break
    case OPS.leave: op = { kind: 'leave' }; break
    default: throw new WireError('UNKNOWN_KIND', `The group change has operation ${kind}, which this version does not know.`)
  }
  r.end()
  checkParents(op.kind === 'create', parents, (m) => new WireError('INVALID', m))
  if ((op.kind === 'create') !== (version === 1)) throw new WireError('INVALID', 'A group creation, and only it, has version 1.')
  return { groupId, version, parents, author, at, op, signature: bytes.slice(bytes.length - SIGNATURE_BYTES), bytes: bytes.slice(), body: body.slice() }
}

// ---- group bodies (payload kind 8, inside a pairwise session) ----

export type GroupBody =
  /** An admin asks a contact for its card for a group (the contact answers with card-reply). */
  | { readonly type: 'card-request', readonly groupId: Uint8Array, readonly name: string }
  | { readonly type: 'card-reply', readonly groupId: Uint8Array, readonly card: GroupCard }
  /** Signed changes, in version order (the whole log for a new member). */
  | { readonly type: 'changes', readonly groupId: Uint8Array, readonly changes: readonly Uint8Array[] }
  /** The sender's SenderKeyDistributionMessage, with the first sender-key message under it (so it never arrives first). */
  | { readonly type: 'keyed', readonly groupId: Uint8Array, readonly skdm: Uint8Array, readonly message: Uint8Array }

/**
 * Splits a list of changes (in the order given) into runs that each fit one `changes` body: at most
 * MAX_CHANGES_PER_BODY changes and MAX_CHANGES_BODY_BYTES bytes. A log longer than one body (a group with many
 * changes, or several adds of 16 cards) goes to a new member as several bodies, in order.
 */
export function chunkChanges (changes: readonly Uint8Array[]): Uint8Array[][] {
  const out: Uint8Array[][] = []
  let run: Uint8Array[] = []
  let size = CHANGES_BODY_HEADER_BYTES
  for (const c of changes) {
    if (c.length > MAX_CHANGE_BYTES) throw new RangeError(`a group change is at most ${MAX_CHANGE_BYTES} bytes`)
    if (run.length === MAX_CHANGES_PER_BODY || size + 2 + c.length > MAX_CHANGES_BODY_BYTES) {
      out.push(run)
      run = []
      size = CHANGES_BODY_HEADER_BYTES
    }
    run.push(c)
    size += 2 + c.length
  }
  if (run.length > 0) out.push(run)
  return out
}

const BODY_TYPES = { 'card-request': 1, 'card-reply': 2, changes: 3, keyed: 4 } as const

export function encodeGroupBody (b: GroupBody): Uint8Array {
  const w = new Writer(256)
  w.u8(GROUP_WIRE_VERSION)
  w.u8(BODY_TYPES[b.type])
  w.fixed(b.groupId, GROUP_ID_BYTES, 'groupId')
  switch (b.type) {
    case 'card-request': w.string(1, MAX_NAME_BYTES, b.name, 'name'); break
    case 'card-reply': writeCard(w, b.card); break
    case 'changes':
      if (b.changes.length === 0 || b.changes.length > MAX_CHANGES_PER_BODY) throw new RangeError(`a changes body holds 1 to ${MAX_CHANGES_PER_BODY} changes`)
      w.u8(b.changes.length)
      for (const c of b.changes) w.sized(2, MAX_CHANGE_BYTES, c, 'change')
      if (w.length > MAX_CHANGES_BODY_BYTES) throw new RangeError(`a changes body is at most ${MAX_CHANGES_BODY_BYTES} bytes (split it with chunkChanges)`)
      break
    case 'keyed':
      w.sized(2, MAX_SKDM_BYTES, b.skdm, 'skdm')
      w.sized(2, MAX_SENDER_KEY_MESSAGE_BYTES, b.message, 'message')
      break
  }
  return w.finish().slice()
}

export function decodeGroupBody (bytes: Uint8Array): GroupBody {
  const r = new Reader(bytes, 'group message')
  const v = r.u8('version')
  if (v !== GROUP_WIRE_VERSION) throw new WireError('VERSION', `The group message has version ${v}; this program reads version ${GROUP_WIRE_VERSION}.`)
  const type = r.u8('type')
  const groupId = r.fixed(GROUP_ID_BYTES, 'group id')
  let b: GroupBody
  switch (type) {
    case 1: b = { type: 'card-request', groupId, name: r.string(1, MAX_NAME_BYTES, 'name') }; break
    case 2: b = { type: 'card-reply', groupId, card: readCard(r) }; break
    case 3: {
      const n = r.u8('change count')
      if (n === 0 || n > MAX_CHANGES_PER_BODY) throw new WireError('TOO_LARGE', `A changes message holds 1 to ${MAX_CHANGES_PER_BODY} changes.`)
      const changes: Uint8Array[] = []
      for (let i = 0; i < n; i++) changes.push(r.sized(2, MAX_CHANGE_BYTES, 'change'))
      if (bytes.length > MAX_CHANGES_BODY_BYTES) throw new WireError('TOO_LARGE', `A changes message is over ${MAX_CHANGES_BODY_BYTES} bytes.`)
      b = { type: 'changes', groupId, changes }
      break
    }
    case 4: b = { type: 'keyed', groupId, skdm: r.sized(2, MAX_SKDM_BYTES, 'skdm'), message: r.sized(2, MAX_SENDER_KEY_MESSAGE_BYTES, 'message') }; break
    default: throw new WireError('UNKNOWN_KIND', `The group message has type ${type}, which this version does not know.`)
  }
  r.end()
  return b
}

// ---- the plaintext inside a sender-key message ----

export interface GroupText {
  readonly groupId: Uint8Array
  readonly id: Uint8Array
  /** The sender's per-group sequence number 1, 2, 3... */
  readonly seq: number
  readonly sentAt: number
  readonly text: string
  /** Issue 12: a file announced to the group (every member gets the same descriptor: one key, one blob). */
  readonly file?: FileDescriptor
}

export function encodeGroupText (t: GroupText): Uint8Array {
  const w = new Writer(64 + t.text.length + (t.file === undefined ? 0 : MAX_FILE_DESCRIPTOR_BYTES))
  w.u8(GROUP_WIRE_VERSION)
  w.fixed(t.groupId, GROUP_ID_BYTES, 'groupId')
  w.fixed(t.id, 16, 'id')
  w.u32(t.seq)
  w.u64(t.sentAt)
  w.string(2, MAX_TEXT_BYTES, t.text, 'text')
  // A text without a file ends here, exactly as before files: older texts and their vectors are unchanged.
  if (t.file !== undefined) { w.u8(GROUP_TEXT_FILE); encodeFileDescriptor(w, t.file) }
  return w.finish().slice()
}

export function decodeGroupText (bytes: Uint8Array): GroupText {
  const r = new Reader(bytes, 'group text')
  const v = r.u8('version')
  if (v !== GROUP_WIRE_VERSION) throw new WireError('VERSION', `The group text has version ${v}; this program reads version ${GROUP_WIRE_VERSION}.`)
  const groupId = r.fixed(GROUP_ID_BYTES, 'group id')
  const id = r.fixed(16, 'id')
  const seq = r.u32('seq')
  if (seq === 0) throw new WireError('INVALID', 'A group text has a sequence number of 1 or more.')
  const sentAt = r.u64('sent time')
  const text = r.string(2, MAX_TEXT_BYTES, 'text')
  let file: FileDescriptor | undefined
  if (r.remaining > 0) {
    const marker = r.u8('attachment')
    if (marker !== GROUP_TEXT_FILE) throw new WireError('UNKNOWN_KIND', `The group text has attachment kind ${marker}, which this version does not know.`)
    file = decodeFileDescriptor(r)
  }
  r.end()
  return { groupId, id, seq, sentAt, text, ...(file === undefined ? {} : { file }) }
}

/** Envelope innerType 0x03 body: the sender's identity key, then the SenderKeyMessage. */
export function encodeGroupInner (sender: Uint8Array, message: Uint8Array): Uint8Array {
  const w = new Writer(IDENTITY_KEY_BYTES + 2 + message.length)
  w.fixed(sender, IDENTITY_KEY_BYTES, 'sender')
  w.sized(2, MAX_SENDER_KEY_MESSAGE_BYTES, message, 'message')
  return w.finish().slice()
}

export function decodeGroupInner (bytes: Uint8Array): { sender: Uint8Array, message: Uint8Array } {
  const r = new Reader(bytes, 'group envelope')
  const sender = r.fixed(IDENTITY_KEY_BYTES, 'sender')
  const message = r.sized(2, MAX_SENDER_KEY_MESSAGE_BYTES, 'message')
  r.end()
  return { sender, message }
}
