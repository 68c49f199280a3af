// The messenger core: contacts, conversations, the outbox and its delivery state machine, receipts,
// mailbox draining. It joins the account (e2ee), the store and the network; it never sees raw keys.
import { createHash, randomBytes } from 'node:crypto'
import { E2eeError, isPermanent } from '../e2ee/errors.ts'
import { presenceDay, presenceKey } from '../e2ee/presence.ts'
import { clockWithNow, systemClock, type Clock, type Timer } from '../platform/clock.ts'
import type { Logger } from '../platform/logger.ts'
import { MAILBOX_RETENTION_MS } from '../wire/mailbox.ts'
import { MAX_ADDRESSES, MAX_ADDRESS_BYTES, MAX_RECEIPT_IDS, MAX_TEXT_BYTES, type Payload } from '../wire/payload.ts'
import { backoffDelay, STORED_RETRY_MS } from './backoff.ts'
import { MessengerError } from './errors.ts'
import type { HistoryStore, OutboxRow } from './history-store.ts'
import type { CardInput, ContactPort, DevicePort, InboundMailbox, MailboxSessionPort, NetworkPort } from './ports.ts'
import type {
  ContactView, DeliveryPath, InviteView, LinkKind, MessageView, Messenger, MessengerEvent, RelayView, SafetyNumberView,
  SettingsView, StatusView
} from './types.ts'
// Identity key changes (issue 14 item 8): kept apart from the imports above, which other work edits.
import { KeyChanges } from './key-change.ts'
import type { PendingSafetyNumberView } from './types.ts'

/** How long a message may wait for its recipient: the relays keep envelopes as long. */
export const MESSAGE_TTL_MS = MAILBOX_RETENTION_MS
/** Receipts and card updates are worth less than texts; they are retried for a day. */
export const CONTROL_TTL_MS = 24 * 3600_000
/** Deadline of one delivery attempt over the network (open connection, dial, circuit). */
export const DELIVER_DEADLINE_MS = 4_000
/** Deadline of one mailbox deposit. */
export const DEPOSIT_DEADLINE_MS = 5_000
/** After a direct hand-over, how long to wait for the end-to-end receipt before sending again. */
export const RECEIPT_WAIT_MS = 5_000
/** Copies wanted on distinct relays when the contact lists that many. */
export const MAILBOX_COPIES = 2
/** Attempts in flight at once: bounded so a long outbox cannot open hundreds of streams. */
export const MAX_IN_FLIGHT = 32
/** Receipts are batched per contact for this long (one libsignal message acknowledges a burst);
 * short, because it adds straight to the sender's send-to-delivered latency. */
export const RECEIPT_BATCH_MS = 2
/** A mailbox session that failed to open is tried again after this long (doubling, capped). */
export const MAILBOX_RETRY_MS = 2_000
/** A session that stayed open this long was healthy: its close is reopened at once and resets the backoff.
 * One that closes sooner (a relay restart loop, eviction, a hostile relay) counts as a failure and backs off. */
export const MAILBOX_STABLE_MS = 10_000
/** Every mailbox is fetched again this often, in case a live push was lost with a connection. */
export const MAILBOX_REFETCH_MS = 30_000
/** Card updates after an address change wait this long for the addresses to settle. */
export const CARD_DEBOUNCE_MS = 1_500
/** Settings key of the last card announced to contacts. */
const ANNOUNCED_KEY = 'announced-card'
/** Presence records are published again this often (and at each change), so they outlive DHT churn. */
export const PRESENCE_REPUBLISH_MS = 4 * 3600_000
/** Deadline of one presence lookup (the DHT walk of a small network takes well under a second). */
export const PRESENCE_LOOKUP_DEADLINE_MS = 5_000
/** A contact's presence is looked up at most this often, after a failed network attempt. */
export const PRESENCE_LOOKUP_INTERVAL_MS = 60_000

export interface NetworkExtras {
  relays?: () => RelayView[]
  nat?: () => 'public' | 'private' | 'unknown'
  connections?: () => number
  onAddressesChanged?: (cb: () => void) => void
  linkTo?: (peerId: string) => LinkKind | undefined
}

export interface MessengerOptions {
  readonly device: DevicePort<Payload>
  readonly history: HistoryStore
  readonly net: NetworkPort & NetworkExtras
  readonly logger: Logger
  /** My relays, as configured (they hold my mailboxes and carry my circuits). */
  readonly settings: () => SettingsView
  /** Called after settings were stored; the host restarts the network if needed. */
  readonly applySettings?: (s: SettingsView) => Promise<void>
  /** The time and the timers (default: the real ones); `now` alone replaces only the time. */
  readonly clock?: Clock
  readonly now?: () => number
  readonly random?: () => number
}

/** Runs async jobs one at a time: libsignal session state must not be touched by two at once. */
class Serial {
  #tail: Promise<unknown> = Promise.resolve()
  run<T> (job: () => Promise<T>): Promise<T> {
    const next = this.#tail.then(job, job)
    this.#tail = next.catch(() => {})
    return next
  }
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const sha256 = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest()

export class MessengerCore implements Messenger {
  readonly #device: DevicePort<Payload>
  readonly #history: HistoryStore
  #net: NetworkPort & NetworkExtras
  readonly #log: Logger
  readonly #clock: Clock
  readonly #now: () => number
  readonly #random: () => number
  readonly #settings: () => SettingsView
  readonly #applySettings: ((s: SettingsView) => Promise<void>) | undefined
  readonly #crypto = new Serial()
  readonly #listeners = new Set<(e: MessengerEvent) => void>()
  readonly #inFlight = new Set<string>()
  readonly #receipts = new Map<string, { delivered: Set<string>, read: Set<string> }>()
  readonly #mailboxes = new Map<string, MailboxEntry>()
  /** One pending reopen for all mailboxes (an identity rotation closes every session at once). */
  #mailboxRetry: { at: number, timer: Timer } | undefined
  /** (relay, retired mailbox) pairs found empty after their grace: no longer fetched. */
  readonly #retiredEmpty = new Set<string>()
  #receiptTimer: Timer | undefined
  #pumpTimer: Timer | undefined
  #mailboxTimer: Timer | undefined
  #cardTimer: Timer | undefined
  #presenceTimer: Timer | undefined
  /** Locations learnt from presence records, newer than the contact's last card. */
  readonly #located = new Map<string, { peerId: string, addresses: readonly string[], at: number }>()
  readonly #lookedUp = new Map<string, number>()
  #pumping = false
  #pumpAgain = false
  #kickQueued = false
  #stopped = false
  /** Identity key changes: the UI told of held envelopes, and those opened once the user accepts. */
  readonly #keyChanges: KeyChanges

  constructor (o: MessengerOptions) {
    this.#device = o.device
    this.#history = o.history
    this.#net = o.net
    this.#log = o.logger
    this.#clock = o.now !== undefined ? clockWithNow(o.now, o.clock) : (o.clock ?? systemClock)
    this.#now = () => this.#clock.now()
    this.#random = o.random ?? Math.random
    this.#settings = o.settings
    this.#applySettings = o.applySettings
    this.#keyChanges = new KeyChanges({
      device: this.#device,
      log: this.#log,
      receive: async (envelope) => { await this.receiveEnvelope(envelope, 'mailbox') },
      contactChanged: (id) => { const c = this.#device.contact(id); if (c !== undefined) this.#emit({ type: 'contact', contact: this.#contactView(c) }) },
      emit: (e) => { this.#emit(e) }
    })
  }

  /** Starts receiving, draining mailboxes and sending what the outbox holds. */
  async start (): Promise<void> {
    this.#wireNetwork()
    this.#history.pruneEnvelopes(this.#now() - MESSAGE_TTL_MS)
    this.#kick()
    await this.#syncMailboxes()
    this.#mailboxTimer = this.#clock.setInterval(() => { this.#background('syncMailboxes', this.#syncMailboxes(true)) }, MAILBOX_REFETCH_MS, { unref: true })
    this.#presenceTimer = this.#clock.setInterval(() => { this.#background('publishPresence', this.#publishPresence()) }, PRESENCE_REPUBLISH_MS, { unref: true })
    this.#background('publishPresence', this.#publishPresence())
    this.#scheduleCards()
    this.#background('openHeld', this.#keyChanges.resume())
  }

  /** Swaps the network node (after a settings change); mailbox sessions are reopened on it. */
  async replaceNetwork (net: NetworkPort & NetworkExtras): Promise<void> {
    await this.#closeMailboxes()
    this.#net = net
    this.#wireNetwork()
    this.#kick()
    await this.#syncMailboxes()
    this.#scheduleCards()
    this.#statusChanged()
  }

  #wireNetwork (): void {
    const net = this.#net
    net.onEnvelope(async (envelope, info) => { await this.receiveEnvelope(envelope, info.path) })
    net.onAddressesChanged?.(() => {
      if (this.#net !== net) return
      this.#scheduleCards()
      this.#statusChanged()
    })
  }

  /** A `status` event for subscribers (the UI's network panel): my addresses, relays or settings changed. */
  #statusChanged (): void {
    if (this.#stopped) return
    this.status().then((status) => { this.#emit({ type: 'status', status }) }, (err: unknown) => {
      this.#log.warn('status-event-failed', { error: err instanceof Error ? err.name : typeof err })
    })
  }

  async stop (): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    for (const t of [this.#pumpTimer, this.#receiptTimer, this.#cardTimer, this.#mailboxTimer, this.#presenceTimer, this.#mailboxRetry?.timer]) t?.cancel()
    await this.#closeMailboxes()
    // Let queued crypto work finish so the store is consistent when the host closes it.
    await this.#crypto.run(async () => {})
  }

  subscribe (listener: (event: MessengerEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  #emit (event: MessengerEvent): void {
    for (const l of this.#listeners) {
      try { l(event) } catch (err) { this.#log.warn('listener-failed', { error: (err as Error).name }) }
    }
  }

  /** Work nobody waits for (timers, pushes, best-effort publishing): a failure is logged, never unhandled. */
  #background (what: string, work: Promise<unknown>): void {
    work.catch((err: unknown) => {
      this.#log.warn('background-failed', { what, error: err instanceof Error ? err.name : typeof err })
    })
  }

  // ---- account, contacts, invites -------------------------------------------------------------

  #card (): CardInput {
    const peerId = this.#net.peerId
    return { relays: [...this.#settings().relays], addresses: cardAddresses(this.#net.addresses()), peerId }
  }

  async status (): Promise<StatusView> {
    const settings = this.#settings()
    return {
      accountId: this.#device.accountId,
      name: this.#device.displayName(),
      peerId: this.#net.peerId,
      addresses: this.#net.addresses(),
      relays: this.#net.relays?.() ?? settings.relays.map((address) => ({ address, state: 'connecting' as const, reservation: false })),
      nat: this.#net.nat?.() ?? 'unknown',
      outbox: this.#history.outboxSize(),
      connections: this.#net.connections?.() ?? 0,
      links: this.#links(),
      settings
    }
  }

  async createInvite (o: { expiresInMs?: number } = {}): Promise<InviteView> {
    const invite = await this.#crypto.run(async () => await this.#device.createInvite({
      ...this.#card(),
      ...(o.expiresInMs !== undefined ? { expiresInMs: o.expiresInMs } : {})
    }))
    // The invite made a new mailbox: start watching it on my relays at once.
    this.#background('syncMailboxes', this.#syncMailboxes())
    return invite
  }

  async acceptInvite (link: string, o: { name?: string } = {}): Promise<ContactView> {
    const { contact, envelope } = await this.#crypto.run(async () => await this.#device.acceptInvite(link, {
      ...(o.name !== undefined ? { name: o.name } : {}),
      card: this.#card()
    }))
    const now = this.#now()
    this.#history.queueControl(contact.id, hex(randomBytes(16)), envelope, now, now + MESSAGE_TTL_MS)
    this.#kick()
    this.#background('syncMailboxes', this.#syncMailboxes())
    this.#background('publishPresence', this.#publishPresence())
    const view = this.#contactView(contact)
    this.#emit({ type: 'contact', contact: view })
    return view
  }

  #linkOf (c: ContactPort): LinkKind | undefined {
    return c.theirPeerId !== undefined ? this.#net.linkTo?.(c.theirPeerId) : undefined
  }

  #links (): StatusView['links'] {
    const out = { direct: 0, holePunched: 0, relayed: 0 }
    for (const c of this.#device.contacts()) {
      const l = this.#linkOf(c)
      if (l === 'direct') out.direct++
      else if (l === 'hole-punched') out.holePunched++
      else if (l === 'relayed') out.relayed++
    }
    return out
  }

  #contactView (c: ContactPort): ContactView {
    const last = this.#history.last(c.id)
    const link = this.#linkOf(c)
    return {
      id: c.id,
      name: c.name,
      accountId: c.accountId,
      verified: c.verified,
      unread: this.#history.unread(c.id),
      ...(last !== undefined ? { lastMessage: last } : {}),
      ...(link !== undefined ? { link } : {}),
      ...(c.keyChange !== undefined ? { keyChange: { ...c.keyChange } } : {})
    }
  }

  #contact (id: string): ContactPort {
    const c = this.#device.contact(id)
    if (c === undefined) throw new MessengerError('UNKNOWN_CONTACT', 'There is no contact with that id.')
    return c
  }

  async contacts (): Promise<ContactView[]> {
    return this.#device.contacts().map((c) => this.#contactView(c))
      .sort((a, b) => (b.lastMessage?.at ?? 0) - (a.lastMessage?.at ?? 0) || a.name.localeCompare(b.name))
  }

  async rename (contactId: string, name: string): Promise<ContactView> {
    this.#contact(contactId)
    this.#device.renameContact(contactId, name)
    const view = this.#contactView(this.#contact(contactId))
    this.#emit({ type: 'contact', contact: view })
    return view
  }

  async safetyNumber (contactId: string): Promise<SafetyNumberView> {
    const c = this.#contact(contactId)
    return { contactId, ...this.#device.safetyNumber(contactId), verified: c.verified }
  }

  async setVerified (contactId: string, verified: boolean): Promise<void> {
    this.#contact(contactId)
    this.#device.setVerified(contactId, verified)
    this.#emit({ type: 'contact', contact: this.#contactView(this.#contact(contactId)) })
  }

  async pendingSafetyNumber (contactId: string): Promise<PendingSafetyNumberView> {
    this.#contact(contactId)
    return { contactId, ...this.#device.pendingSafetyNumber(contactId) }
  }

  async acceptKeyChange (contactId: string): Promise<ContactView> {
    this.#contact(contactId)
    await this.#keyChanges.accept(contactId)
    return this.#contactView(this.#contact(contactId))
  }

  async blockKeyChange (contactId: string): Promise<ContactView> {
    this.#contact(contactId)
    await this.#keyChanges.block(contactId)
    const view = this.#contactView(this.#contact(contactId))
    this.#emit({ type: 'contact', contact: view })
    return view
  }

  async updateSettings (patch: Partial<SettingsView>): Promise<SettingsView> {
    if (this.#applySettings === undefined) throw new MessengerError('INVALID_SETTING', 'Settings cannot be changed on this node.')
    const next: SettingsView = { ...this.#settings(), ...patch }
    await this.#applySettings(next)
    // My relays changed: contacts must learn where my mailboxes now are.
    if (patch.relays !== undefined || patch.relayOnly !== undefined) this.#scheduleCards()
    this.#statusChanged()
    return this.#settings()
  }

  // ---- sending ----------------------------------------------------------------------------------

  async send (contactId: string, text: string): Promise<MessageView> {
    if (this.#stopped) throw new MessengerError('STOPPED', 'The messenger is stopped.')
    this.#contact(contactId)
    if (typeof text !== 'string' || text.length === 0) throw new MessengerError('INVALID_TEXT', 'A message needs some text.')
    if (Buffer.byteLength(text, 'utf8') > MAX_TEXT_BYTES) {
      throw new MessengerError('INVALID_TEXT', `A message holds at most ${MAX_TEXT_BYTES} bytes of text; split it.`)
    }
    const view = await this.#crypto.run(async () => {
      const now = this.#now()
      const idBytes = randomBytes(16)
      const seq = this.#history.nextSeq(contactId, now)
      const envelope = await this.#device.seal(contactId, { kind: 'text', id: idBytes, seq, sentAt: now, text })
      return this.#history.queueOutgoing({ contactId, id: hex(idBytes), seq, text, at: now, envelope, expiresAt: now + MESSAGE_TTL_MS })
    })
    this.#emit({ type: 'message', message: view })
    this.#kick()
    return view
  }

  async messages (contactId: string, o: { limit?: number, before?: number } = {}): Promise<MessageView[]> {
    this.#contact(contactId)
    return this.#history.messages(contactId, o)
  }

  async markRead (contactId: string): Promise<void> {
    this.#contact(contactId)
    const ids = this.#history.markRead(contactId, this.#now())
    if (ids.length === 0) return
    this.#queueReceipt(contactId, ids, 'read')
    this.#emit({ type: 'contact', contact: this.#contactView(this.#contact(contactId)) })
  }

  /** A control payload (receipt, card) sealed and put in the outbox; it leaves it once handed over. */
  async #sendControl (contactId: string, payload: (id: Uint8Array) => Payload): Promise<void> {
    await this.#crypto.run(async () => {
      if (this.#device.contact(contactId) === undefined) return
      const id = randomBytes(16)
      const envelope = await this.#device.seal(contactId, payload(id))
      const now = this.#now()
      this.#history.queueControl(contactId, hex(id), envelope, now, now + CONTROL_TTL_MS)
    })
    this.#kick()
  }

  #queueReceipt (contactId: string, ids: string[], type: 'delivered' | 'read'): void {
    let pending = this.#receipts.get(contactId)
    if (pending === undefined) {
      pending = { delivered: new Set(), read: new Set() }
      this.#receipts.set(contactId, pending)
    }
    for (const id of ids) pending[type].add(id)
    this.#receiptTimer ??= this.#clock.setTimeout(() => { this.#receiptTimer = undefined; this.#background('flushReceipts', this.#flushReceipts()) }, RECEIPT_BATCH_MS)
  }

  async #flushReceipts (): Promise<void> {
    const batches = [...this.#receipts]
    this.#receipts.clear()
    for (const [contactId, pending] of batches) {
      for (const type of ['delivered', 'read'] as const) {
        const ids = [...pending[type]]
        for (let i = 0; i < ids.length; i += MAX_RECEIPT_IDS) {
          const chunk = ids.slice(i, i + MAX_RECEIPT_IDS).map((h) => Buffer.from(h, 'hex'))
          try {
            await this.#sendControl(contactId, (id) => ({ kind: 'receipt', id, seq: 0, type, ids: chunk }))
          } catch (err) {
            this.#log.warn('receipt-not-queued', { error: (err as Error).name })
          }
        }
      }
    }
  }

  #scheduleCards (): void {
    this.#cardTimer?.cancel()
    this.#cardTimer = this.#clock.setTimeout(() => { this.#cardTimer = undefined; this.#background('sendCards', this.#sendCards()) }, CARD_DEBOUNCE_MS, { unref: true })
  }

  /**
   * Tells every contact, inside the encryption, my current peer id, addresses and relays, when they
   * differ from what was last announced (also checked at start: a restart may bring a new port).
   */
  async #sendCards (): Promise<void> {
    if (this.#stopped) return
    const card = this.#card()
    const announced = JSON.stringify(card)
    if (this.#history.setting(ANNOUNCED_KEY) === announced) return
    this.#history.setSetting(ANNOUNCED_KEY, announced)
    this.#background('publishPresence', this.#publishPresence())
    for (const c of this.#device.contacts()) {
      try {
        await this.#sendControl(c.id, (id) => ({ ...this.#device.myCard(c.id, card), id }))
      } catch (err) {
        this.#log.warn('card-not-queued', { error: (err as Error).name })
      }
    }
  }

  /**
   * Publishes, for each contact, where I am now under that contact's rotating rendezvous key.
   * Best effort: without DHT servers around, contacts still learn it from my cards.
   */
  async #publishPresence (): Promise<void> {
    const publish = this.#net.publishPresence
    if (publish === undefined || this.#stopped) return
    const now = this.#now()
    const day = presenceDay(now)
    // The same bound as a card's addresses: a record over the wire limits would fail to seal, every time.
    const me = { peerId: this.#net.peerId, addresses: cardAddresses(this.#net.addresses()), updatedAt: now }
    const results = await Promise.allSettled(this.#device.contacts().map(async (c) => {
      await publish.call(this.#net, presenceKey(c.myPresenceSecret, day), this.#device.sealPresence(c.id, day, me))
    }))
    const failed = results.filter((r) => r.status === 'rejected').length
    if (failed > 0) this.#log.debug('presence-not-published', { failed, of: results.length })
  }

  /** Looks the contact up in the DHT (today's key, then yesterday's); remembers a newer location. */
  async #locate (contact: ContactPort): Promise<boolean> {
    const lookup = this.#net.lookupPresence
    const secret = contact.theirPresenceSecret
    if (lookup === undefined || secret === undefined) return false
    const now = this.#now()
    if (now - (this.#lookedUp.get(contact.id) ?? 0) < PRESENCE_LOOKUP_INTERVAL_MS) return false
    this.#lookedUp.set(contact.id, now)
    for (const day of [presenceDay(now), presenceDay(now) - 1]) {
      try {
        const sealed = await lookup.call(this.#net, presenceKey(secret, day), { signal: this.#clock.timeout(PRESENCE_LOOKUP_DEADLINE_MS) })
        if (sealed === undefined) continue
        const p = this.#device.openPresence(contact.id, day, sealed)
        const known = this.#located.get(contact.id)
        if (known !== undefined && known.at >= p.updatedAt) return false
        this.#located.set(contact.id, { peerId: p.peerId, addresses: p.addresses, at: p.updatedAt })
        return true
      } catch (err) {
        this.#log.debug('presence-lookup-failed', { error: (err as Error).name })
      }
    }
    return false
  }

  /** Where to try a contact: its card's peer id, with the addresses a presence record added for that same peer id. */
  #where (contact: ContactPort): { peerId?: string | undefined, addresses: readonly string[] } {
    const found = this.#located.get(contact.id)
    // Only a card (inside the session) says which peer id a contact is; presence can only add addresses.
    if (found !== undefined && found.peerId === contact.theirPeerId) {
      return { peerId: contact.theirPeerId, addresses: [...new Set([...found.addresses, ...contact.theirAddresses])] }
    }
    return { peerId: contact.theirPeerId, addresses: contact.theirAddresses }
  }

  /** For tests and status: the location a presence lookup found for a contact. */
  async locateForTest (contactId: string): Promise<{ peerId: string, addresses: readonly string[] } | undefined> {
    this.#lookedUp.delete(contactId)
    await this.#locate(this.#contact(contactId))
    return this.#located.get(contactId)
  }

  // ---- the delivery state machine ------------------------------------------------------------

  /** Asks for a pump on the next turn of the event loop: a burst of sends or acks makes one query. */
  #kick (): void {
    if (this.#stopped) return
    if (this.#pumping) { this.#pumpAgain = true; return }
    if (this.#kickQueued) return
    this.#kickQueued = true
    this.#clock.setImmediate(() => {
      this.#kickQueued = false
      if (!this.#stopped) this.#background('pump', this.#pump())
    })
  }

  async #pump (): Promise<void> {
    this.#pumping = true
    try {
      do {
        this.#pumpAgain = false
        if (this.#pumpTimer !== undefined) { this.#pumpTimer.cancel(); this.#pumpTimer = undefined }
        const room = MAX_IN_FLIGHT - this.#inFlight.size
        if (room <= 0) break
        const due = this.#history.due(this.#now(), room + this.#inFlight.size)
          .filter((r) => !this.#inFlight.has(`${r.contactId}/${r.messageId}`))
          .slice(0, room)
        for (const row of due) {
          const key = `${row.contactId}/${row.messageId}`
          this.#inFlight.add(key)
          // Rejections end in the .catch; .finally only frees the slot.
          void this.#attempt(row).catch((err: unknown) => {
            this.#log.warn('attempt-crashed', { error: (err as Error).name })
          }).finally(() => {
            this.#inFlight.delete(key)
            this.#kick()
          })
        }
        // stop() may have run during the awaits above (the compiler narrows #stopped as if not).
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
      } while (this.#pumpAgain && !this.#stopped)
    } finally {
      this.#pumping = false
    }
    if (this.#stopped) return
    // Rows due by now are in flight (or the flight is full): each attempt's end kicks the pump, so
    // the timer waits only for the first row due later, never polls while attempts run.
    const next = this.#history.nextDueAt(this.#now())
    if (next !== undefined && this.#inFlight.size < MAX_IN_FLIGHT) {
      const delay = Math.max(10, next - this.#now())
      this.#pumpTimer = this.#clock.setTimeout(() => { this.#pumpTimer = undefined; this.#kick() }, Math.min(delay, 60_000))
    }
  }

  /** One attempt for one outbox row: the network first, then mailboxes; reschedules or finishes. */
  async #attempt (row: OutboxRow): Promise<void> {
    const now = this.#now()
    const contact = this.#device.contact(row.contactId)
    if (contact === undefined) {
      this.#history.removeOutbox(row.contactId, row.messageId)
      return
    }
    if (now >= row.expiresAt) {
      this.#history.removeOutbox(row.contactId, row.messageId)
      if (row.kind === 'text') this.#advance(row.contactId, row.messageId, 'failed', { failure: 'Not delivered: the contact was unreachable until the message expired.' })
      return
    }
    const attempts = row.attempts + 1
    const path = await this.#tryNetwork(contact, row.envelope)
    // The DHT may know a newer location: look it up without holding this attempt (a lookup can take
    // seconds); if it finds one, everything queued for the contact is tried again at once.
    if (path === undefined && !this.#stopped) {
      this.#background('locate', this.#locate(contact).then((found) => {
        if (!found || this.#stopped) return
        this.#history.retryContactNow(contact.id, this.#now())
        this.#kick()
      }))
    }
    if (this.#stopped) return
    this.#log.debug('attempt', { kind: row.kind, attempts, path: path ?? 'none' })
    if (path !== undefined) {
      if (row.kind === 'control') { this.#history.removeOutbox(row.contactId, row.messageId); return }
      this.#history.rescheduleOutbox(row.contactId, row.messageId, { attempts, nextAttemptAt: this.#now() + Math.max(RECEIPT_WAIT_MS, backoffDelay(attempts, this.#random)), state: 'sent' })
      this.#advance(row.contactId, row.messageId, 'sent', { path })
      return
    }
    const copies = await this.#deposit(contact, row.envelope)
    // stop() may have run during the deposit.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
    if (this.#stopped) return
    const wanted = Math.min(MAILBOX_COPIES, contact.theirRelays.length)
    if (copies > 0) {
      if (row.kind === 'control' && copies >= wanted) { this.#history.removeOutbox(row.contactId, row.messageId); return }
      const wait = copies >= wanted ? STORED_RETRY_MS : backoffDelay(attempts, this.#random)
      this.#history.rescheduleOutbox(row.contactId, row.messageId, { attempts, nextAttemptAt: this.#now() + wait, state: 'stored' })
      if (row.kind === 'text') this.#advance(row.contactId, row.messageId, 'stored', { path: 'mailbox' })
      return
    }
    this.#history.rescheduleOutbox(row.contactId, row.messageId, { attempts, nextAttemptAt: this.#now() + backoffDelay(attempts, this.#random) })
  }

  /** An open connection, a direct dial or a relayed circuit, as the network layer can. */
  async #tryNetwork (contact: ContactPort, envelope: Uint8Array): Promise<DeliveryPath | undefined> {
    const where = this.#where(contact)
    const peerId = where.peerId
    if (peerId === undefined) return undefined
    const circuits = contact.theirRelays.map((r) => `${r}/p2p-circuit/p2p/${peerId}`)
    const addresses = [...new Set([...where.addresses, ...circuits])]
    try {
      return await this.#net.deliver({ peerId, addresses }, envelope, { signal: this.#clock.timeout(DELIVER_DEADLINE_MS) })
    } catch (err) {
      this.#log.debug('deliver-failed', { error: (err as Error).name })
      return undefined
    }
  }

  /** Deposits copies on the contact's relays; returns how many relays said the copy is durable. */
  async #deposit (contact: ContactPort, envelope: Uint8Array): Promise<number> {
    const relays = contact.theirRelays
    if (relays.length === 0) return 0
    const results = await Promise.allSettled(relays.map(async (relay) => {
      await this.#net.deposit(relay, contact.theirMailboxId, envelope, { signal: this.#clock.timeout(DEPOSIT_DEADLINE_MS) })
    }))
    const ok = results.filter((r) => r.status === 'fulfilled').length
    if (ok < results.length) this.#log.debug('deposit-partial', { ok, of: results.length })
    return ok
  }

  #advance (contactId: string, id: string, state: MessageView['state'], o: { path?: DeliveryPath, failure?: string } = {}): void {
    const view = this.#history.advance(contactId, id, state, o)
    if (view !== undefined) this.#emit({ type: 'message-state', message: view })
  }

  // ---- receiving ------------------------------------------------------------------------------

  /**
   * Handles one envelope from any path. Resolves once what it carried is stored (the network layer
   * and the relays acknowledge only then); rejects for envelopes that are not ours or are damaged.
   */
  async receiveEnvelope (envelope: Uint8Array, path: DeliveryPath): Promise<void> {
    const hash = sha256(envelope)
    const now = this.#now()
    let stored: MessageView | undefined
    const changed: MessageView[] = []
    // What the envelope carried is written in the transaction that commits the session change, so
    // a crash can never consume a message key without keeping the message (or the receipt's effect).
    const record = ({ contactId, payload }: { contactId: string, payload: Payload }): void => {
      this.#history.rememberEnvelope(hash, contactId, payload.kind === 'text' ? hex(payload.id) : null, now)
      if (payload.kind === 'text') {
        stored = this.#history.receive({ contactId, id: hex(payload.id), seq: payload.seq, text: payload.text, sentAt: payload.sentAt, at: now, path })
      } else if (payload.kind === 'receipt') {
        const state = payload.type === 'read' ? 'read' : 'delivered'
        for (const raw of payload.ids) {
          const id = hex(raw)
          this.#history.removeOutbox(contactId, id)
          const view = this.#history.advance(contactId, id, state)
          if (view !== undefined) changed.push(view)
        }
      }
    }
    const opened = await this.#crypto.run(async () => {
      const seen = this.#history.seenEnvelope(hash)
      if (seen !== undefined) return { seen, result: undefined }
      try {
        return { seen: undefined, result: await this.#device.openEnvelope(envelope, { store: record }) }
      } catch (err) {
        this.#keyChanges.refused(err)
        throw err
      }
    })
    if (opened.result === undefined) {
      // Sent again because our receipt was lost, or arrived by a second path: receipt once more.
      const seen = opened.seen
      if (seen.messageId !== null) this.#queueReceipt(seen.contactId, [seen.messageId], 'delivered')
      return
    }
    const { contact, payload, newContact } = opened.result
    for (const view of changed) this.#emit({ type: 'message-state', message: view })
    if (payload.kind === 'text') {
      this.#queueReceipt(contact.id, [hex(payload.id)], 'delivered')
      if (stored !== undefined) {
        this.#emit({ type: 'message', message: stored })
        // The contact's unread count and last message changed; computed only for a listener.
        if (this.#listeners.size > 0) this.#emit({ type: 'contact', contact: this.#contactView(contact) })
      }
    } else if (payload.kind === 'card') {
      // The e2ee layer has stored the new location; send what waited for it.
      this.#located.delete(contact.id)
      this.#kick()
      // The card may carry a new display name.
      if (!newContact) this.#emit({ type: 'contact', contact: this.#contactView(contact) })
    }
    if (newContact) {
      // My invite was answered: my first card moves the contact off the invite's mailbox and presence
      // secret (both known to whoever saw the invite) to fresh ones, inside the session.
      this.#background('first-card', this.#sendControl(contact.id, (id) => ({ ...this.#device.myCard(contact.id, this.#card()), id })))
      this.#emit({ type: 'contact', contact: this.#contactView(contact) })
      this.#background('syncMailboxes', this.#syncMailboxes())
      this.#background('publishPresence', this.#publishPresence())
    }
  }

  // ---- mailboxes ---------------------------------------------------------------------------------

  async #closeMailboxes (): Promise<void> {
    const sessions = [...this.#mailboxes.values()].map((m) => m.session).filter((s) => s !== undefined)
    this.#mailboxes.clear()
    await Promise.allSettled(sessions.map(async (s) => { await s.close() }))
  }

  /** Opens a session for every (relay, mailbox of mine) pair that has none; drains what waits. */
  async #syncMailboxes (refetch = false): Promise<void> {
    if (this.#stopped) return
    const relays = this.#settings().relays
    const boxes = this.#device.inboundMailboxes()
    const now = this.#now()
    // Mailboxes no longer listed (a retired invite mailbox, drained) are no longer fetched.
    const listed = new Set(relays.flatMap((relay) => boxes.map((box) => `${relay} ${hex(box.mailboxId)}`)))
    for (const [key, entry] of [...this.#mailboxes]) {
      if (listed.has(key)) continue
      this.#mailboxes.delete(key)
      // Closing is best effort: the session is already forgotten, and the relay drops it with the connection anyway.
      void entry.session?.close().catch(() => {})
    }
    await Promise.allSettled(relays.flatMap((relay) => boxes.map(async (box) => {
      const key = `${relay} ${hex(box.mailboxId)}`
      if (this.#retiredEmpty.has(key)) return
      const entry = this.#mailboxes.get(key) ?? { retryAt: 0, failures: 0 }
      this.#mailboxes.set(key, entry)
      if (entry.session !== undefined) {
        if (refetch && await this.#drain(entry.session, key)) this.#retiredCheck(box, key, relays)
        return
      }
      // One open per mailbox at a time: syncs overlap (refetch timer, reopen after a close, a new contact).
      if (entry.opening === true) return
      // Not due yet: make sure a reopen is scheduled for it (the one shared timer may be set for another box).
      if (entry.retryAt > now) { this.#scheduleMailboxRetry(entry.retryAt); return }
      entry.opening = true
      let session: MailboxSessionPort
      try {
        session = await this.#net.openMailbox(relay, box)
      } catch (err) {
        entry.opening = false
        this.#mailboxFailed(entry, (err as Error).name)
        return
      }
      entry.opening = false
      if (this.#stopped || this.#mailboxes.get(key) !== entry) { await session.close().catch(() => {}); return }
      const openedAt = this.#now()
      entry.session = session
      entry.kept = false
      session.onPush((item) => { this.#background('take', this.#take(session, item)) })
      // A session that ends (relay restart, identity rotation) is reopened at once if it had been healthy,
      // with backoff if it closed soon after opening (else a relay that drops it loops us at full speed).
      session.onClose?.(() => {
        if (this.#stopped || this.#mailboxes.get(key) !== entry || entry.session !== session) return
        entry.session = undefined
        if (this.#now() - openedAt >= MAILBOX_STABLE_MS) {
          entry.failures = 0
          entry.retryAt = this.#now()
          this.#scheduleMailboxRetry(entry.retryAt)
        } else {
          this.#mailboxFailed(entry, 'closed-early')
        }
      })
      if (await this.#drain(session, key)) this.#retiredCheck(box, key, relays)
    })))
  }

  #mailboxFailed (entry: MailboxEntry, error: string): void {
    entry.failures++
    entry.retryAt = this.#now() + Math.min(MAILBOX_REFETCH_MS, MAILBOX_RETRY_MS * 2 ** (entry.failures - 1))
    this.#log.debug('mailbox-unreachable', { error, failures: entry.failures })
    this.#scheduleMailboxRetry(entry.retryAt)
  }

  /** Keeps one timer, for the earliest reopen asked for. */
  #scheduleMailboxRetry (at: number): void {
    if (this.#stopped) return
    if (this.#mailboxRetry !== undefined && this.#mailboxRetry.at <= at) return
    this.#mailboxRetry?.timer.cancel()
    const timer = this.#clock.setTimeout(() => {
      this.#mailboxRetry = undefined
      this.#background('syncMailboxes', this.#syncMailboxes())
    }, Math.max(0, at - this.#now()) + 5, { unref: true })
    this.#mailboxRetry = { at, timer }
  }

  /**
   * A retired invite mailbox found empty on a relay after its grace is closed there; once it is empty on every
   * relay, the device stops listing it (its key still opens late copies that come by another path).
   */
  #retiredCheck (box: InboundMailbox, key: string, relays: readonly string[]): void {
    if (box.stopWhenEmpty !== true) return
    this.#retiredEmpty.add(key)
    const entry = this.#mailboxes.get(key)
    this.#mailboxes.delete(key)
    // Best effort, as above: the mailbox is done with on this relay.
    void entry?.session?.close().catch(() => {})
    if (relays.every((r) => this.#retiredEmpty.has(`${r} ${hex(box.mailboxId)}`))) {
      this.#device.retiredDrained(box.contactId)
      this.#log.info('mailbox-retired')
    }
  }

  /** Fetches and handles every page; true when the mailbox was left empty (everything taken and acknowledged). */
  async #drain (session: MailboxSessionPort, key: string): Promise<boolean> {
    try {
      for (;;) {
        const items = await session.fetch()
        if (items.length === 0) return this.#mailboxes.get(key)?.kept !== true
        const done: Uint8Array[] = []
        for (const item of items) {
          if (await this.#handleMailboxItem(item)) done.push(item.id)
        }
        if (done.length > 0) await session.ack(done)
        if (done.length < items.length) {
          const entry = this.#mailboxes.get(key)
          if (entry !== undefined) entry.kept = true
          return false
        }
      }
    } catch (err) {
      this.#log.debug('mailbox-drain-failed', { error: (err as Error).name })
      const entry = this.#mailboxes.get(key)
      if (entry !== undefined && entry.session === session) {
        entry.session = undefined
        entry.retryAt = this.#now()
        this.#scheduleMailboxRetry(this.#now() + MAILBOX_RETRY_MS)
      }
      await session.close().catch(() => {})
      return false
    }
  }

  async #take (session: MailboxSessionPort, item: { id: Uint8Array, envelope: Uint8Array }): Promise<void> {
    if (await this.#handleMailboxItem(item)) {
      await session.ack([item.id]).catch((err: unknown) => {
        this.#log.debug('mailbox-ack-failed', { error: (err as Error).name })
      })
    }
  }

  /** True when the envelope may be deleted from the relay: stored here, a duplicate, or garbage. */
  async #handleMailboxItem (item: { id: Uint8Array, envelope: Uint8Array }): Promise<boolean> {
    try {
      await this.receiveEnvelope(item.envelope, 'mailbox')
      return true
    } catch (err) {
      this.#log.warn('mailbox-envelope-rejected', { error: err instanceof Error ? err.name : typeof err, code: E2eeError.is(err) ? err.code : undefined })
      // Delete the copy only when it can never open (src/e2ee/errors.ts isPermanent); keep it on a
      // store failure or a text that overtook the card introducing its sender.
      return isPermanent(err)
    }
  }

  /** For tests and status: mailbox sessions open now. */
  openMailboxCount (): number {
    return [...this.#mailboxes.values()].filter((m) => m.session !== undefined).length
  }

  /** For the host: my inbound mailboxes (net layer needs them for nothing else). */
  inboundMailboxes (): InboundMailbox[] {
    return this.#device.inboundMailboxes()
  }
}

/**
 * The addresses a card or invite can carry (MAX_ADDRESSES, each at most MAX_ADDRESS_BYTES): a node
 * with many relays has more circuit addresses than that. Direct addresses go first (a contact tries
 * them first), then circuits; the relays themselves travel in the card's own list.
 */
interface MailboxEntry {
  session?: MailboxSessionPort | undefined
  /** An open is under way (no second one starts). */
  opening?: boolean
  retryAt: number
  failures: number
  kept?: boolean
}

export function cardAddresses (all: readonly string[]): string[] {
  const fits = [...new Set(all)].filter((a) => Buffer.byteLength(a, 'utf8') <= MAX_ADDRESS_BYTES)
  const direct = fits.filter((a) => !a.includes('/p2p-circuit'))
  const circuits = fits.filter((a) => a.includes('/p2p-circuit'))
  return [...direct, ...circuits].slice(0, MAX_ADDRESSES)
}
