// An in-memory DeviceHost/Messenger for unit tests of the API, CLI and UI. Fake hosts made from one
// FakeNetwork can invite each other and exchange messages (states queued -> sent -> delivered ->
// read), throwing the real layers' typed errors. No crypto and no network: never use it where the
// real messenger is under test.
import { randomBytes } from 'node:crypto'
import type {
  ContactView, DeviceHost, HostState, InviteView, KeyChangeView, MessageView, Messenger, MessengerEvent,
  PendingSafetyNumberView, SafetyNumberView, SettingsView, StatusView
} from '../../src/messenger/types.ts'
import { E2eeError } from '../../src/e2ee/errors.ts'
import { IdentityError } from '../../src/identity/errors.ts'
import { MessengerError } from '../../src/messenger/errors.ts'
import { StoreError } from '../../src/store/errors.ts'
import type { PendingInviteView, SearchHitView } from '../../src/messenger/types.ts'
import { nextContactRev } from '../../src/messenger/contact-rev.ts'


interface FakeContact { id: string, name: string, peer: FakeMessenger, verified: boolean, keyChange?: KeyChangeView, keyChanges?: number }

export class FakeNetwork {
  readonly messengers = new Map<string, FakeMessenger>()
  /** Delay of each delivery step, so that states are observable. */
  stepMs = 5
}

export class FakeMessenger implements Messenger {
  readonly accountId: string
  name: string
  readonly peerId = '12D3KooWFake' + randomBytes(8).toString('hex')
  readonly net: FakeNetwork
  readonly contactsById = new Map<string, FakeContact>()
  readonly messagesByContact = new Map<string, MessageView[]>()
  readonly listeners = new Set<(e: MessengerEvent) => void>()
  settings: SettingsView = { relayOnly: false, lanDiscovery: false, relays: ['/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWRelay'], fetchIsolation: 'device' }
  stopped = false
  #seq = new Map<string, number>()

  constructor (net: FakeNetwork, name: string) {
    this.net = net
    this.name = name
    this.accountId = randomBytes(10).toString('hex').toUpperCase().match(/.{4}/g)?.join('-') ?? ''
    net.messengers.set(this.accountId, this)
  }

  emit (e: MessengerEvent): void { for (const l of this.listeners) l(e) }

  #view (c: FakeContact): ContactView {
    const msgs = this.messagesByContact.get(c.id) ?? []
    const last = msgs.at(-1)
    const unread = msgs.filter((m) => m.direction === 'in' && m.state !== 'read').length
    return {
      id: c.id,
      name: c.name,
      accountId: c.peer.accountId,
      verified: c.verified,
      unread,
      rev: nextContactRev(),
      ...(c.keyChange === undefined ? {} : { keyChange: { ...c.keyChange } }),
      ...(last === undefined ? {} : { lastMessage: { text: last.text, at: last.at, direction: last.direction } })
    }
  }

  #contact (id: string): FakeContact {
    const c = this.contactsById.get(id)
    if (c === undefined) throw new MessengerError('UNKNOWN_CONTACT', 'There is no such contact.')
    return c
  }

  #contactFor (peer: FakeMessenger): FakeContact | undefined {
    return [...this.contactsById.values()].find((c) => c.peer === peer)
  }

  #addContact (peer: FakeMessenger, name: string): FakeContact {
    const existing = this.#contactFor(peer)
    if (existing !== undefined) return existing
    const c: FakeContact = { id: randomBytes(8).toString('hex'), name, peer, verified: false }
    this.contactsById.set(c.id, c)
    this.messagesByContact.set(c.id, [])
    this.emit({ type: 'contact', contact: this.#view(c) })
    return c
  }

  #setState (contactId: string, id: string, patch: Partial<MessageView>): MessageView | undefined {
    const list = this.messagesByContact.get(contactId) ?? []
    const i = list.findIndex((m) => m.id === id)
    const m = list[i]
    if (m === undefined) return undefined
    const next = { ...m, ...patch }
    list[i] = next
    this.emit({ type: 'message-state', message: next })
    return next
  }

  async status (): Promise<StatusView> {
    return {
      accountId: this.accountId,
      name: this.name,
      peerId: this.peerId,
      addresses: ['/ip4/127.0.0.1/tcp/40000/p2p/' + this.peerId],
      relays: this.settings.relays.map((address) => ({ address, state: 'connected' as const, reservation: true })),
      nat: 'unknown',
      outbox: [...this.messagesByContact.values()].flat().filter((m) => m.direction === 'out' && (m.state === 'queued' || m.state === 'sent')).length,
      connections: this.contactsById.size,
      links: { direct: this.contactsById.size, holePunched: 0, relayed: 0 },
      settings: this.settings
    }
  }

  async createInvite (): Promise<InviteView> {
    const payload = Buffer.from(JSON.stringify({ a: this.accountId, n: this.name })).toString('base64url')
    return { link: '0m1:' + payload, expiresAt: Date.now() + 7 * 24 * 3600 * 1000 }
  }

  async acceptInvite (link: string, options?: { name?: string }): Promise<ContactView> {
    if (!link.startsWith('0m1:')) throw new IdentityError('INVITE_MALFORMED', 'This is not a 0message1 invite link.')
    let parsed: { a?: string, n?: string }
    try {
      parsed = JSON.parse(Buffer.from(link.slice(4), 'base64url').toString('utf8')) as { a?: string, n?: string }
    } catch {
      throw new IdentityError('INVITE_MALFORMED', 'This invite link is damaged; ask for a new one.')
    }
    const inviter = this.net.messengers.get(parsed.a ?? '')
    if (inviter === undefined) throw new IdentityError('INVITE_MALFORMED', 'This invite link is damaged; ask for a new one.')
    if (inviter === this) throw new IdentityError('INVITE_OWN', 'This is your own invite.')
    const c = this.#addContact(inviter, options?.name ?? parsed.n ?? 'Contact')
    setTimeout(() => { if (!inviter.stopped) inviter.#addContact(this, this.name) }, this.net.stepMs)
    return this.#view(c)
  }

  async contacts (): Promise<ContactView[]> { return [...this.contactsById.values()].map((c) => this.#view(c)) }

  async rename (contactId: string, name: string): Promise<ContactView> {
    const c = this.#contact(contactId)
    c.name = name
    const v = this.#view(c)
    this.emit({ type: 'contact', contact: v })
    return v
  }

  async send (contactId: string, text: string): Promise<MessageView> {
    const c = this.#contact(contactId)
    const seq = (this.#seq.get(contactId) ?? 0) + 1
    this.#seq.set(contactId, seq)
    const m: MessageView = { id: randomBytes(16).toString('hex'), contactId, direction: 'out', text, seq, at: Date.now(), state: 'queued' }
    this.messagesByContact.get(contactId)?.push(m)
    this.emit({ type: 'message', message: m })
    const step = this.net.stepMs
    setTimeout(() => {
      if (this.stopped) return
      this.#setState(contactId, m.id, { state: 'sent' })
      setTimeout(() => {
        const peer = c.peer
        if (this.stopped || peer.stopped) return
        const back = peer.#contactFor(this)
        if (back === undefined) return
        const incoming: MessageView = { ...m, contactId: back.id, direction: 'in', at: Date.now(), state: 'delivered', path: 'direct' }
        peer.messagesByContact.get(back.id)?.push(incoming)
        peer.emit({ type: 'message', message: incoming })
        peer.emit({ type: 'contact', contact: peer.#view(back) })
        this.#setState(contactId, m.id, { state: 'delivered', path: 'direct' })
        this.emit({ type: 'contact', contact: this.#view(c) })
      }, step)
    }, step)
    return m
  }

  async messages (contactId: string, options?: { limit?: number, before?: number, after?: { direction: 'in' | 'out', id: string } }): Promise<MessageView[]> {
    this.#contact(contactId)
    let list = this.messagesByContact.get(contactId) ?? []
    if (options?.before !== undefined) list = list.filter((m) => m.at < (options.before as number))
    // The page before a message (the double keeps the order messages came in, which is the node's for its senders).
    const after = options?.after
    if (after !== undefined) {
      const i = list.findIndex((m) => m.id === after.id && m.direction === after.direction)
      if (i === -1) throw new MessengerError('UNKNOWN_MESSAGE', 'The message to page back from is not in this conversation any more: fetch the newest page again.')
      list = list.slice(0, i)
    }
    return list.slice(-(options?.limit ?? 100))
  }

  async markRead (contactId: string): Promise<void> {
    const c = this.#contact(contactId)
    const list = this.messagesByContact.get(contactId) ?? []
    for (const m of list) {
      if (m.direction !== 'in' || m.state === 'read') continue
      this.#setState(contactId, m.id, { state: 'read' })
      const back = c.peer.#contactFor(this)
      if (back !== undefined) c.peer.#setState(back.id, m.id, { state: 'read' })
    }
    this.emit({ type: 'contact', contact: this.#view(c) })
  }

  /** Test hook: the contact's identity key changed (one held message), as the real device records it.
   * Each call is another new key (with another safety number) that replaces a pending one. */
  simulateKeyChange (contactId: string): void {
    const c = this.#contact(contactId)
    c.keyChanges = (c.keyChanges ?? 0) + 1
    c.keyChange = { at: Date.now(), state: 'pending', held: 1 }
    this.emit({ type: 'contact', contact: this.#view(c) })
  }

  #pending (contactId: string, expected?: string): FakeContact & { keyChange: KeyChangeView } {
    const c = this.#contact(contactId)
    if (c.keyChange?.state !== 'pending') throw new E2eeError('NO_KEY_CHANGE', "This contact's identity key has not changed, or the change was already decided.")
    if (expected !== undefined && expected.replace(/\s+/g, '') !== FakeMessenger.#digits(c)) {
      throw new E2eeError('KEY_CHANGE_MOVED', "The contact's pending identity key is not the one whose safety number you compared.")
    }
    return c as FakeContact & { keyChange: KeyChangeView }
  }

  /** The first new key's number is all 9s, the next all 8s, and so on. */
  static #digits (c: FakeContact): string { return String((10 - (c.keyChanges ?? 1) % 10) % 10).repeat(60) }

  async pendingSafetyNumber (contactId: string): Promise<PendingSafetyNumberView> {
    const c = this.#pending(contactId)
    const digits = FakeMessenger.#digits(c)
    return { contactId, digits, scannable: Buffer.from(digits).toString('base64'), at: c.keyChange.at, held: c.keyChange.held }
  }

  async acceptKeyChange (contactId: string, expected: string): Promise<ContactView> {
    const c = this.#pending(contactId, expected)
    c.keyChange = { ...c.keyChange, state: 'accepted', held: 0, decidedAt: Date.now() }
    c.verified = false
    const v = this.#view(c)
    this.emit({ type: 'contact', contact: v })
    return v
  }

  async blockKeyChange (contactId: string, expected: string): Promise<ContactView> {
    const c = this.#pending(contactId, expected)
    c.keyChange = { ...c.keyChange, state: 'blocked', held: 0, decidedAt: Date.now() }
    const v = this.#view(c)
    this.emit({ type: 'contact', contact: v })
    return v
  }

  async safetyNumber (contactId: string): Promise<SafetyNumberView> {
    const c = this.#contact(contactId)
    const ids = [this.accountId, c.peer.accountId].sort().join('')
    const digits = [...Buffer.from(ids)].map((b) => String(b % 10)).join('').padEnd(60, '0').slice(0, 60)
    return { contactId, digits, scannable: Buffer.from(ids).toString('base64'), verified: c.verified }
  }

  async setVerified (contactId: string, verified: boolean): Promise<void> {
    const c = this.#contact(contactId)
    c.verified = verified
    this.emit({ type: 'contact', contact: this.#view(c) })
  }

  async updateSettings (patch: Partial<SettingsView>): Promise<SettingsView> {
    this.settings = { ...this.settings, ...patch }
    this.emit({ type: 'status', status: await this.status() })
    return this.settings
  }

  subscribe (listener: (e: MessengerEvent) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  async stop (): Promise<void> { this.stopped = true; this.listeners.clear() }

  /** Models opening the same data directory again after stop(). */
  reopen (): void { this.stopped = false }

  // ---- issue 13 chat features: local effects only (the real ones: test/messenger/chat-features.test.ts) ----
  readonly blocked = new Set<string>()
  readonly invitesRevoked: string[] = []

  #message (contactId: string, id: string): MessageView {
    const m = (this.messagesByContact.get(this.#contact(contactId).id) ?? []).find((x) => x.id === id)
    if (m === undefined) throw new MessengerError('UNKNOWN_MESSAGE', 'There is no message with that id in this conversation.')
    return m
  }

  #replace (m: MessageView): MessageView {
    const list = this.messagesByContact.get(m.contactId) ?? []
    this.messagesByContact.set(m.contactId, list.map((x) => x.id === m.id ? m : x))
    this.emit({ type: 'message-state', message: m })
    return m
  }

  async editMessage (contactId: string, messageId: string, text: string): Promise<MessageView> {
    const m = this.#message(contactId, messageId)
    if (m.direction !== 'out') throw new MessengerError('NOT_YOURS', 'Only messages you sent can be edited.')
    return this.#replace({ ...m, text, editedAt: Date.now() })
  }

  async deleteMessage (contactId: string, messageId: string, o: { forEveryone?: boolean } = {}): Promise<MessageView | undefined> {
    const m = this.#message(contactId, messageId)
    if (o.forEveryone !== true) {
      this.messagesByContact.set(contactId, (this.messagesByContact.get(contactId) ?? []).filter((x) => x.id !== messageId))
      this.emit({ type: 'message-removed', contactId, id: messageId, direction: m.direction })
      return undefined
    }
    if (m.direction !== 'out') throw new MessengerError('NOT_YOURS', 'Only messages you sent can be deleted for everyone.')
    return this.#replace({ ...m, text: '', deleted: true })
  }

  async search (query: string): Promise<SearchHitView[]> {
    const q = query.toLowerCase()
    return [...this.messagesByContact.values()].flat().filter((m) => m.text.toLowerCase().includes(q))
      .map((m) => ({ contactId: m.contactId, messageId: m.id, direction: m.direction, at: m.at, snippet: m.text }))
  }

  async setBlocked (contactId: string, blocked: boolean): Promise<ContactView> {
    const c = this.#contact(contactId)
    if (blocked) this.blocked.add(c.id)
    else this.blocked.delete(c.id)
    return { ...this.#view(c), ...(blocked ? { blocked: true } : {}) }
  }

  async deleteContact (contactId: string): Promise<void> {
    const c = this.#contact(contactId)
    this.contactsById.delete(c.id)
    this.messagesByContact.delete(c.id)
    this.emit({ type: 'contact-removed', contactId: c.id, rev: nextContactRev() })
  }

  async pendingInvites (): Promise<PendingInviteView[]> { return [] }

  async revokeInvite (id: string): Promise<void> { this.invitesRevoked.push(id) }

  async shortInvite (): Promise<{ short: string, link: string, expiresAt: number }> {
    const invite = await this.createInvite()
    return { short: '0m1s:fake', link: invite.link, expiresAt: invite.expiresAt }
  }
}

export class FakeHost implements DeviceHost {
  readonly net: FakeNetwork
  #state: HostState
  #messenger: FakeMessenger | undefined
  #passphrase: string | undefined
  #name = ''

  constructor (net: FakeNetwork, o: { state?: HostState, name?: string, passphrase?: string } = {}) {
    this.net = net
    this.#state = o.state ?? 'no-account'
    this.#passphrase = o.passphrase
    if (this.#state === 'ready') this.#messenger = new FakeMessenger(net, o.name ?? 'Me')
    if (this.#state === 'locked') this.#name = o.name ?? 'Me'
  }

  state (): HostState { return this.#state }
  messenger (): FakeMessenger | undefined { return this.#messenger }

  async createAccount (o: { name: string, passphrase?: string }): Promise<FakeMessenger> {
    if (this.#state !== 'no-account') throw new E2eeError('ACCOUNT_EXISTS', 'This data directory already has an account.')
    this.#passphrase = o.passphrase
    this.#messenger = new FakeMessenger(this.net, o.name)
    this.#state = 'ready'
    return this.#messenger
  }

  async unlock (passphrase: string): Promise<FakeMessenger> {
    if (this.#state === 'ready' && this.#messenger !== undefined) return this.#messenger
    if (this.#state !== 'locked') throw new E2eeError('NO_ACCOUNT', 'There is no account to unlock.')
    if (passphrase !== this.#passphrase) throw new StoreError('WRONG_KEY', 'The passphrase is wrong.')
    this.#messenger = new FakeMessenger(this.net, this.#name)
    this.#state = 'ready'
    return this.#messenger
  }

  async stop (): Promise<void> { await this.#messenger?.stop() }
}
