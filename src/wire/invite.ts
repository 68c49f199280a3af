// The invite: one line of text, `0m1:` + base64url of a versioned binary record signed by the
// inviter's identity key. It carries everything needed to start a PQXDH session and reach the
// inviter. Layout and limits: docs/protocol.md "Invite". Signature checks use libsignal keys.
import { PublicKey, KEMPublicKey, type PrivateKey } from '@signalapp/libsignal-client'
import { Reader, Writer } from './bytes.ts'
import { WireError } from './errors.ts'
import { MAILBOX_ID_BYTES, MAILBOX_KEY_BYTES } from './envelope.ts'
import { MAX_ADDRESSES, MAX_ADDRESS_BYTES, MAX_NAME_BYTES, MAX_PEER_ID_BYTES, MAX_RELAYS } from './payload.ts'

export const INVITE_PREFIX = '0m1:'
/** v2 (issue 9): no presence secret; the inviter's presence secret and key travel only inside its first card. */
export const INVITE_VERSION = 0x02
/** libsignal serialized Curve25519 public key: type byte 0x05 + 32 bytes. */
export const EC_PUBLIC_KEY_BYTES = 33
/** libsignal XEdDSA signature. */
export const SIGNATURE_BYTES = 64
/** libsignal serialized Kyber1024 public key is 1569 bytes; the bound leaves room for ML-KEM sizes. */
export const MAX_KEM_PUBLIC_KEY_BYTES = 2048
/** Whole invite limit: the sum of its fields' maxima (8,888 bytes), so an invite made within every
 * field limit always encodes; real invites are about 2 KiB. A link longer than this is refused
 * before decoding, so a pasted megabyte costs nothing. Keep in step with encodeRecord. */
export const MAX_INVITE_BYTES =
  1 + 3 * EC_PUBLIC_KEY_BYTES + 2 + 3 * 4 + // version, keys, registration id, prekey ids
  2 + MAX_KEM_PUBLIC_KEY_BYTES + 2 * SIGNATURE_BYTES + // Kyber prekey, prekey signatures
  MAILBOX_ID_BYTES + MAILBOX_KEY_BYTES + 2 * 8 + // mailbox, times
  (1 + MAX_NAME_BYTES) + (1 + MAX_PEER_ID_BYTES) +
  (1 + MAX_RELAYS * (2 + MAX_ADDRESS_BYTES)) + (1 + MAX_ADDRESSES * (2 + MAX_ADDRESS_BYTES)) +
  SIGNATURE_BYTES
export const MAX_INVITE_LINK_CHARS = INVITE_PREFIX.length + Math.ceil(MAX_INVITE_BYTES / 3) * 4
/** Signature domain separation: an invite signature can never be confused with another signature
 * made by the identity key (libsignal signs prekeys and certificates with it too). */
const SIGNATURE_CONTEXT = new TextEncoder().encode('0message1 invite v2\0')

export interface InviteRecord {
  readonly identityKey: Uint8Array // 33
  readonly registrationId: number // u16 (libsignal uses 14 bits)
  readonly signedPreKeyId: number
  readonly signedPreKey: Uint8Array // 33
  readonly signedPreKeySignature: Uint8Array // 64
  readonly preKeyId: number
  readonly preKey: Uint8Array // 33
  readonly kyberPreKeyId: number
  readonly kyberPreKey: Uint8Array // ~1569
  readonly kyberPreKeySignature: Uint8Array // 64
  readonly mailboxId: Uint8Array // 32
  readonly mailboxKey: Uint8Array // 32
  readonly createdAt: number // ms
  readonly expiresAt: number // ms
  readonly displayName: string
  readonly peerId?: string
  readonly relays: readonly string[]
  readonly addresses: readonly string[]
}

export interface SignedInvite {
  readonly record: InviteRecord
  /** The signed bytes (everything before the signature). */
  readonly signed: Uint8Array
  readonly signature: Uint8Array
}

function encodeRecord (r: InviteRecord): Uint8Array {
  const w = new Writer(2400)
  w.u8(INVITE_VERSION)
  w.fixed(r.identityKey, EC_PUBLIC_KEY_BYTES, 'identityKey')
  w.u16(r.registrationId)
  w.u32(r.signedPreKeyId)
  w.fixed(r.signedPreKey, EC_PUBLIC_KEY_BYTES, 'signedPreKey')
  w.fixed(r.signedPreKeySignature, SIGNATURE_BYTES, 'signedPreKeySignature')
  w.u32(r.preKeyId)
  w.fixed(r.preKey, EC_PUBLIC_KEY_BYTES, 'preKey')
  w.u32(r.kyberPreKeyId)
  w.sized(2, MAX_KEM_PUBLIC_KEY_BYTES, r.kyberPreKey, 'kyberPreKey')
  w.fixed(r.kyberPreKeySignature, SIGNATURE_BYTES, 'kyberPreKeySignature')
  w.fixed(r.mailboxId, MAILBOX_ID_BYTES, 'mailboxId')
  w.fixed(r.mailboxKey, MAILBOX_KEY_BYTES, 'mailboxKey')
  w.u64(r.createdAt)
  w.u64(r.expiresAt)
  w.string(1, MAX_NAME_BYTES, r.displayName, 'displayName')
  w.string(1, MAX_PEER_ID_BYTES, r.peerId ?? '', 'peerId')
  w.strings(MAX_RELAYS, MAX_ADDRESS_BYTES, r.relays, 'relays')
  w.strings(MAX_ADDRESSES, MAX_ADDRESS_BYTES, r.addresses, 'addresses')
  return w.finish().slice()
}

function signedMessage (body: Uint8Array): Uint8Array<ArrayBuffer> {
  const m = new Uint8Array(SIGNATURE_CONTEXT.length + body.length)
  m.set(SIGNATURE_CONTEXT)
  m.set(body, SIGNATURE_CONTEXT.length)
  return m
}

/** Encodes and signs an invite record; returns the binary invite (record || signature). */
export function signInvite (record: InviteRecord, identityPrivateKey: PrivateKey): Uint8Array {
  const body = encodeRecord(record)
  const signature = identityPrivateKey.sign(signedMessage(body))
  const out = new Uint8Array(body.length + SIGNATURE_BYTES)
  out.set(body)
  out.set(signature, body.length)
  if (out.length > MAX_INVITE_BYTES) throw new RangeError(`invite over ${MAX_INVITE_BYTES} bytes`)
  return out
}

/** Re-encodes a decoded invite with its original signature (for byte-equal round trips). */
export function encodeSignedInvite (invite: SignedInvite): Uint8Array {
  const body = encodeRecord(invite.record)
  const out = new Uint8Array(body.length + SIGNATURE_BYTES)
  out.set(body)
  out.set(invite.signature, body.length)
  return out
}

/** Versions this far above ours are taken for newer invites; any other byte means the text is not an
 * invite at all (a typo, a cut, another program's code), and saying "update" would mislead. */
const PLAUSIBLE_NEWER_VERSIONS = 8

function versionError (version: number): WireError {
  if (version > INVITE_VERSION && version <= INVITE_VERSION + PLAUSIBLE_NEWER_VERSIONS) {
    return new WireError('VERSION', 'This invite was made by a newer version of 0message1; update 0message1 to accept it.')
  }
  if (version >= 1 && version < INVITE_VERSION) return new WireError('VERSION', 'This invite was made by an older version of 0message1; ask for a new invite.')
  return new WireError('INVALID', 'This is not a 0message1 invite, or it was damaged when copied; copy it again in full.')
}

/** Parses the binary invite. Checks the version first and bounds every length; does NOT verify. */
export function decodeInvite (bytes: Uint8Array): SignedInvite {
  const r = new Reader(bytes, 'invite')
  const version = r.u8('version')
  if (version !== INVITE_VERSION) throw versionError(version)
  if (bytes.length > MAX_INVITE_BYTES) throw new WireError('TOO_LARGE', `This invite is ${bytes.length} bytes, over the ${MAX_INVITE_BYTES}-byte limit.`)
  const identityKey = r.fixed(EC_PUBLIC_KEY_BYTES, 'identity key')
  const registrationId = r.u16('registration id')
  const signedPreKeyId = r.u32('signed prekey id')
  const signedPreKey = r.fixed(EC_PUBLIC_KEY_BYTES, 'signed prekey')
  const signedPreKeySignature = r.fixed(SIGNATURE_BYTES, 'signed prekey signature')
  const preKeyId = r.u32('one-time prekey id')
  const preKey = r.fixed(EC_PUBLIC_KEY_BYTES, 'one-time prekey')
  const kyberPreKeyId = r.u32('Kyber prekey id')
  const kyberPreKey = r.sized(2, MAX_KEM_PUBLIC_KEY_BYTES, 'Kyber prekey')
  const kyberPreKeySignature = r.fixed(SIGNATURE_BYTES, 'Kyber prekey signature')
  const mailboxId = r.fixed(MAILBOX_ID_BYTES, 'mailbox id')
  const mailboxKey = r.fixed(MAILBOX_KEY_BYTES, 'mailbox key')
  const createdAt = r.u64('creation time')
  const expiresAt = r.u64('expiry time')
  const displayName = r.string(1, MAX_NAME_BYTES, 'display name')
  const peerId = r.string(1, MAX_PEER_ID_BYTES, 'peer id')
  const relays = r.strings(MAX_RELAYS, MAX_ADDRESS_BYTES, 'relays')
  const addresses = r.strings(MAX_ADDRESSES, MAX_ADDRESS_BYTES, 'addresses')
  const signedLength = r.position
  const signature = r.fixed(SIGNATURE_BYTES, 'signature')
  r.end()
  if (expiresAt <= createdAt) throw new WireError('INVALID', 'This invite expires before it was made.')
  return {
    record: {
      identityKey, registrationId, signedPreKeyId, signedPreKey, signedPreKeySignature, preKeyId, preKey,
      kyberPreKeyId, kyberPreKey, kyberPreKeySignature, mailboxId, mailboxKey, createdAt, expiresAt,
      displayName, ...(peerId === '' ? {} : { peerId }), relays, addresses
    },
    signed: bytes.slice(0, signedLength),
    signature
  }
}

/** Verifies the invite signature with the identity key it carries; also checks the keys parse. */
export function verifyInvite (invite: SignedInvite): boolean {
  let key: PublicKey
  try {
    key = PublicKey.deserialize(invite.record.identityKey as Uint8Array<ArrayBuffer>)
    PublicKey.deserialize(invite.record.signedPreKey as Uint8Array<ArrayBuffer>)
    PublicKey.deserialize(invite.record.preKey as Uint8Array<ArrayBuffer>)
    KEMPublicKey.deserialize(invite.record.kyberPreKey as Uint8Array<ArrayBuffer>)
  } catch {
    return false
  }
  return key.verify(signedMessage(invite.signed), invite.signature as Uint8Array<ArrayBuffer>)
}

export function inviteToLink (bytes: Uint8Array): string {
  return INVITE_PREFIX + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url')
}

const BASE64URL = /^[A-Za-z0-9_-]*$/

/** Link text to binary. Whitespace around (and line breaks inside, from copy/paste) is ignored. */
export function linkToInvite (link: string): Uint8Array {
  if (typeof link !== 'string') throw new TypeError('link must be a string')
  const text = link.replace(/\s+/g, '')
  if (text.length > MAX_INVITE_LINK_CHARS) throw new WireError('TOO_LARGE', `This invite is ${text.length} characters long, over the ${MAX_INVITE_LINK_CHARS}-character limit.`)
  if (!text.startsWith(INVITE_PREFIX)) throw new WireError('INVALID', `This is not a 0message1 invite: it must start with "${INVITE_PREFIX}".`)
  const b64 = text.slice(INVITE_PREFIX.length)
  if (!BASE64URL.test(b64) || b64.length % 4 === 1) throw new WireError('INVALID', 'This invite has characters that do not belong in an invite; copy it again in full.')
  return new Uint8Array(Buffer.from(b64, 'base64url'))
}
