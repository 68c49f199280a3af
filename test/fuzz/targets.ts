// Every decoder of untrusted bytes, as a fuzz target: what it decodes, which errors are typed, and
// valid encodings to mutate. Modules are imported lazily so one missing module skips only its targets.
import { randomBytes } from 'node:crypto'
import sodium from 'sodium-native'
import type { FuzzTarget } from './harness.ts'

export interface TargetSpec {
  readonly name: string
  /** The module under test (for the skip message while it does not exist yet). */
  readonly module: string
  readonly load: () => Promise<FuzzTarget>
}

const fixedBytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill)

export const TARGETS: readonly TargetSpec[] = [
  {
    name: 'invite (binary: decodeInvite + verifyInvite)',
    module: 'src/wire/invite.ts',
    load: async () => {
      const { decodeInvite, verifyInvite, signInvite } = await import('../../src/wire/invite.ts')
      const { WireError } = await import('../../src/wire/errors.ts')
      const seeds = await inviteSeeds(signInvite)
      return {
        decode: (b) => { const inv = decodeInvite(b); return verifyInvite(inv) },
        isTyped: (e) => WireError.is(e),
        seeds,
        maxRandomLength: 4096
      }
    }
  },
  {
    name: 'invite (link text: linkToInvite + decodeInvite)',
    module: 'src/wire/invite.ts',
    load: async () => {
      const { decodeInvite, signInvite, inviteToLink, linkToInvite } = await import('../../src/wire/invite.ts')
      const { WireError } = await import('../../src/wire/errors.ts')
      const seeds = (await inviteSeeds(signInvite)).map((b) => new TextEncoder().encode(inviteToLink(b)))
      return {
        decode: (b) => decodeInvite(linkToInvite(new TextDecoder().decode(b))),
        isTyped: (e) => WireError.is(e),
        seeds,
        maxRandomLength: 4096
      }
    }
  },
  {
    name: 'envelope (readEnvelopeHeader + openEnvelope)',
    module: 'src/wire/envelope.ts',
    load: async () => {
      const { sealEnvelope, openEnvelope } = await import('../../src/wire/envelope.ts')
      const { WireError } = await import('../../src/wire/errors.ts')
      const mailboxKey = randomBytes(32)
      const mailboxId = randomBytes(32)
      const seeds = [0, 100, 2000, 10_000].map((n, i) => sealEnvelope({ mailboxId, mailboxKey, innerType: i % 2 === 0 ? 1 : 2, body: randomBytes(n) }))
      return { decode: (b) => openEnvelope(b, mailboxKey), isTyped: (e) => WireError.is(e), seeds, maxRandomLength: 2048 }
    }
  },
  {
    // Mutations never get past the AEAD tag, so this target seals the fuzzed inner plaintext with the
    // right key: the inner layout parser (type, length, padding) sees arbitrary authenticated bytes.
    name: 'envelope inner plaintext (past the AEAD)',
    module: 'src/wire/envelope.ts',
    load: async () => {
      const { openEnvelope, ENVELOPE_HEADER_BYTES, TAG_BYTES } = await import('../../src/wire/envelope.ts')
      const { WireError } = await import('../../src/wire/errors.ts')
      const size = 1024
      const innerLen = size - ENVELOPE_HEADER_BYTES - TAG_BYTES
      const key = Buffer.from(randomBytes(32))
      const seal = (inner: Uint8Array): Buffer => {
        const out = Buffer.alloc(size)
        out[0] = 1
        randomBytes(32).copy(out, 1)
        sodium.randombytes_buf(out.subarray(33, ENVELOPE_HEADER_BYTES))
        const plain = Buffer.alloc(innerLen)
        plain.set(inner.subarray(0, innerLen))
        sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(out.subarray(ENVELOPE_HEADER_BYTES), plain, out.subarray(0, 33), null, out.subarray(33, ENVELOPE_HEADER_BYTES), key)
        return out
      }
      const valid = Buffer.alloc(20); valid[0] = 2; valid.writeUInt32BE(15, 1)
      return { decode: (b) => openEnvelope(seal(b), key), isTyped: (e) => WireError.is(e), seeds: [valid, Buffer.from([1, 0, 0, 0, 0])], maxRandomLength: 64 }
    }
  },
  {
    name: 'payload (decodePayload)',
    module: 'src/wire/payload.ts',
    load: async () => {
      const { encodePayload, decodePayload } = await import('../../src/wire/payload.ts')
      const { WireError } = await import('../../src/wire/errors.ts')
      const id = () => randomBytes(16)
      const seeds = [
        encodePayload({ kind: 'text', id: id(), seq: 1, sentAt: Date.now(), text: 'hello, wörld 👋' }),
        encodePayload({ kind: 'receipt', id: id(), seq: 0, type: 'delivered', ids: [id(), id(), id()] }),
        encodePayload({ kind: 'receipt', id: id(), seq: 0, type: 'read', ids: [] }),
        encodePayload({ kind: 'reply', id: id(), seq: 2, sentAt: Date.now(), text: 'yes', replyTo: id(), quote: 'hello, wörld' }),
        encodePayload({ kind: 'edit', id: id(), seq: 0, target: id(), editedAt: Date.now(), text: 'hello, world' }),
        encodePayload({ kind: 'delete', id: id(), seq: 0, target: id(), deletedAt: Date.now() }),
        encodePayload({
          kind: 'card',
          id: id(),
          seq: 0,
          card: {
            displayName: 'Alice',
            mailboxId: randomBytes(32),
            mailboxKey: randomBytes(32),
            presenceSecret: randomBytes(32),
            presenceKey: randomBytes(32),
            peerId: '12D3KooWExhxdQ8bxBwcfomCDVEbCygjgFm5k94NMt9mYzrjtH59',
            relays: ['/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWGtEvbhGWF78p19deQeHEw8ZoTcZ41Qopn6UD2yoD64uX'],
            addresses: ['/ip4/10.0.0.2/tcp/4002', '/ip4/127.0.0.1/tcp/4002'],
            senderCertificate: randomBytes(260)
          }
        }),
        encodePayload({
          kind: 'file',
          id: id(),
          seq: 3,
          sentAt: Date.now(),
          text: 'a photo',
          file: {
            name: 'photo.jpg', type: 'image/jpeg', size: 70_000, sha256: randomBytes(32), key: randomBytes(32), header: randomBytes(24), chunks: 2,
            blobId: randomBytes(16), capability: randomBytes(32), relays: ['/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWGtEvbhGWF78p19deQeHEw8ZoTcZ41Qopn6UD2yoD64uX']
          }
        })
      ]
      return { decode: decodePayload, isTyped: (e) => WireError.is(e), seeds }
    }
  },
  {
    name: 'group change (decodeChange + verifyChange, change v2)',
    module: 'src/wire/group.ts',
    load: async () => {
      const { readFileSync } = await import('node:fs')
      const { verifyChange } = await import('../../src/e2ee/groups/membership.ts')
      const { E2eeError } = await import('../../src/e2ee/errors.ts')
      const v = JSON.parse(readFileSync(new URL('../vectors/group.json', import.meta.url), 'utf8')) as { changes: Array<{ bytes: string }> }
      const seeds = v.changes.map((c) => new Uint8Array(Buffer.from(c.bytes, 'hex')))
      return { decode: (b) => verifyChange(b), isTyped: (e) => E2eeError.is(e), seeds, maxRandomLength: 4096 }
    }
  },
  {
    name: 'group body (decodeGroupBody)',
    module: 'src/wire/group.ts',
    load: async () => {
      const { readFileSync } = await import('node:fs')
      const { decodeGroupBody } = await import('../../src/wire/group.ts')
      const { WireError } = await import('../../src/wire/errors.ts')
      const v = JSON.parse(readFileSync(new URL('../vectors/group.json', import.meta.url), 'utf8')) as { bodies: Array<{ bytes: string }> }
      const seeds = v.bodies.map((b) => new Uint8Array(Buffer.from(b.bytes, 'hex')))
      return { decode: decodeGroupBody, isTyped: (e) => WireError.is(e), seeds }
    }
  },
  {
    name: 'group text (decodeGroupText, past the sender-key decryption)',
    module: 'src/wire/group.ts',
    load: async () => {
      const { readFileSync } = await import('node:fs')
      const { decodeGroupText } = await import('../../src/wire/group.ts')
      const { WireError } = await import('../../src/wire/errors.ts')
      const v = JSON.parse(readFileSync(new URL('../vectors/group.json', import.meta.url), 'utf8')) as { text: { bytes: string } }
      return { decode: decodeGroupText, isTyped: (e) => WireError.is(e), seeds: [new Uint8Array(Buffer.from(v.text.bytes, 'hex'))], maxRandomLength: 256 }
    }
  },
  {
    name: 'deliver frame (decodeDeliverFrame)',
    module: 'src/wire/deliver.ts',
    load: async () => {
      const { encodeDeliverFrame, decodeDeliverFrame } = await import('../../src/wire/deliver.ts')
      const { WireError } = await import('../../src/wire/errors.ts')
      const seeds = [
        encodeDeliverFrame({ type: 'deliver', id: 1, envelope: randomBytes(1024) }),
        encodeDeliverFrame({ type: 'deliver', id: 0xfffffffe, envelope: randomBytes(3) }),
        encodeDeliverFrame({ type: 'acks', acks: [{ id: 1, status: 'accepted' }] }),
        encodeDeliverFrame({ type: 'acks', acks: [{ id: 0, status: 'too-large' }, { id: 9, status: 'rejected' }, { id: 3, status: 'bad-frame' }] }),
        encodeDeliverFrame({ type: 'acks', acks: [{ id: 4, status: 'delivered' }, { id: 5, status: 'accepted' }] })
      ]
      return { decode: decodeDeliverFrame, isTyped: (e) => WireError.is(e), seeds }
    }
  },
  {
    name: 'deliver stream bytes (FrameReader + decodeDeliverFrame, what a receiving device reads)',
    module: 'src/net/frame-reader.ts',
    load: async () => {
      const { encodeDeliverFrame, decodeDeliverFrame, MAX_DELIVER_FRAME_BYTES } = await import('../../src/wire/deliver.ts')
      const { FrameReader, lengthPrefixed } = await import('../../src/net/frame-reader.ts')
      const { WireError } = await import('../../src/wire/errors.ts')
      const { NetError } = await import('../../src/net/errors.ts')
      const seeds = [
        lengthPrefixed([
          encodeDeliverFrame({ type: 'deliver', id: 1, envelope: randomBytes(300) }),
          encodeDeliverFrame({ type: 'deliver', id: 2, envelope: randomBytes(5) })
        ]),
        lengthPrefixed([encodeDeliverFrame({ type: 'acks', acks: [{ id: 1, status: 'accepted' }, { id: 2, status: 'rejected' }] })]),
        lengthPrefixed([encodeDeliverFrame({ type: 'acks', acks: [{ id: 3, status: 'delivered' }] })])
      ]
      const decode = (bytes: Uint8Array): unknown => {
        const r = new FrameReader(MAX_DELIVER_FRAME_BYTES)
        r.push(bytes)
        const out: unknown[] = []
        for (let f = r.next(); f !== undefined; f = r.next()) out.push(decodeDeliverFrame(f))
        return out
      }
      return { decode, isTyped: (e) => WireError.is(e) || NetError.is(e), seeds }
    }
  },
  {
    name: 'blob client frame (decodeBlobClientFrame, what a relay or a receiving device reads)',
    module: 'src/wire/blob.ts',
    load: async () => {
      const { encodeBlobClientFrame, decodeBlobClientFrame } = await import('../../src/wire/blob.ts')
      const { FILE_CIPHER_CHUNK_BYTES } = await import('../../src/wire/file.ts')
      const { WireError } = await import('../../src/wire/errors.ts')
      const ref = { blobId: randomBytes(16), capability: randomBytes(32) }
      const seeds = [
        encodeBlobClientFrame({ type: 'put', reqId: 1, ...ref, chunks: 3, index: 1, data: randomBytes(FILE_CIPHER_CHUNK_BYTES) }),
        encodeBlobClientFrame({ type: 'status', reqId: 2, ...ref }),
        encodeBlobClientFrame({ type: 'get', reqId: 3, ...ref, index: 9 }),
        encodeBlobClientFrame({ type: 'delete', reqId: 4, ...ref })
      ]
      return { decode: decodeBlobClientFrame, isTyped: (e) => WireError.is(e), seeds, maxRandomLength: 1024 }
    }
  },
  {
    name: 'blob server frame (decodeBlobServerFrame, what a sending or fetching device reads)',
    module: 'src/wire/blob.ts',
    load: async () => {
      const { encodeBlobServerFrame, decodeBlobServerFrame } = await import('../../src/wire/blob.ts')
      const { FILE_CIPHER_CHUNK_BYTES } = await import('../../src/wire/file.ts')
      const { WireError } = await import('../../src/wire/errors.ts')
      const seeds = [
        encodeBlobServerFrame({ type: 'stored', reqId: 1, index: 4 }),
        encodeBlobServerFrame({ type: 'have', reqId: 2, count: 1, chunks: 8 }),
        encodeBlobServerFrame({ type: 'chunk', reqId: 3, index: 0, data: randomBytes(FILE_CIPHER_CHUNK_BYTES) }),
        encodeBlobServerFrame({ type: 'deleted', reqId: 4 }),
        encodeBlobServerFrame({ type: 'error', reqId: 5, reason: 'QUOTA_BYTES', message: 'This relay is full.' }),
        encodeBlobServerFrame({ type: 'received', reqId: 6, index: 7 }),
        encodeBlobServerFrame({ type: 'durable', reqId: 0, count: 8 })
      ]
      return { decode: decodeBlobServerFrame, isTyped: (e) => WireError.is(e), seeds, maxRandomLength: 1024 }
    }
  },
  {
    name: 'mailbox client frame (decodeClientFrame, what a relay reads)',
    module: 'src/wire/mailbox.ts',
    load: async () => {
      const { encodeClientFrame, decodeClientFrame } = await import('../../src/wire/mailbox.ts')
      const { WireError } = await import('../../src/wire/errors.ts')
      const seeds = [
        encodeClientFrame({ type: 'deposit', reqId: 1, items: [{ mailboxId: randomBytes(32), envelope: randomBytes(1024) }] }),
        encodeClientFrame({ type: 'deposit', reqId: 6, items: [{ mailboxId: randomBytes(32), envelope: randomBytes(100) }, { mailboxId: randomBytes(32), envelope: randomBytes(7) }] }),
        encodeClientFrame({ type: 'auth-begin', reqId: 2, mailboxId: randomBytes(32) }),
        encodeClientFrame({ type: 'auth-prove', reqId: 3, publicKey: randomBytes(32), signature: randomBytes(64) }),
        encodeClientFrame({ type: 'fetch', reqId: 4, cursor: 12345, limit: 64 }),
        encodeClientFrame({ type: 'ack', reqId: 5, ids: [randomBytes(16), randomBytes(16)] })
      ]
      return { decode: decodeClientFrame, isTyped: (e) => WireError.is(e), seeds, maxRandomLength: 1024 }
    }
  },
  {
    name: 'mailbox relay frame (decodeRelayFrame, what a device reads)',
    module: 'src/wire/mailbox.ts',
    load: async () => {
      const { encodeRelayFrame, decodeRelayFrame } = await import('../../src/wire/mailbox.ts')
      const { WireError } = await import('../../src/wire/errors.ts')
      const item = () => ({ id: randomBytes(16), envelope: randomBytes(1024) })
      const seeds = [
        encodeRelayFrame({ type: 'ok', reqId: 1, count: 3 }),
        encodeRelayFrame({ type: 'challenge', reqId: 2, challenge: randomBytes(32) }),
        encodeRelayFrame({ type: 'batch', reqId: 3, cursor: 99, more: true, items: [item(), item()] }),
        encodeRelayFrame({ type: 'batch', reqId: 4, cursor: 0, more: false, items: [] }),
        encodeRelayFrame({ type: 'notice' }),
        encodeRelayFrame({ type: 'acked', reqId: 7, deleted: [true, false, true, true, false, true, true, true, false, true] }),
        encodeRelayFrame({ type: 'deposited', reqId: 6, statuses: ['stored', 'QUOTA_BYTES', 'stored'] }),
        encodeRelayFrame({ type: 'error', reqId: 5, reason: 'QUOTA_COUNT', message: 'This mailbox is full.' })
      ]
      return { decode: decodeRelayFrame, isTyped: (e) => WireError.is(e), seeds, maxRandomLength: 1024 }
    }
  },
  {
    name: 'relay provider record (decodeRelayRecord)',
    module: 'src/wire/relay-record.ts',
    load: async () => {
      const { decodeRelayRecord, encodeRelayRecord, encodeRelayRecordBody } = await import('../../src/wire/relay-record.ts')
      const { WireError } = await import('../../src/wire/errors.ts')
      const body = (addresses: string[], operator: string): Uint8Array => encodeRelayRecordBody({ issuedAt: Date.now(), peerId: randomBytes(38), services: 7, reservationsFree: 5, reservationsMax: 1024, mailboxFreeMiB: 100, addresses, operator })
      const seeds = [
        encodeRelayRecord(body(['/ip4/203.0.113.7/tcp/4001', '/ip4/203.0.113.7/tcp/4002/ws'], 'example.org'), randomBytes(64)),
        encodeRelayRecord(body(['/dns4/r.example/tcp/443/wss'], ''), fixedBytes(64, 9))
      ]
      return { decode: decodeRelayRecord, isTyped: (e) => WireError.is(e), seeds, maxRandomLength: 4096 }
    }
  },
  {
    name: 'presence DHT record (validatePresence: key and value)',
    module: 'src/wire/presence.ts',
    load: async () => {
      const { presenceDhtKey, encodePresenceRecord, validatePresence, selectPresence } = await import('../../src/wire/presence.ts')
      const { WireError } = await import('../../src/wire/errors.ts')
      // One input holds both parts: u8 key length, key, value (the DHT hands the validator both).
      const join = (k: Uint8Array, v: Uint8Array): Uint8Array => { const o = new Uint8Array(1 + k.length + v.length); o[0] = k.length; o.set(k, 1); o.set(v, 1 + k.length); return o }
      const key = presenceDhtKey(randomBytes(32))
      const seeds = [
        join(key, encodePresenceRecord({ publishedAt: Date.now(), value: randomBytes(200) })),
        join(presenceDhtKey(randomBytes(16)), encodePresenceRecord({ publishedAt: 0, value: fixedBytes(1, 7) }))
      ]
      const now = Date.now()
      return {
        decode: (b) => {
          const kl = b[0] ?? 0
          const k = b.subarray(1, 1 + kl)
          const v = b.subarray(1 + kl)
          // The selector must never throw, whatever the values.
          selectPresence([v, b, k])
          validatePresence(k, v, now)
        },
        isTyped: (e) => WireError.is(e),
        seeds
      }
    }
  },
  {
    name: 'STUN port frame (decodeStunPort, what a device reads from a relay)',
    module: 'src/wire/stun-port.ts',
    load: async () => {
      const { decodeStunPort, encodeStunPort } = await import('../../src/wire/stun-port.ts')
      const { WireError } = await import('../../src/wire/errors.ts')
      return { decode: decodeStunPort, isTyped: (e) => WireError.is(e), seeds: [encodeStunPort(3478), encodeStunPort(1), encodeStunPort(65535)], maxRandomLength: 64 }
    }
  },
  {
    name: 'park request (decodeParkRequest, what a relay reads; issue 13 short invites)',
    module: 'src/wire/parked-invite.ts',
    load: async () => {
      const { decodeParkRequest, encodeParkRequest } = await import('../../src/wire/parked-invite.ts')
      const { WireError } = await import('../../src/wire/errors.ts')
      const seeds = [
        encodeParkRequest({ op: 'park', id: randomBytes(8), expiresAt: Date.now() + 60_000, removeToken: randomBytes(16), sealed: randomBytes(300) }),
        encodeParkRequest({ op: 'fetch', id: randomBytes(8) }),
        encodeParkRequest({ op: 'remove', id: randomBytes(8), removeToken: randomBytes(16) })
      ]
      return { decode: decodeParkRequest, isTyped: (e) => WireError.is(e), seeds, maxRandomLength: 1024 }
    }
  },
  {
    name: 'park answer and short link (decodeParkAnswer, decodeShortLink: what a device reads)',
    module: 'src/wire/parked-invite.ts',
    load: async () => {
      const { decodeParkAnswer, decodeShortLink, encodeParkAnswer, encodeShortLink } = await import('../../src/wire/parked-invite.ts')
      const { WireError } = await import('../../src/wire/errors.ts')
      const link = encodeShortLink({ relay: '/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN', id: randomBytes(8), key: randomBytes(16) })
      const seeds = [encodeParkAnswer({ status: 'ok', sealed: randomBytes(200) }), encodeParkAnswer({ status: 'not-found' }), Buffer.from(link)]
      return {
        // The short link is text: the same bytes are also read as one (latin1 keeps every byte a character).
        decode: (b) => { try { decodeParkAnswer(b, true) } catch (e) { if (!WireError.is(e)) throw e } return decodeShortLink(Buffer.from(b).toString('latin1')) },
        isTyped: (e) => WireError.is(e),
        seeds,
        maxRandomLength: 512
      }
    }
  }
]

type SignInvite = (record: import('../../src/wire/invite.ts').InviteRecord, key: import('@signalapp/libsignal-client').PrivateKey) => Uint8Array

async function inviteSeeds (signInvite: SignInvite): Promise<Uint8Array[]> {
  const { PrivateKey, KEMKeyPair } = await import('@signalapp/libsignal-client')
  const identity = PrivateKey.generate()
  const now = Date.now()
  const base = {
    identityKey: identity.getPublicKey().serialize(),
    registrationId: 1234,
    signedPreKeyId: 1,
    signedPreKey: PrivateKey.generate().getPublicKey().serialize(),
    signedPreKeySignature: randomBytes(64),
    preKeyId: 7,
    preKey: PrivateKey.generate().getPublicKey().serialize(),
    kyberPreKeyId: 3,
    kyberPreKey: KEMKeyPair.generate().getPublicKey().serialize(),
    kyberPreKeySignature: randomBytes(64),
    mailboxId: randomBytes(32),
    mailboxKey: randomBytes(32),
    createdAt: now,
    expiresAt: now + 86_400_000,
    displayName: 'Alice',
    relays: ['/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWGtEvbhGWF78p19deQeHEw8ZoTcZ41Qopn6UD2yoD64uX'],
    addresses: ['/ip4/127.0.0.1/tcp/4002']
  }
  return [
    signInvite({ ...base, peerId: '12D3KooWExhxdQ8bxBwcfomCDVEbCygjgFm5k94NMt9mYzrjtH59' }, identity),
    signInvite({ ...base, relays: [], addresses: [], displayName: 'B' }, identity)
  ]
}
