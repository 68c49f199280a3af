// Golden vectors (test/vectors/*.json): decode, check fields, re-encode byte-equal.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import sodium from 'sodium-native'
import { openEnvelope, readEnvelopeHeader, sealEnvelope, type InnerType } from '../../src/wire/envelope.ts'
import { decodePayload, encodePayload } from '../../src/wire/payload.ts'
import { decodeInvite, encodeSignedInvite, inviteToLink, linkToInvite, verifyInvite } from '../../src/wire/invite.ts'
import { openPresence, presenceKey, sealPresence } from '../../src/e2ee/presence.ts'
import { decodeDeliverFrame, encodeDeliverFrame } from '../../src/wire/deliver.ts'
import { FrameReader, lengthPrefixed } from '../../src/net/frame-reader.ts'
import { decodeBlobClientFrame, decodeBlobServerFrame, encodeBlobClientFrame, encodeBlobServerFrame } from '../../src/wire/blob.ts'
import { decodeGroupText, encodeGroupText, GROUP_TEXT_FILE } from '../../src/wire/group.ts'

interface EnvelopeCase { name: string, mailboxId: string, mailboxKey: string, nonce: string, innerType: number, body: string, envelope: string }
interface PayloadCase { name: string, payload: unknown, bytes: string }
interface InviteVector { record: unknown, bytes: string, link: string }
const load = (name: string): unknown => JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), 'utf8'))
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))
const asHex = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (_k, x: unknown) => x instanceof Uint8Array ? hex(x) : x))

test('envelope vectors: seal with the fixed nonce is byte-equal; open gives the body; layout checked by hand', () => {
  const v = load('envelope.json') as { cases: EnvelopeCase[] }
  assert.ok(v.cases.length >= 4)
  for (const c of v.cases) {
    const env = unhex(c.envelope)
    const mailboxId = unhex(c.mailboxId)
    const mailboxKey = unhex(c.mailboxKey)
    assert.equal(hex(sealEnvelope({ mailboxId, mailboxKey, innerType: c.innerType as InnerType, body: unhex(c.body), nonce: unhex(c.nonce) })), c.envelope, c.name)
    assert.equal(hex(readEnvelopeHeader(env).mailboxId), c.mailboxId)
    const inner = openEnvelope(env, mailboxKey)
    assert.equal(inner.innerType, c.innerType)
    assert.equal(hex(inner.body), c.body)
    // Independent reading of the documented layout with libsodium directly.
    assert.equal(env[0], 1)
    assert.equal(hex(env.subarray(1, 33)), c.mailboxId)
    assert.equal(hex(env.subarray(33, 57)), c.nonce)
    const plain = Buffer.alloc(env.length - 57 - 16)
    sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(plain, null, Buffer.from(env.subarray(57)), Buffer.from(env.subarray(0, 33)), Buffer.from(unhex(c.nonce)), Buffer.from(mailboxKey))
    assert.equal(plain[0], c.innerType)
    const len = plain.readUInt32BE(1)
    assert.equal(hex(plain.subarray(5, 5 + len)), c.body)
    assert.ok(plain.subarray(5 + len).every((b) => b === 0))
  }
})

test('payload vectors: encode is byte-equal, decode gives the fields, re-encode is byte-equal', () => {
  const v = load('payload.json') as { cases: PayloadCase[] }
  assert.ok(v.cases.length >= 6)
  for (const c of v.cases) {
    const decoded = decodePayload(unhex(c.bytes))
    assert.deepEqual(asHex(decoded), c.payload, c.name)
    assert.equal(hex(encodePayload(decoded)), c.bytes, c.name)
  }
})

test('invite vector: decodes, verifies, matches its record, re-encodes byte-equal', () => {
  const v = load('invite.json') as InviteVector
  const bytes = linkToInvite(v.link)
  assert.equal(hex(bytes), v.bytes)
  const invite = decodeInvite(bytes)
  assert.ok(verifyInvite(invite))
  assert.deepEqual(asHex(invite.record), v.record)
  assert.equal(hex(encodeSignedInvite(invite)), v.bytes)
  assert.equal(inviteToLink(encodeSignedInvite(invite)), v.link)
  const tampered = Uint8Array.from(bytes)
  tampered[tampered.length - 100] = (tampered[tampered.length - 100] as number) ^ 1 // inside the addresses, covered by the signature
  assert.equal(verifyInvite(decodeInvite(tampered)), false)
})

test('presence vector: sealing with the fixed nonce is byte-equal; it opens with the public key; the signature is Ed25519 over the documented bytes', async () => {
  const v = load('presence.json') as { secret: string, day: number, rendezvousKey: string, signingKey: string, publicKey: string, nonce: string, record: { peerId: string, addresses: string[], updatedAt: number }, sealed: string }
  const secret = unhex(v.secret)
  assert.equal(hex(presenceKey(secret, v.day)), v.rendezvousKey)
  assert.equal(hex(sealPresence(secret, v.day, v.record, unhex(v.signingKey), { nonce: unhex(v.nonce) })), v.sealed)
  assert.deepEqual(openPresence(secret, v.day, unhex(v.sealed), { verifyKey: unhex(v.publicKey), now: v.record.updatedAt }), v.record)
  // Independent reading: the last 64 plaintext bytes verify over context || rendezvous key || body.
  const { hkdfSync, createPublicKey, verify } = await import('node:crypto')
  const info = Buffer.concat([Buffer.from('enc'), Buffer.alloc(4)])
  info.writeUInt32BE(v.day, 3)
  const key = Buffer.from(hkdfSync('sha256', secret, Buffer.from('0m1 presence'), info, 32))
  const sealed = Buffer.from(unhex(v.sealed))
  const plain = Buffer.alloc(sealed.length - 24 - 16)
  sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(plain, null, sealed.subarray(24), null, sealed.subarray(0, 24), key)
  assert.equal(plain[0], 2)
  const body = plain.subarray(0, plain.length - 64)
  const pub = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(unhex(v.publicKey))]), format: 'der', type: 'spki' })
  assert.ok(verify(null, Buffer.concat([Buffer.from('0m1 presence v2\0'), Buffer.from(unhex(v.rendezvousKey)), body]), pub, plain.subarray(plain.length - 64)))
})

test('deliver vectors: decode gives the fields, re-encode is byte-equal, the stream bytes frame it; layout checked by hand', () => {
  const v = load('deliver.json') as { cases: Array<{ name: string, frame: { type: string, id?: number, envelope?: string, acks?: Array<{ id: number, status: string }> }, bytes: string, stream: string }> }
  assert.ok(v.cases.length >= 6)
  assert.ok(v.cases.some((c) => c.frame.acks?.some((a) => a.status === 'delivered')), 'the 2.1.0 status has a vector')
  for (const c of v.cases) {
    const bytes = unhex(c.bytes)
    const f = decodeDeliverFrame(bytes)
    assert.deepEqual(asHex(f), c.frame, c.name)
    assert.equal(hex(encodeDeliverFrame(f)), c.bytes, c.name)
    assert.equal(hex(lengthPrefixed([bytes])), c.stream, c.name)
    const r = new FrameReader(bytes.length)
    r.push(unhex(c.stream))
    assert.equal(hex(r.next() ?? new Uint8Array(0)), c.bytes)
    // Independent reading of the documented layout.
    const view = Buffer.from(bytes)
    assert.equal(view[0], 2)
    if (c.frame.type === 'deliver') {
      assert.equal(view[1], 1)
      assert.equal(view.readUInt32BE(2), c.frame.id)
      assert.equal(view.subarray(6).toString('hex'), c.frame.envelope)
    } else {
      assert.equal(view[1], 2)
      assert.equal(view[2], c.frame.acks?.length)
      c.frame.acks?.forEach((a, i) => {
        assert.equal(view.readUInt32BE(3 + 5 * i), a.id)
        assert.equal(view[7 + 5 * i], ['accepted', 'rejected', 'too-large', 'bad-frame', 'delivered'].indexOf(a.status))
      })
    }
  }
})

test('blob vectors (issue 12): client and server frames decode and re-encode byte-equal; the layout read by hand', () => {
  const v = load('blob.json') as { client: Array<{ name: string, bytes: string }>, server: Array<{ name: string, bytes: string }> }
  assert.equal(v.client.length, 4)
  assert.equal(v.server.length, 8)
  // RATE_LIMITED (issue 12, per-peer upload budget) is refusal byte 7, after the type, request id.
  const limited = unhex(v.server.find((c) => c.name === 'rate limited')?.bytes ?? '')
  assert.equal(limited[1], 0x85)
  assert.equal(limited[6], 7)
  assert.equal((decodeBlobServerFrame(limited) as { reason?: string }).reason, 'RATE_LIMITED')
  for (const c of v.client) {
    const f = decodeBlobClientFrame(unhex(c.bytes))
    assert.equal(hex(encodeBlobClientFrame(f)), c.bytes, c.name)
    const b = unhex(c.bytes)
    assert.equal(b[0], 1, 'version')
    assert.equal(Buffer.from(b).readUInt32BE(2), f.reqId)
    assert.equal(hex(b.subarray(6, 22)), hex(f.blobId))
  }
  for (const c of v.server) assert.equal(hex(encodeBlobServerFrame(decodeBlobServerFrame(unhex(c.bytes)))), c.bytes, c.name)
  // /0m1/file/1.2.0: 'received' is 0x86 | reqId | index; 'durable' is 0x87 | reqId 0 | count, each u32 BE.
  assert.equal(v.server.find((c) => c.name === 'received')?.bytes, '0186' + '00000007' + '00000002')
  assert.equal(v.server.find((c) => c.name === 'durable')?.bytes, '0187' + '00000000' + '00000003')
})

test('group vectors (issue 11, change v2): changes verify, re-encode byte-equal and fold; bodies and text round-trip byte-equal; layout read by hand', async () => {
  const { verifyChange, foldChanges, changeHash } = await import('../../src/e2ee/groups/membership.ts')
  const { encodeChangeBody, signedChangeBytes, decodeGroupBody, encodeGroupBody, decodeGroupText, encodeGroupText, GROUP_CHANGE_VERSION } = await import('../../src/wire/group.ts')
  const v = load('group.json') as { changes: Array<{ kind: string, version: number, parents: string[], author: string, at: number, bytes: string }>, bodies: Array<{ name: string, bytes: string }>, text: { seq: number, text: string, bytes: string } }
  const all = v.changes.map((c) => {
    const bytes = unhex(c.bytes)
    const d = verifyChange(bytes)
    assert.equal(d.op.kind, c.kind)
    assert.equal(d.version, c.version)
    assert.deepEqual(d.parents.map(hex), c.parents)
    assert.equal(hex(d.author), c.author)
    assert.equal(d.at, c.at)
    assert.equal(hex(signedChangeBytes(encodeChangeBody(d), d.signature)), c.bytes)
    // By hand: version byte, group id, version (BE), parent count, parents, author.
    assert.equal(bytes[0], GROUP_CHANGE_VERSION)
    assert.equal(Buffer.from(bytes).readUInt32BE(17), c.version)
    assert.equal(bytes[21], c.parents.length)
    assert.deepEqual(c.parents.map((_, i) => hex(bytes.subarray(22 + 32 * i, 54 + 32 * i))), c.parents)
    assert.equal(hex(bytes.subarray(22 + 32 * c.parents.length, 55 + 32 * c.parents.length)), c.author)
    return d
  })
  // Parents are the hashes of earlier vectors' bytes; the log folds (the rename is concurrent with the removal of its author).
  assert.deepEqual(v.changes[1]?.parents, [changeHash(unhex(v.changes[0]?.bytes ?? ''))])
  const state = foldChanges(all)
  assert.equal(state.members.size, 0, 'the admin left after removing the member')
  assert.equal(state.name, 'Hikers 🥾', 'the removed member\'s concurrent rename has no effect')
  for (const b of v.bodies) assert.equal(hex(encodeGroupBody(decodeGroupBody(unhex(b.bytes)))), b.bytes, b.name)
  const t = decodeGroupText(unhex(v.text.bytes))
  assert.equal(t.text, v.text.text)
  assert.equal(hex(encodeGroupText(t)), v.text.bytes)
})

test('group text vectors (issues 11, 12): decode, fields, re-encode byte-equal; a text without a file ends after its text', () => {
  const v = load('group-text.json') as { cases: Array<{ name: string, text: { text: string, seq: number, file?: { name: string, size: number, relays: string[], blobId: string, capability: string, key: string } }, bytes: string }> }
  assert.equal(v.cases.length, 3)
  for (const c of v.cases) {
    const t = decodeGroupText(unhex(c.bytes))
    assert.equal(t.text, c.text.text, c.name)
    assert.equal(t.seq, c.text.seq)
    assert.equal(hex(encodeGroupText(t)), c.bytes, c.name)
    if (c.text.file === undefined) {
      assert.equal(t.file, undefined)
      // version | groupId | id | seq | sentAt | u16 length | text: nothing after it.
      assert.equal(unhex(c.bytes).length, 1 + 16 + 16 + 4 + 8 + 2 + Buffer.byteLength(c.text.text))
    } else {
      assert.equal(t.file?.name, c.text.file.name)
      assert.equal(t.file.size, c.text.file.size)
      assert.deepEqual(t.file.relays, c.text.file.relays)
      assert.equal(hex(t.file.blobId), c.text.file.blobId)
      assert.equal(hex(t.file.capability), c.text.file.capability)
      assert.equal(hex(t.file.key), c.text.file.key)
      // The attachment marker follows the text.
      assert.equal(unhex(c.bytes)[1 + 16 + 16 + 4 + 8 + 2 + Buffer.byteLength(c.text.text)], GROUP_TEXT_FILE)
    }
  }
})
