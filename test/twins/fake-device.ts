// A stand-in for the e2ee Device (DevicePort) in unit tests of the messenger's state machine, where
// libsignal's cost (25 ms to introduce two devices, ~1 ms per message) would cap a property test at
// a few hundred schedules. No cryptography: envelopes are JSON. What the messenger relies on is kept:
// each seal gives new bytes, an envelope opens once (a replay is refused with DUPLICATE, as libsignal
// refuses a used message key), `store` runs before the "session" moves on, cards update the contact.
// The real Device runs the same properties in test/messenger/delivery-property.test.ts (fewer runs).
import { randomBytes } from 'node:crypto'
import { E2eeError } from '../../src/e2ee/errors.ts'
import type { CardInput, ContactPort, DeviceBatchPort, DevicePort, InboundMailbox } from '../../src/messenger/ports.ts'
import type { Payload } from '../../src/wire/payload.ts'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))

interface Contact {
  id: string
  name: string
  accountId: string
  verified: boolean
  theirMailboxId: Uint8Array
  theirRelays: string[]
  theirPeerId: string | undefined
  theirAddresses: string[]
  myMailboxId: Uint8Array
  myPresenceSecret: Uint8Array
}

type Wire =
  | { kind: 'text', id: string, seq: number, sentAt: number, text: string }
  | { kind: 'receipt', id: string, seq: number, type: 'delivered' | 'read', ids: string[] }
  | { kind: 'card', id: string, seq: number, relays: string[], addresses: string[], peerId?: string }

function toWire (p: Payload): Wire {
  if (p.kind === 'text') return { kind: 'text', id: hex(p.id), seq: p.seq, sentAt: p.sentAt, text: p.text }
  if (p.kind === 'receipt') return { kind: 'receipt', id: hex(p.id), seq: p.seq, type: p.type, ids: p.ids.map(hex) }
  if (p.kind === 'group') throw new Error('the fake device does not carry group messages')
  return { kind: 'card', id: hex(p.id), seq: p.seq, relays: [...p.card.relays], addresses: [...p.card.addresses], ...(p.card.peerId !== undefined ? { peerId: p.card.peerId } : {}) }
}

function fromWire (w: Wire): Payload {
  if (w.kind === 'text') return { kind: 'text', id: unhex(w.id), seq: w.seq, sentAt: w.sentAt, text: w.text }
  if (w.kind === 'receipt') return { kind: 'receipt', id: unhex(w.id), seq: w.seq, type: w.type, ids: w.ids.map(unhex) }
  const empty = new Uint8Array(32)
  return {
    kind: 'card',
    id: unhex(w.id),
    seq: w.seq,
    card: {
      displayName: '', mailboxId: empty, mailboxKey: empty, presenceSecret: empty, presenceKey: empty, senderCertificate: empty,
      relays: w.relays, addresses: w.addresses, ...(w.peerId !== undefined ? { peerId: w.peerId } : {})
    }
  }
}

const view = (c: Contact): ContactPort => ({ ...c, theirRelays: [...c.theirRelays], theirAddresses: [...c.theirAddresses] })

export class FakeDevice implements DevicePort<Payload> {
  readonly accountId: string
  readonly #contacts = new Map<string, Contact>()
  /** Nonces of envelopes opened: the "message keys" already used. */
  readonly #opened = new Set<string>()
  /** Makes every sealed envelope's bytes unique, as real encryption does. */
  #sealed = 0

  constructor (accountId: string) {
    this.accountId = accountId
  }

  /** Introduces two fake devices: each gets a contact for the other, with a mailbox on `relays`. */
  static introduce (a: FakeDevice, b: FakeDevice, o: { aRelays: string[], bRelays: string[], aPeerId: string, bPeerId: string }): { aToB: string, bToA: string } {
    const aBox = new Uint8Array(randomBytes(32))
    const bBox = new Uint8Array(randomBytes(32))
    const aToB = `contact-${b.accountId}`
    const bToA = `contact-${a.accountId}`
    a.#contacts.set(aToB, {
      id: aToB, name: b.accountId, accountId: b.accountId, verified: false, theirMailboxId: bBox, theirRelays: o.bRelays,
      theirPeerId: o.bPeerId, theirAddresses: [], myMailboxId: aBox, myPresenceSecret: new Uint8Array(32)
    })
    b.#contacts.set(bToA, {
      id: bToA, name: a.accountId, accountId: a.accountId, verified: false, theirMailboxId: aBox, theirRelays: o.aRelays,
      theirPeerId: o.aPeerId, theirAddresses: [], myMailboxId: bBox, myPresenceSecret: new Uint8Array(32)
    })
    return { aToB, bToA }
  }

  displayName (): string { return this.accountId }

  async createInvite (): Promise<{ link: string, expiresAt: number }> {
    throw new Error('FakeDevice does not make invites; use FakeDevice.introduce')
  }

  async acceptInvite (): Promise<{ contact: ContactPort, envelope: Uint8Array }> {
    throw new Error('FakeDevice does not accept invites; use FakeDevice.introduce')
  }

  async seal (contactId: string, payload: Payload, o: { store?: (envelope: Uint8Array) => void } = {}): Promise<Uint8Array> {
    const c = this.#get(contactId)
    const body = { to: hex(c.theirMailboxId), from: this.accountId, nonce: `${this.accountId}/${++this.#sealed}`, payload: toWire(payload) }
    const envelope = new Uint8Array(Buffer.from(JSON.stringify(body)))
    o.store?.(envelope)
    return envelope
  }

  /** No session state to commit: each operation stores as it goes, then `extra`. */
  async batch<T> (fn: (b: DeviceBatchPort<Payload>) => Promise<T>, extra?: (result: T) => void): Promise<T> {
    const result = await fn({ open: async (e, o) => await this.openEnvelope(e, o), seal: async (c, p, o) => await this.seal(c, p, o) })
    extra?.(result)
    return result
  }

  startsContact (): boolean { return false }

  async openEnvelope (envelope: Uint8Array, o: { store?: (opened: { contactId: string, payload: Payload }) => void } = {}):
  Promise<{ contact: ContactPort, payload: Payload, newContact: boolean }> {
    let body: { to: string, from: string, nonce: string, payload: Wire }
    try {
      body = JSON.parse(Buffer.from(envelope).toString('utf8')) as typeof body
    } catch (err) {
      throw new E2eeError('MALFORMED', 'The envelope could not be read.', { cause: err })
    }
    const c = [...this.#contacts.values()].find((x) => hex(x.myMailboxId) === body.to && x.accountId === body.from)
    if (c === undefined) throw new E2eeError('UNKNOWN_MAILBOX', 'The envelope is for a mailbox this device does not own.')
    if (this.#opened.has(body.nonce)) throw new E2eeError('DUPLICATE', 'This message was already received; the copy was dropped.')
    const payload = fromWire(body.payload)
    // As the real Device: what the envelope carried is stored before the session moves on, and a
    // failing store leaves the message openable again.
    o.store?.({ contactId: c.id, payload })
    this.#opened.add(body.nonce)
    if (payload.kind === 'card') {
      c.theirRelays = [...payload.card.relays]
      c.theirAddresses = [...payload.card.addresses]
      c.theirPeerId = payload.card.peerId
    }
    return { contact: view(c), payload, newContact: false }
  }

  myCard (_contactId: string, o: CardInput): Payload {
    return fromWire({ kind: 'card', id: randomBytes(16).toString('hex'), seq: 0, relays: o.relays, addresses: o.addresses, ...(o.peerId !== undefined ? { peerId: o.peerId } : {}) })
  }

  safetyNumber (): { digits: string, scannable: string } {
    return { digits: '0'.repeat(60), scannable: '' }
  }

  contacts (): ContactPort[] {
    return [...this.#contacts.values()].map(view)
  }

  contact (id: string): ContactPort | undefined {
    const c = this.#contacts.get(id)
    return c === undefined ? undefined : view(c)
  }

  #get (id: string): Contact {
    const c = this.#contacts.get(id)
    if (c === undefined) throw new E2eeError('UNKNOWN_CONTACT', 'There is no contact with that id.')
    return c
  }

  setVerified (contactId: string, v: boolean): void { this.#get(contactId).verified = v }
  renameContact (id: string, name: string): void { this.#get(id).name = name }

  // No identity keys here, so no key changes: the real flow is tested in test/e2ee/key-change.test.ts
  // and test/messenger/key-change.test.ts.
  pendingSafetyNumber (contactId: string): never {
    this.#get(contactId)
    throw new E2eeError('NO_KEY_CHANGE', 'No key change waits for this contact.')
  }

  async acceptKeyChange (contactId: string, _expected: string): Promise<void> { this.pendingSafetyNumber(contactId) }
  async blockKeyChange (contactId: string, _expected: string): Promise<void> { this.pendingSafetyNumber(contactId) }
  acceptedHeld (_contactId: string): Uint8Array[] { return [] }
  releaseHeld (_contactId: string): void {}

  inboundMailboxes (): InboundMailbox[] {
    return [...this.#contacts.values()].map((c) => ({ contactId: c.id, mailboxId: c.myMailboxId, publicKey: new Uint8Array(32), sign: () => new Uint8Array(64) }))
  }

  /** The simulated network has no retired invite mailboxes (contacts are introduced with their final ones). */
  retiredDrained (_contactId: string): void {}

  // Presence is not simulated (SimNetwork has no DHT): a record is plain JSON, opened only by its contact.
  sealPresence (contactId: string, _day: number, p: { peerId: string, addresses: readonly string[], updatedAt: number }): Uint8Array {
    return new TextEncoder().encode(JSON.stringify({ from: this.#get(contactId).id, ...p }))
  }

  openPresence (contactId: string, _day: number, sealed: Uint8Array): { peerId: string, addresses: readonly string[], updatedAt: number } {
    const p = JSON.parse(new TextDecoder().decode(sealed)) as { peerId: string, addresses: string[], updatedAt: number }
    this.#get(contactId)
    return { peerId: p.peerId, addresses: p.addresses, updatedAt: p.updatedAt }
  }

  close (): void {}
}
