// Writes the golden vectors in test/vectors/. Envelope and payload vectors are fully deterministic
// (fixed keys, nonces and ids) and are rewritten identically every run. The invite vector holds
// XEdDSA signatures and a Kyber key, which libsignal makes with its own randomness: it is kept
// once made, unless --force is given. Run: node --import tsx test/vectors/generate.ts [--force]
import { existsSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { IdentityKeyPair, KEMKeyPair, PrivateKey } from '@signalapp/libsignal-client'
import { INNER_SEALED, INNER_SIGNAL, sealEnvelope, type InnerType } from '../../src/wire/envelope.ts'
import { encodePayload, type Payload } from '../../src/wire/payload.ts'
import { signInvite, type InviteRecord } from '../../src/wire/invite.ts'
import { createPrivateKey, createPublicKey } from 'node:crypto'
import { presenceKey, sealPresence } from '../../src/e2ee/presence.ts'
import { encodeDeliverFrame, type DeliverFrame } from '../../src/wire/deliver.ts'
import { lengthPrefixed } from '../../src/net/frame-reader.ts'
import { encodeBlobClientFrame, encodeBlobServerFrame, type BlobClientFrame, type BlobServerFrame } from '../../src/wire/blob.ts'
import { FILE_CIPHER_CHUNK_BYTES } from '../../src/wire/file.ts'
import { encodeGroupText, type GroupText } from '../../src/wire/group.ts'

const dir = new URL('.', import.meta.url)
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
/** Deterministic test bytes: SHA-256 chain from a label. */
function bytes (label: string, n: number): Uint8Array {
  const out = new Uint8Array(n)
  let block = createHash('sha256').update(label).digest()
  for (let i = 0; i < n; i += 32) {
    out.set(block.subarray(0, Math.min(32, n - i)), i)
    block = createHash('sha256').update(block).digest()
  }
  return out
}

const envelopeCases = ([
  { name: 'plain SignalMessage, 1 KiB bucket', innerType: INNER_SIGNAL, body: bytes('body-1', 105) },
  { name: 'sealed sender, 4 KiB bucket', innerType: INNER_SEALED, body: bytes('body-2', 2256) },
  { name: 'empty body', innerType: INNER_SIGNAL, body: new Uint8Array(0) },
  { name: 'largest body of the 1 KiB bucket', innerType: INNER_SIGNAL, body: bytes('body-3', 1024 - 57 - 16 - 5) }
] as Array<{ name: string, innerType: InnerType, body: Uint8Array }>).map((c, i) => {
  const mailboxId = bytes(`mailbox-id-${i}`, 32)
  const mailboxKey = bytes(`mailbox-key-${i}`, 32)
  const nonce = bytes(`nonce-${i}`, 24)
  return {
    name: c.name,
    mailboxId: hex(mailboxId),
    mailboxKey: hex(mailboxKey),
    nonce: hex(nonce),
    innerType: c.innerType,
    body: hex(c.body),
    envelope: hex(sealEnvelope({ mailboxId, mailboxKey, innerType: c.innerType, body: c.body, nonce }))
  }
})
writeFileSync(new URL('envelope.json', dir), JSON.stringify({
  description: 'Envelope v1: version(1)=0x01 | mailboxId(32) | nonce(24) | XChaCha20-Poly1305(mailboxKey, ad = first 33 bytes, innerType(1) | len(4, BE) | body | zeros). See docs/protocol.md.',
  cases: envelopeCases
}, null, 2) + '\n')

const payloads: Array<{ name: string, payload: Payload }> = [
  { name: 'text', payload: { kind: 'text', id: bytes('id-1', 16), seq: 1, sentAt: 1_700_000_000_123, text: 'Hello, Bob! 👋 ünïcödé' } },
  { name: 'empty text, large seq', payload: { kind: 'text', id: bytes('id-2', 16), seq: 4_294_967_295, sentAt: 0, text: '' } },
  { name: 'delivered receipt', payload: { kind: 'receipt', id: bytes('id-3', 16), seq: 0, type: 'delivered', ids: [bytes('id-1', 16), bytes('id-2', 16)] } },
  { name: 'read receipt, no ids', payload: { kind: 'receipt', id: bytes('id-4', 16), seq: 0, type: 'read', ids: [] } },
  {
    name: 'contact card',
    payload: {
      kind: 'card',
      id: bytes('id-5', 16),
      seq: 0,
      card: {
        displayName: 'Bob',
        mailboxId: bytes('card-mailbox-id', 32),
        mailboxKey: bytes('card-mailbox-key', 32),
        presenceSecret: bytes('card-presence', 32),
        presenceKey: bytes('card-presence-key', 32),
        peerId: '12D3KooWExamplePeerId',
        relays: ['/dns4/relay.example/tcp/4001/p2p/12D3KooWRelay'],
        addresses: ['/ip4/192.0.2.1/tcp/4001', '/ip6/2001:db8::1/tcp/4001'],
        senderCertificate: bytes('cert', 260)
      }
    }
  },
  {
    name: 'contact card, no peer id or addresses',
    payload: {
      kind: 'card',
      id: bytes('id-6', 16),
      seq: 0,
      card: { displayName: '', mailboxId: bytes('m', 32), mailboxKey: bytes('k', 32), presenceSecret: bytes('p', 32), presenceKey: bytes('q', 32), relays: [], addresses: [], senderCertificate: new Uint8Array(0) }
    }
  },
  { name: 'reply', payload: { kind: 'reply', id: bytes('id-7', 16), seq: 2, sentAt: 1_700_000_000_456, text: 'Yes, see you there', replyTo: bytes('id-1', 16), quote: 'Hello, Bob! 👋' } },
  { name: 'edit', payload: { kind: 'edit', id: bytes('id-8', 16), seq: 0, target: bytes('id-1', 16), editedAt: 1_700_000_000_789, text: 'Hello, Bob!' } },
  { name: 'delete for everyone', payload: { kind: 'delete', id: bytes('id-9', 16), seq: 0, target: bytes('id-1', 16), deletedAt: 1_700_000_001_000 } }
]
payloads.push({
  name: 'file announcement (issue 12)',
  payload: {
    kind: 'file',
    id: bytes('id-7', 16),
    seq: 7,
    sentAt: 1_700_000_000_456,
    text: 'the photo',
    file: {
      name: 'photo.png',
      type: 'image/png',
      size: 200_000,
      sha256: bytes('file-sha', 32),
      key: bytes('file-key', 32),
      header: bytes('file-header', 24),
      chunks: 4,
      blobId: bytes('blob-id', 16),
      capability: bytes('blob-cap', 32),
      relays: ['/dns4/relay.example/tcp/4001/p2p/12D3KooWRelay', '/dns4/relay2.example/tcp/4001/p2p/12D3KooWRelay2']
    }
  }
})
payloads.push({ name: 'file cancelled by its sender (issue 12)', payload: { kind: 'file-cancel', id: bytes('id-10', 16), seq: 0, target: bytes('id-7', 16), reason: 'changed' } })
const jsonPayload = (p: Payload): unknown => JSON.parse(JSON.stringify(p, (_k, v: unknown) => v instanceof Uint8Array ? hex(v) : v))
writeFileSync(new URL('payload.json', dir), JSON.stringify({
  description: 'Payload v2 (the plaintext inside libsignal). Byte fields are hex in "payload". See docs/protocol.md.',
  cases: payloads.map((c) => ({ name: c.name, payload: jsonPayload(c.payload), bytes: hex(encodePayload(c.payload)) }))
}, null, 2) + '\n')

// Presence record v2: Ed25519 is deterministic, so with a fixed seed, secret, day and nonce the record is too.
const seed = bytes('presence-signing-seed', 32)
const pkcs8 = new Uint8Array(Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]))
const presencePublic = new Uint8Array(createPublicKey(createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' })).export({ type: 'spki', format: 'der' }).subarray(-32))
const presenceSecret = bytes('presence-secret', 32)
const presenceRecord = { peerId: '12D3KooWExampleAlice', addresses: ['/ip4/192.0.2.7/tcp/4001', '/ip4/127.0.0.1/tcp/4001'], updatedAt: 1_700_000_000_000 }
const presenceDayNumber = Math.floor(presenceRecord.updatedAt / 86_400_000)
const presenceNonce = bytes('presence-nonce', 24)
writeFileSync(new URL('presence.json', dir), JSON.stringify({
  description: 'Presence record v2 (docs/protocol.md §8): nonce(24) || XChaCha20-Poly1305(HKDF(secret, "enc" || u32(day)), version(1)=0x02 | peerId str8 | addresses list8 | updatedAt u64 | Ed25519 signature over "0m1 presence v2\\0" || rendezvous key || the body). signingKey is PKCS#8 DER, publicKey raw.',
  secret: hex(presenceSecret),
  day: presenceDayNumber,
  rendezvousKey: hex(presenceKey(presenceSecret, presenceDayNumber)),
  signingKey: hex(pkcs8),
  publicKey: hex(presencePublic),
  nonce: hex(presenceNonce),
  record: presenceRecord,
  sealed: hex(sealPresence(presenceSecret, presenceDayNumber, presenceRecord, pkcs8, { nonce: presenceNonce }))
}, null, 2) + '\n')

// Deliver v2 frames: fixed ids and envelope bytes; "stream" is the frame as it travels (varint length prefix).
const deliverCases: Array<{ name: string, frame: DeliverFrame }> = [
  { name: 'envelope, id 1', frame: { type: 'deliver', id: 1, envelope: bytes('deliver-env-1', 105) } },
  { name: 'envelope, largest id, 1 KiB', frame: { type: 'deliver', id: 0xffffffff, envelope: bytes('deliver-env-2', 1024) } },
  { name: 'one ack, accepted', frame: { type: 'acks', acks: [{ id: 1, status: 'accepted' }] } },
  { name: 'four acks, every status', frame: { type: 'acks', acks: [{ id: 5, status: 'accepted' }, { id: 3, status: 'rejected' }, { id: 0x01020304, status: 'too-large' }, { id: 4, status: 'bad-frame' }] } },
  { name: 'stream refused (id 0)', frame: { type: 'acks', acks: [{ id: 0, status: 'too-large' }] } },
  // 2.1.0 only: the ack that is the delivered receipt, beside a plain accept (a card, a receipt) in one frame.
  { name: 'delivered acks (2.1.0)', frame: { type: 'acks', acks: [{ id: 6, status: 'delivered' }, { id: 7, status: 'accepted' }, { id: 0xfffffffe, status: 'delivered' }] } }
]
const jsonFrame = (f: DeliverFrame): unknown => JSON.parse(JSON.stringify(f, (_k, v: unknown) => v instanceof Uint8Array ? hex(v) : v))
writeFileSync(new URL('deliver.json', dir), JSON.stringify({
  description: 'Deliver v2 frames of /0m1/deliver/2.1.0 and 2.0.0 (docs/protocol-network.md): deliver = 0x02 | 0x01 | id(4, BE) | envelope; acks = 0x02 | 0x02 | n(1) | (id(4, BE) | status(1))*n, status 0 accepted, 1 rejected, 2 too-large, 3 bad-frame, 4 delivered (2.1.0 streams only); id 0 answers for the stream. "stream" is the frame behind its unsigned-varint length prefix.',
  cases: deliverCases.map((c) => {
    const frame = encodeDeliverFrame(c.frame)
    return { name: c.name, frame: jsonFrame(c.frame), bytes: hex(frame), stream: hex(lengthPrefixed([frame])) }
  })
}, null, 2) + '\n')

// Blob and direct-file frames (issue 12): fixed ids, capability and chunk bytes.
const blobChunk = bytes('blob-chunk', FILE_CIPHER_CHUNK_BYTES)
const blobRef = { blobId: bytes('blob-id', 16), capability: bytes('blob-cap', 32) }
const blobClientCases: Array<{ name: string, frame: BlobClientFrame }> = [
  { name: 'put chunk 2 of 4', frame: { type: 'put', reqId: 1, ...blobRef, chunks: 4, index: 2, data: blobChunk } },
  { name: 'status', frame: { type: 'status', reqId: 2, ...blobRef } },
  { name: 'get chunk 3', frame: { type: 'get', reqId: 3, ...blobRef, index: 3 } },
  { name: 'delete', frame: { type: 'delete', reqId: 4, ...blobRef } }
]
const blobServerCases: Array<{ name: string, frame: BlobServerFrame }> = [
  { name: 'stored', frame: { type: 'stored', reqId: 1, index: 2 } },
  { name: 'have', frame: { type: 'have', reqId: 2, count: 3, chunks: 4 } },
  { name: 'chunk', frame: { type: 'chunk', reqId: 3, index: 3, data: blobChunk } },
  { name: 'deleted', frame: { type: 'deleted', reqId: 4 } },
  { name: 'not found', frame: { type: 'error', reqId: 5, reason: 'NOT_FOUND', message: 'No such blob, or the capability does not match.' } },
  { name: 'rate limited', frame: { type: 'error', reqId: 6, reason: 'RATE_LIMITED', message: 'This relay takes at most 1024 MiB of file chunks per 60 min from one sender; park the file on another relay or retry later.' } },
  // /0m1/file/1.2.0 only: a put checked and its write queued (not durable), and the unasked durable confirmation.
  { name: 'received', frame: { type: 'received', reqId: 7, index: 2 } },
  { name: 'durable', frame: { type: 'durable', reqId: 0, count: 3 } }
]
const shortHex = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (_k, x: unknown) => x instanceof Uint8Array ? (x.length > 64 ? `sha256:${createHash('sha256').update(x).digest('hex')}` : hex(x)) : x))
writeFileSync(new URL('blob.json', dir), JSON.stringify({
  description: 'Frames of /0m1/blob/1.0.0 and /0m1/file/1.x (docs/protocol-network.md "Blobs and direct files"; "received" and "durable" on /0m1/file/1.2.0 only): version(1)=0x01 | type(1) | reqId(4, BE) | ... Chunk data (65,553 bytes) is shown by its SHA-256 in "frame"; "bytes" is the whole frame.',
  client: blobClientCases.map((c) => ({ name: c.name, frame: shortHex(c.frame), bytes: hex(encodeBlobClientFrame(c.frame)) })),
  server: blobServerCases.map((c) => ({ name: c.name, frame: shortHex(c.frame), bytes: hex(encodeBlobServerFrame(c.frame)) }))
}, null, 2) + '\n')

// Group texts (issue 11) with and without a file (issue 12): the plaintext inside a sender-key message.
const groupFile = (payloads.find((c) => c.payload.kind === 'file')?.payload as Extract<Payload, { kind: 'file' }>).file
const groupTexts: Array<{ name: string, text: GroupText }> = [
  { name: 'text', text: { groupId: bytes('group-id', 16), id: bytes('gid-1', 16), seq: 1, sentAt: 1_700_000_000_789, text: 'hello, group' } },
  { name: 'file with a caption', text: { groupId: bytes('group-id', 16), id: bytes('gid-2', 16), seq: 2, sentAt: 1_700_000_000_790, text: 'the photo', file: groupFile } },
  { name: 'file without a caption', text: { groupId: bytes('group-id', 16), id: bytes('gid-3', 16), seq: 3, sentAt: 1_700_000_000_791, text: '', file: { ...groupFile, relays: [] } } }
]
writeFileSync(new URL('group-text.json', dir), JSON.stringify({
  description: 'Group text v1 (the plaintext inside a sender-key message): version(1)=0x01 | groupId(16) | id(16) | seq(4, BE) | sentAt(8, BE) | text(2-byte length, UTF-8) [| 0x01 | file descriptor as in a file payload]. See docs/protocol.md.',
  cases: groupTexts.map((c) => ({ name: c.name, text: shortHex(c.text), bytes: hex(encodeGroupText(c.text)) }))
}, null, 2) + '\n')

const invitePath = new URL('invite.json', dir)
if (!existsSync(invitePath) || process.argv.includes('--force')) {
  const identity = new IdentityKeyPair(PrivateKey.deserialize(bytes('identity', 32) as Uint8Array<ArrayBuffer>).getPublicKey(), PrivateKey.deserialize(bytes('identity', 32) as Uint8Array<ArrayBuffer>))
  const signed = PrivateKey.deserialize(bytes('signed-prekey', 32) as Uint8Array<ArrayBuffer>)
  const one = PrivateKey.deserialize(bytes('one-time-prekey', 32) as Uint8Array<ArrayBuffer>)
  const kyber = KEMKeyPair.generate()
  const record: InviteRecord = {
    identityKey: identity.publicKey.serialize(),
    registrationId: 4242,
    signedPreKeyId: 1,
    signedPreKey: signed.getPublicKey().serialize(),
    signedPreKeySignature: identity.privateKey.sign(signed.getPublicKey().serialize()),
    preKeyId: 7,
    preKey: one.getPublicKey().serialize(),
    kyberPreKeyId: 3,
    kyberPreKey: kyber.getPublicKey().serialize(),
    kyberPreKeySignature: identity.privateKey.sign(kyber.getPublicKey().serialize()),
    mailboxId: bytes('invite-mailbox-id', 32),
    mailboxKey: bytes('invite-mailbox-key', 32),
    createdAt: 1_700_000_000_000,
    expiresAt: 1_700_604_800_000,
    displayName: 'Alice',
    peerId: '12D3KooWExampleAlice',
    relays: ['/dns4/relay.example/tcp/4001/p2p/12D3KooWRelay'],
    addresses: ['/ip4/192.0.2.7/tcp/4001']
  }
  const invite = signInvite(record, identity.privateKey)
  writeFileSync(invitePath, JSON.stringify({
    description: 'Invite v2. "bytes" is the binary invite (record || XEdDSA signature over "0message1 invite v2\\0" || record); "link" is 0m1: + base64url(bytes). Signatures and the Kyber key come from libsignal\'s randomness, so this vector is kept, not regenerated. See docs/protocol.md.',
    record: JSON.parse(JSON.stringify(record, (_k, v: unknown) => v instanceof Uint8Array ? hex(v) : v)) as unknown,
    bytes: hex(invite),
    link: '0m1:' + Buffer.from(invite).toString('base64url')
  }, null, 2) + '\n')
}

// Group membership changes (issue 11, change format v2) and group bodies. XEdDSA signatures are randomized: the
// vector is kept once made, unless --force is given.
const groupPath = new URL('group.json', dir)
if (!existsSync(groupPath) || process.argv.includes('--force')) {
  const { groupIdFor, signChange, changeHash } = await import('../../src/e2ee/groups/membership.ts')
  const { encodeGroupBody, encodeGroupText } = await import('../../src/wire/group.ts')
  const admin = PrivateKey.deserialize(bytes('group-admin', 32) as Uint8Array<ArrayBuffer>)
  const member = PrivateKey.deserialize(bytes('group-member', 32) as Uint8Array<ArrayBuffer>)
  const card = (k: PrivateKey, name: string, peerId?: string) => ({
    identityKey: k.getPublicKey().serialize(), registrationId: 4242, signedPreKeyId: 7, signedPreKey: PrivateKey.deserialize(bytes(`${name}-spk`, 32) as Uint8Array<ArrayBuffer>).getPublicKey().serialize(),
    signedPreKeySignature: bytes(`${name}-spk-sig`, 64), kyberPreKeyId: 9, kyberPreKey: bytes(`${name}-kyber`, 1569), kyberPreKeySignature: bytes(`${name}-kyber-sig`, 64),
    mailboxId: bytes(`${name}-mailbox-id`, 32), mailboxKey: bytes(`${name}-mailbox-key`, 32), displayName: name, ...(peerId === undefined ? {} : { peerId }),
    relays: ['/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWGtEvbhGWF78p19deQeHEw8ZoTcZ41Qopn6UD2yoD64uX'], addresses: []
  })
  const createBody = { version: 1, parents: [], author: admin.getPublicKey().serialize(), at: 1_700_000_000_000, op: { kind: 'create' as const, name: 'Hikers 🥾', card: card(admin, 'Alice', '12D3KooWExhxdQ8bxBwcfomCDVEbCygjgFm5k94NMt9mYzrjtH59') } }
  const groupId = groupIdFor(createBody)
  const create = signChange({ groupId, ...createBody }, admin)
  const h = (b: Uint8Array): Uint8Array => new Uint8Array(Buffer.from(changeHash(b), 'hex'))
  const add = signChange({ groupId, version: 2, parents: [h(create.bytes)], author: admin.getPublicKey().serialize(), at: 1_700_000_000_500, op: { kind: 'add', cards: [card(member, 'Bob')] } }, admin)
  const promote = signChange({ groupId, version: 3, parents: [h(add.bytes)], author: admin.getPublicKey().serialize(), at: 1_700_000_001_000, op: { kind: 'promote', member: member.getPublicKey().serialize() } }, admin)
  const rename = signChange({ groupId, version: 4, parents: [h(promote.bytes)], author: member.getPublicKey().serialize(), at: 1_700_000_002_000, op: { kind: 'rename', name: 'Hikers' } }, member)
  const remove = signChange({ groupId, version: 4, parents: [h(promote.bytes)], author: admin.getPublicKey().serialize(), at: 1_700_000_002_000, op: { kind: 'remove', members: [member.getPublicKey().serialize()] } }, admin)
  const merge = [h(rename.bytes), h(remove.bytes)].sort((x, y) => Buffer.compare(x, y))
  const leave = signChange({ groupId, version: 5, parents: merge, author: admin.getPublicKey().serialize(), at: 1_700_000_003_000, op: { kind: 'leave' } }, admin)
  const changes = [create, add, promote, rename, remove, leave]
  const bodies = [
    { name: 'card request', body: { type: 'card-request' as const, groupId, name: 'Hikers 🥾' } },
    { name: 'card reply', body: { type: 'card-reply' as const, groupId, card: card(member, 'Bob') } },
    { name: 'changes (a log)', body: { type: 'changes' as const, groupId, changes: changes.map((c) => c.bytes) } },
    { name: 'keyed', body: { type: 'keyed' as const, groupId, skdm: bytes('skdm', 90), message: bytes('sender-key-message', 160) } }
  ]
  const text = { groupId, id: bytes('group-text-id', 16), seq: 3, sentAt: 1_700_000_004_000, text: 'On the trail ⛰' }
  writeFileSync(groupPath, JSON.stringify({
    description: 'Group change v2: version(1)=0x02 | groupId(16) | version(4, BE; 1 + highest parent version) | parentCount(1, 0..16) | parents(32 each, SHA-256 of whole changes, ascending) | author(33) | at(8) | op(1) | op fields | XEdDSA signature(64) over "0message1 group change v2\\0" || everything before it. Group bodies and texts: version(1)=0x01. Signatures come from libsignal\'s randomness, so this vector is kept, not regenerated. See docs/protocol.md §10.',
    changes: changes.map((c) => ({ kind: c.op.kind, version: c.version, parents: c.parents.map(hex), author: hex(c.author), at: c.at, bytes: hex(c.bytes) })),
    bodies: bodies.map((b) => ({ name: b.name, bytes: hex(encodeGroupBody(b.body)) })),
    text: { groupId: hex(text.groupId), id: hex(text.id), seq: text.seq, sentAt: text.sentAt, text: text.text, bytes: hex(encodeGroupText(text)) }
  }, null, 2) + '\n')
}
