// A message with every field at its limit still fits its whole-message limit: the limits are one
// set of definitions, so what each field accepts the message as a whole accepts too.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { IdentityKeyPair } from '@signalapp/libsignal-client'
import {
  EC_PUBLIC_KEY_BYTES, MAX_INVITE_BYTES, MAX_INVITE_LINK_CHARS, MAX_KEM_PUBLIC_KEY_BYTES, SIGNATURE_BYTES,
  decodeInvite, inviteToLink, linkToInvite, signInvite, type InviteRecord
} from '../../src/wire/invite.ts'
import { MAX_ADDRESSES, MAX_ADDRESS_BYTES, MAX_NAME_BYTES, MAX_PEER_ID_BYTES, MAX_RELAYS, MAX_PAYLOAD_BYTES, encodePayload, type Payload } from '../../src/wire/payload.ts'
import { MAX_QR_INVITE_CHARS, inviteQrText } from '../../src/api/invite-text.ts'

const bytes = (n: number): Uint8Array => new Uint8Array(randomBytes(n))
const longest = (n: number, c: string): string => c.repeat(n)

test('an invite with every field at its maximum encodes, signs, decodes, and its QR form fits the API', () => {
  const identity = IdentityKeyPair.generate()
  const record: InviteRecord = {
    identityKey: identity.publicKey.serialize(),
    registrationId: 16380,
    signedPreKeyId: 0xffffffff,
    signedPreKey: bytes(EC_PUBLIC_KEY_BYTES),
    signedPreKeySignature: bytes(SIGNATURE_BYTES),
    preKeyId: 0xffffffff,
    preKey: bytes(EC_PUBLIC_KEY_BYTES),
    kyberPreKeyId: 0xffffffff,
    kyberPreKey: bytes(MAX_KEM_PUBLIC_KEY_BYTES),
    kyberPreKeySignature: bytes(SIGNATURE_BYTES),
    mailboxId: bytes(32),
    mailboxKey: bytes(32),
    createdAt: Date.now(),
    expiresAt: Date.now() + 1000,
    displayName: longest(MAX_NAME_BYTES, 'n'),
    peerId: longest(MAX_PEER_ID_BYTES, 'p'),
    relays: Array.from({ length: MAX_RELAYS }, () => longest(MAX_ADDRESS_BYTES, 'r')),
    addresses: Array.from({ length: MAX_ADDRESSES }, () => longest(MAX_ADDRESS_BYTES, 'a'))
  }
  const invite = signInvite(record, identity.privateKey)
  assert.equal(invite.length, MAX_INVITE_BYTES)
  const link = inviteToLink(invite)
  assert.ok(link.length <= MAX_INVITE_LINK_CHARS)
  assert.ok(inviteQrText(link).length <= MAX_QR_INVITE_CHARS)
  const decoded = decodeInvite(linkToInvite(link))
  // (Random prekey bytes are no keys, so verifyInvite would refuse it; the layout is what is tested.)
  assert.deepEqual(decoded.signature, invite.subarray(-SIGNATURE_BYTES))
  assert.deepEqual(decoded.record.relays, record.relays)
  assert.deepEqual(decoded.record.addresses, record.addresses)
})

test('a contact card with every field at its maximum fits a payload', () => {
  const card: Payload = {
    kind: 'card',
    id: bytes(16),
    seq: 0,
    card: {
      displayName: longest(MAX_NAME_BYTES, 'n'),
      mailboxId: bytes(32),
      mailboxKey: bytes(32),
      presenceSecret: bytes(32),
      presenceKey: bytes(32),
      peerId: longest(MAX_PEER_ID_BYTES, 'p'),
      relays: Array.from({ length: MAX_RELAYS }, () => longest(MAX_ADDRESS_BYTES, 'r')),
      addresses: Array.from({ length: MAX_ADDRESSES }, () => longest(MAX_ADDRESS_BYTES, 'a')),
      senderCertificate: bytes(1024)
    }
  }
  assert.ok(encodePayload(card).length <= MAX_PAYLOAD_BYTES)
})
