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
import { DuplicateAnswers, PendingReceipts, type TakenReceipts } from './receipts.ts'
import type { HistoryStore, OutboxRow } from './history-store.ts'
import { History } from './history.ts'
import type { CardInput, ContactPort, DeliverOutcome, DeviceBatchPort, DevicePort, InboundMailbox, MailboxSessionPort, NetworkPort, OpenedPort } from './ports.ts'
import type {
  ContactView, DeliveryPath, InviteView, LinkKind, MessageView, Messenger, MessengerEvent, RelayView, SafetyNumberView,
  SettingsView, StatusView
} from './types.ts'
// Identity key changes (issue 14 item 8): kept apart from the imports above, which other work edits.
import { KeyChanges } from './key-change.ts'
import { BatchQueue, type BatchResult } from './batch-queue.ts'
import { flushWrites } from '../net/muxer-writes.ts'
import { samePeer } from '../net/peer-ids.ts'
import { SentPaths } from './sent-paths.ts'
import { WakeTimer } from './wake-timer.ts'
import { SharedDeadlines } from './shared-deadline.ts'
import { ContactUpdates } from './contact-updates.ts'
import type { PendingSafetyNumberView } from './types.ts'
import { nextContactRev } from './contact-rev.ts'
// Issue 13 chat features (reply, edit, delete, search, block, delete contact, pending invites): src/messenger/chat/.
import { isMessagePayload, type FileCancelReason } from '../wire/payload.ts'
import { ChatFeatures, type ChatHooks } from './chat/features.ts'
import { chatStoreFor, type ChatStore } from './chat/chat-store.ts'
import { applyHeldControls, recordChatPayload } from './chat/incoming.ts'
import type { PageOptions, PendingInviteView, SearchHitView } from './types.ts'
import { isShortLink } from '../wire/parked-invite.ts'
import type { Park, ShortInviteView } from './chat/short-invite.ts'
// Files (issue 12): the transfers live in src/messenger/files/; the core only carries the announcement.
import type { FileDescriptor } from '../wire/file.ts'
import type { FilesPort } from './files/types.ts'
import { groupFileOwner } from './files/group-files.ts'
// Per-attempt deadlines cancelled with the attempt (issue 10: no timer left behind per message).
import { withDeadline } from './deadline.ts'

/** What the core tells the file transfers, inside the commit that stores an incoming file message. */
export interface FileHooks {
  /**
   * `from`: for a group's file (owner `group:<group id>/<sender account id>`, group-files.ts groupFileOwner), the
   * contact that announced it. Returns what to call if that commit rolls back: it puts back what the hook took from
   * memory (a cancel that came first), so that the envelope's retry finds it.
   */
  announced: (contactId: string, messageId: string, file: FileDescriptor, now: number, from?: string) => (() => void) | undefined
  /** The contact gave up a file it announced (its source changed or could not be read while being sealed). */
  cancelled?: (contactId: string, messageId: string, reason: FileCancelReason, now: number) => void
}

// Groups (issue 11): the manager lives in src/messenger/groups/; the core calls its hooks.
import type { GroupHostPort, GroupManager } from './groups/manager.ts'
import type { GroupMessageView, Groups } from './groups/types.ts'
import type { GroupOpened as GroupOpenedPort } from '../e2ee/groups/device-groups.ts'
import { newMessageId } from './message-id.ts'

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
/** Envelopes opened in one batch (one commit) at most: bounds the time one batch holds the crypto queue
 * and the memory of what waits for its commit; a drained page or a pipelined burst fits in one or two. */
export const MAX_RECEIVE_BATCH = 256
/** A mailbox session that failed to open is tried again after this long (doubling, capped). */
export const MAILBOX_RETRY_MS = 2_000
/** A session that stayed open this long was healthy: its close is reopened at once and resets the backoff.
 * One that closes sooner (a relay restart loop, eviction, a hostile relay) counts as a failure and backs off. */
export const MAILBOX_STABLE_MS = 10_000
/** Every mailbox is fetched again this often, in case a live push was lost with a connection. */
export const MAILBOX_REFETCH_MS = 30_000
/** A mailbox holding a copy it cannot open yet (a store failure, a text ahead of its card) is rewound on the
 * refetch timer at doubling intervals up to this: a copy that never opens (a forged invite answer kept as
 * CARD_REQUIRED until the invite's grace ends) is re-fetched and re-tried a few times an hour, not twice a
 * minute for days; one that opens after a card or a freed disk waits at most this long. */
export const MAILBOX_REWIND_MAX_MS = 5 * 60_000
/**
 * Post-compromise healing with delivered acks: libsignal's DH ratchet turns only when each side sends something,
 * and a message answered by its deliver ack (no sealed receipt) sends nothing back. So a message of a contact
 * answered by ack when nothing was sealed to that contact for this long also gets the sealed delivered receipt, as
 * before 2.1.0: every burst starts with a turn and a long one-way stream turns at least once a second, with no
 * timer (docs/threat-model.md). A second: far below any compromise a user could notice and act on, and above the
 * gap between messages of a burst, whose receipts are the cost being saved.
 */
export const RATCHET_TURN_MS = 1_000
/** Receipts whose commit failed (a full or busy store) are sealed again after this long, not at once (no spin). */
export const RECEIPT_RETRY_MS = 5_000
/** Card updates after an address change wait this long for the addresses to settle. */
export const CARD_DEBOUNCE_MS = 1_500
/** Settings key of the last card announced to contacts. */
const ANNOUNCED_KEY = 'announced-card'
/** Presence records are published again this often (and at each change), so they outlive DHT churn. */
export const PRESENCE_REPUBLISH_MS = 4 * 3600_000
/** Deadline of one presence lookup (the DHT walk of a small network takes well under a second). */
export const PRESENCE_LOOKUP_DEADLINE_MS = 5_000
/** The longest wait between two presence lookups of a contact no path reaches, and the shortest time a burst of
 * lookups lasts before a path reaching the contact can start a new one (see PRESENCE_LOOKUP_MIN_MS). */
export const PRESENCE_LOOKUP_INTERVAL_MS = 60_000
/** The second lookup of a contact no path reaches comes this long after the first, then the wait doubles up to
 * PRESENCE_LOOKUP_INTERVAL_MS; a path reaching the contact starts the next burst over, once the last began at least
 * PRESENCE_LOOKUP_INTERVAL_MS ago (a contact reached and missed in turn gets no more than one burst a minute): a
 * contact whose relays died moves to others within seconds, and when they were our relays too its card cannot reach
 * us, so its new presence is the only way to it. */
export const PRESENCE_LOOKUP_MIN_MS = 2_000

export interface NetworkExtras {
  relays?: () => RelayView[]
  nat?: () => 'public' | 'private' | 'unknown'
  connections?: () => number
  onAddressesChanged?: (cb: () => void) => void
  linkTo?: (peerId: string) => LinkKind | undefined
  /** Issue 13: requests to a relay's parked invites (short invite links). */
  park?: Park
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
  /** Issue 11: builds the group manager on the port the core hands over (absent: no groups). */
  readonly groups?: (port: GroupHostPort) => GroupManager
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

/** New messages held in memory for their first attempt at most: past this (a burst to an unreachable
 * contact), a message waits in the store for its stored first schedule (RECEIPT_WAIT_MS) instead of
 * holding its envelope in memory twice. */
export const MAX_FRESH = 1024

/**
 * An outbox row to try now, from memory: 'stored' rows were written with their first attempt already
 * scheduled (so a success needs no second write); 'volatile' ones (receipts) are written only if the
 * first attempt fails: a receipt lost in a crash is sent again when the sender re-sends its message.
 */
type Attempt = OutboxRow & { readonly fresh?: 'stored' | 'volatile' }

/** One envelope waiting for its batch, and what became of it. */
interface Incoming {
  readonly envelope: Uint8Array
  readonly path: DeliveryPath
  /** Came on a stream whose ack can be its delivered receipt (/0m1/deliver/2.1.0). */
  readonly ackReceipt: boolean
  /** The authenticated peer id of that stream's connection: the ack is a receipt only to the contact's own node. */
  readonly remotePeer?: string | undefined
  /** `delivered`: the ack is to be the delivered receipt. */
  readonly resolve: (delivered: boolean) => void
  readonly reject: (err: unknown) => void
  hash?: Buffer
  /** Set in the commit: the text stored, or the messages a receipt moved on. */
  stored?: MessageView | undefined
  changed?: MessageView[]
  /** Set in the commit: the group deliveries a receipt moved on, told after it (as `changed`). */
  groupEvents?: MessengerEvent[]
  /** A group text stored by this envelope (issue 11). */
  group?: GroupMessageView | undefined
  outcome?: { opened: OpenedPort<Payload> } | { seen: { contactId: string, messageId: string | null } } | { error: unknown }
  /** From a blocked contact (issue 13): opened (the session moves on) but nothing stored, shown or receipted. */
  blocked?: boolean
  /** Set in the commit: the ack is its delivered receipt (ackReceipt from the contact's peer id, and a receipt was called for). */
  delivered?: boolean
  /** Set in the commit: what puts back the memory it changed (FileHooks.announced), if it rolls back. */
  undo?: Array<() => void>
}

/** A send() waiting for its batch. */
interface OutgoingRequest { readonly contactId: string, readonly text: string, readonly reply?: { readonly id: string, readonly quote: string }, readonly file?: FileDescriptor }

/** The longest the new mailbox's session and presence wait for the card in flight (see #afterCard). */
export const AFTER_CARD_MAX_WAIT_MS = 1_000

/** Texts sealed in one commit at most: a larger burst is several batches (a batch holds the crypto queue). */
export const MAX_SEND_BATCH = 64

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const sha256 = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest()
/** Where a contact is tried: its relays, peer id and addresses (compared to tell whether it moved). */
const locationKey = (relays: readonly string[], where: { peerId?: string | undefined, addresses: readonly string[] }): string =>
  JSON.stringify([relays, where.peerId ?? null, where.addresses])

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
  /** Cards being handed over, per contact: texts to that contact wait for them (see #tryInOrder). */
  readonly #cardsInFlight = new Map<string, Promise<void>>()
  /** send() calls waiting for their batch: a burst is sealed and committed together. */
  readonly #outgoing = new BatchQueue<OutgoingRequest, MessageView>(MAX_SEND_BATCH, async (job) => { await this.#crypto.run(job) }, async (items) => await this.#sealTexts(items))
  readonly #listeners = new Set<(e: MessengerEvent) => void>()
  readonly #inFlight = new Set<string>()
  readonly #receipts = new PendingReceipts()
  /** Rows in flight, by `contactId/messageId`: the path the envelope went out on, for a receipt that overtakes the ack. */
  readonly #sentPaths = new SentPaths()
  #receiptsQueued = false
  #receiptRetry: Timer | undefined
  /** When something was last sealed to each contact (a turn of its ratchet on their side): see RATCHET_TURN_MS. */
  readonly #lastSealed = new Map<string, number>()
  /** Rows whose ack was the delivered receipt, committed together once this turn's acks are in (see #deliveredByAck). */
  #acked: Array<{ row: Attempt, path: DeliveryPath, done: () => void }> = []
  /** Rows to try at once, before anything the outbox has due (new messages, receipts just sealed). */
  #fresh: Attempt[] = []
  /** The earliest time a stored outbox row may be due: the pump asks the store only from then (every write
   * of a schedule lowers it), so a burst of sends and receipts does not query the outbox per message. */
  #storedDueAt = Number.NEGATIVE_INFINITY
  readonly #incoming: Incoming[] = []
  #receiving = false
  readonly #duplicateAnswers = new DuplicateAnswers()
  readonly #mailboxes = new Map<string, MailboxEntry>()
  /** One pending reopen for all mailboxes (an identity rotation closes every session at once). */
  #mailboxRetry: { at: number, timer: Timer } | undefined
  /** (relay, retired mailbox) pairs found empty after their grace: no longer fetched. */
  readonly #retiredEmpty = new Set<string>()
  /** The pump's wake-up for the first stored row due later (src/messenger/wake-timer.ts). */
  readonly #pumpTimer = new WakeTimer()
  /** The deadlines of delivery attempts, shared by the attempts of a second. */
  readonly #deliverDeadlines: SharedDeadlines
  /** 'contact' events of new messages (incoming and sent), a display frame later (src/messenger/contact-updates.ts). */
  readonly #contactUpdates = new ContactUpdates({ setTimeout: (fn, ms, o) => this.#clock.setTimeout(fn, ms, o) }, (id) => {
    if (this.#stopped || this.#listeners.size === 0) return
    try {
      const c = this.#device.contact(id)
      if (c !== undefined) this.#emit({ type: 'contact', contact: this.#contactView(c) })
    } catch (err) {
      // The device or its store was closed since that turn (a host torn down without stop()): nothing left to show.
      this.#log.debug('contact-event-skipped', { error: err instanceof Error ? err.name : typeof err })
    }
  })
  #mailboxTimer: Timer | undefined
  #cardTimer: Timer | undefined
  #presenceTimer: Timer | undefined
  /** Locations learnt from presence records, newer than the contact's last card. */
  readonly #located = new Map<string, { peerId: string, addresses: readonly string[], at: number }>()
  /** Per contact: the last presence lookup, the wait before the next and when the burst began (see PRESENCE_LOOKUP_MIN_MS). */
  readonly #lookedUp = new Map<string, { at: number, wait: number, burst: number, reached?: true }>()
  /** Contacts whose presence lookup is running: no second one meanwhile. */
  readonly #locating = new Set<string>()
  #pumping = false
  #pumpAgain = false
  #kickQueued = false
  #stopped = false
  /** Identity key changes: the UI told of held envelopes, and those opened once the user accepts. */
  readonly #keyChanges: KeyChanges
  /** Issue 13 chat features; undefined on a history without the store's chat columns (unit-test twins). */
  readonly #chat: ChatStore | undefined
  readonly #chatFeatures: ChatFeatures | undefined
  /** Issue 11: groups (undefined without group support). */
  readonly #groups: GroupManager | undefined
  readonly groups?: Groups

  constructor (o: MessengerOptions) {
    this.#device = o.device
    this.#history = o.history
    this.#net = o.net
    this.#log = o.logger
    this.#clock = o.now !== undefined ? clockWithNow(o.now, o.clock) : (o.clock ?? systemClock)
    this.#deliverDeadlines = new SharedDeadlines(this.#clock, DELIVER_DEADLINE_MS)
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
    this.#chat = chatStoreFor(this.#history)
    if (this.#history instanceof History) this.#history.searchIndex.onIdleError = (err) => { this.#log.warn('search-index-failed', { error: err instanceof Error ? err.name : typeof err }) }
    this.#chatFeatures = this.#chat === undefined ? undefined : new ChatFeatures(this.#chat, this.#chatHooks())
    this.#groups = o.groups?.(this.#groupPort())
    if (this.#groups !== undefined) this.groups = this.#groups
  }

  /** What the chat features (src/messenger/chat/features.ts) may use of the core. */
  #chatHooks (): ChatHooks {
    return {
      device: this.#device,
      history: this.#history,
      now: () => this.#now(),
      contact: (id) => this.#contact(id),
      contactView: (id) => this.#contactView(this.#contact(id)),
      sendControl: async (contactId, payload, also) => { await this.#sendControl(contactId, payload, { ttl: MESSAGE_TTL_MS, also }) },
      emit: (e) => { this.#emit(e) },
      syncMailboxes: () => { this.#background('syncMailboxes', this.#syncMailboxes()) },
      createInvite: async (o) => await this.#createInvite(o),
      park: () => this.#net.park?.bind(this.#net),
      relays: () => this.#settings().relays,
      setting: (key) => this.#history.setting(key),
      setSetting: (key, value) => { this.#history.setSetting(key, value) }
    }
  }

  #features (): ChatFeatures {
    if (this.#chatFeatures === undefined) throw new MessengerError('UNSUPPORTED', 'This node keeps no chat history store; the feature is unavailable.')
    return this.#chatFeatures
  }

  #metThrough (contactId: string): { metThroughGroup?: string } {
    const g = this.#groups?.metThrough(contactId)
    return g === undefined ? {} : { metThroughGroup: g }
  }

  /** What the group manager may do in the core (issue 11). */
  #groupPort (): Omit<GroupHostPort, 'device' | 'db'> & Pick<GroupHostPort, 'device' | 'db'> {
    const device = (this.#device as unknown as { groups: GroupHostPort['device'], db: GroupHostPort['db'] })
    return {
      device: device.groups,
      db: device.db,
      log: this.#log,
      now: () => this.#now(),
      crypto: async (job) => await this.#crypto.run(job),
      sendPairwise: async (contactId, payload, ttlMs) => {
        await this.#crypto.run(async () => {
          if (this.#device.contact(contactId) === undefined) return
          const now = this.#now()
          const id = hex(payload.id)
          await this.#device.seal(contactId, payload, { store: (envelope) => { this.#history.queueControl(contactId, id, envelope, now, now + ttlMs) } })
          this.#sealedTo(contactId)
          this.#noteDue(now)
        })
        this.#kick()
      },
      queued: (at) => { this.#noteDue(at); this.#kick() },
      receipt: (contactId, ids, type) => { this.#queueReceipt(contactId, ids, type) },
      emit: (e) => { this.#emit(e) },
      card: () => this.#card(),
      syncMailboxes: () => { this.#background('syncMailboxes', this.#syncMailboxes()) },
      background: (what, work) => { this.#background(what, work) },
      contact: (id) => this.#device.contact(id)
    }
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
    net.onEnvelope(async (envelope, info) => await this.receiveEnvelope(envelope, info.path, { ackReceipt: info.ackReceipt, remotePeer: info.remotePeer }))
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
    this.#deliverDeadlines.stop()
    this.#contactUpdates.stop()
    for (const t of [this.#pumpTimer, this.#cardTimer, this.#mailboxTimer, this.#presenceTimer, this.#mailboxRetry?.timer, this.#receiptRetry]) t?.cancel()
    await this.#closeMailboxes()
    // Let queued crypto work finish so the store is consistent when the host closes it.
    await this.#crypto.run(async () => {})
    try {
      this.#history.flush()
    } catch (err) {
      this.#log.warn('history-flush-failed', { error: err instanceof Error ? err.name : typeof err })
    }
  }

  /** Issue 12: the file transfers, attached by the host (they need the data directory and the network node). */
  #files: FilesPort | undefined
  #fileHooks: FileHooks | undefined
  get files (): FilesPort | undefined { return this.#files }
  attachFiles (files: FilesPort & FileHooks): void { this.#files = files; this.#fileHooks = files }
  /** Events from parts beside the core (file transfers) to the same subscribers. */
  publish (event: MessengerEvent): void { this.#emit(event) }
  /** Issue 12: tells a contact, inside the session, that a file announced to it will not come (file-cancel control,
   * in the outbox as long as texts: the announcement it answers may wait as long in a mailbox). */
  async cancelFile (contactId: string, messageId: string, reason: FileCancelReason): Promise<void> {
    const target = Buffer.from(messageId, 'hex')
    await this.#sendControl(contactId, (id) => ({ kind: 'file-cancel', id, seq: 0, target, reason }), { ttl: MESSAGE_TTL_MS })
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

  /** One pending invite is handed out again until answered or near its expiry (issue 13); `fresh` forces a new one. */
  async createInvite (o: { expiresInMs?: number, fresh?: boolean } = {}): Promise<InviteView> {
    return await (this.#chatFeatures?.createInvite(o) ?? this.#createInvite(o))
  }

  async #createInvite (o: { expiresInMs?: number }): Promise<InviteView> {
    const invite = await this.#crypto.run(async () => await this.#device.createInvite({
      ...this.#card(),
      ...(o.expiresInMs !== undefined ? { expiresInMs: o.expiresInMs } : {})
    }))
    // The invite made a new mailbox: start watching it on my relays at once.
    this.#background('syncMailboxes', this.#syncMailboxes())
    return invite
  }

  async acceptInvite (shortOrFull: string, o: { name?: string } = {}): Promise<ContactView> {
    // A short link (issue 13) is expanded to the full invite first, which is then verified as any.
    const link = isShortLink(shortOrFull) ? await this.#features().expand(shortOrFull) : shortOrFull
    const { contact, envelope } = await this.#crypto.run(async () => await this.#device.acceptInvite(link, {
      ...(o.name !== undefined ? { name: o.name } : {}),
      card: this.#card()
    }))
    const now = this.#now()
    this.#history.queueControl(contact.id, hex(randomBytes(16)), envelope, now, now + MESSAGE_TTL_MS)
    this.#noteDue(now)
    this.#kick()
    this.#afterCard(contact.id, () => {
      this.#background('syncMailboxes', this.#syncMailboxes())
      this.#background('publishPresence', this.#publishPresence())
    })
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

  #contactView (given: ContactPort): ContactView {
    // The contact as it is now: a caller may hold a snapshot taken before its awaits (an envelope's contact, opened
    // before the batch committed), and a rename or key-change decision made meanwhile would go out under a newer
    // rev with the older data, which the page then keeps (src/messenger/contact-rev.ts).
    const c = this.#device.contact(given.id) ?? given
    const last = this.#history.last(c.id)
    const link = this.#linkOf(c)
    return {
      id: c.id,
      name: c.name,
      accountId: c.accountId,
      verified: c.verified,
      unread: this.#history.unread(c.id),
      rev: nextContactRev(),
      ...(this.#chat?.isBlocked(c.id) === true ? { blocked: true } : {}),
      ...(last !== undefined ? { lastMessage: last } : {}),
      ...(link !== undefined ? { link } : {}),
      ...(c.keyChange !== undefined ? { keyChange: { ...c.keyChange } } : {}),
      ...this.#metThrough(c.id)
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

  async acceptKeyChange (contactId: string, expected: string): Promise<ContactView> {
    this.#contact(contactId)
    await this.#keyChanges.accept(contactId, expected)
    return this.#contactView(this.#contact(contactId))
  }

  async blockKeyChange (contactId: string, expected: string): Promise<ContactView> {
    this.#contact(contactId)
    await this.#keyChanges.block(contactId, expected)
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

  // ---- issue 13: chat features (src/messenger/chat/features.ts) ---------------------------------

  async editMessage (contactId: string, messageId: string, text: string): Promise<MessageView> {
    return await this.#features().edit(contactId, messageId, text)
  }

  async deleteMessage (contactId: string, messageId: string, o: { forEveryone?: boolean } = {}): Promise<MessageView | undefined> {
    return await this.#features().delete(contactId, messageId, o.forEveryone === true)
  }

  async search (query: string): Promise<SearchHitView[]> {
    return this.#features().search(query)
  }

  async setBlocked (contactId: string, blocked: boolean): Promise<ContactView> {
    return this.#features().setBlocked(contactId, blocked)
  }

  async deleteContact (contactId: string): Promise<void> {
    await this.#features().deleteContact(contactId)
    this.#located.delete(contactId)
    this.#lookedUp.delete(contactId)
  }

  async pendingInvites (): Promise<PendingInviteView[]> {
    return this.#features().pendingInvites()
  }

  async revokeInvite (id: string): Promise<void> {
    await this.#features().revokeInvite(id)
  }

  async shortInvite (): Promise<ShortInviteView> {
    return await this.#features().shortInvite()
  }

  // ---- sending ----------------------------------------------------------------------------------

  async send (contactId: string, text: string, o: { replyTo?: string, file?: FileDescriptor } = {}): Promise<MessageView> {
    if (this.#stopped) throw new MessengerError('STOPPED', 'The messenger is stopped.')
    this.#contact(contactId)
    if (this.#chat?.isBlocked(contactId) === true) throw new MessengerError('BLOCKED', 'You blocked this contact; unblock it to send it messages or files.')
    if (typeof text !== 'string' || (text.length === 0 && o.file === undefined)) throw new MessengerError('INVALID_TEXT', 'A message needs some text.')
    if (Buffer.byteLength(text, 'utf8') > MAX_TEXT_BYTES) {
      throw new MessengerError('INVALID_TEXT', `A message holds at most ${MAX_TEXT_BYTES} bytes of text; split it.`)
    }
    // A reply quotes a message of the same conversation (issue 13): its id and the start of its text.
    const reply = o.replyTo === undefined ? undefined : this.#features().replyTarget(contactId, o.replyTo)
    const view = await this.#outgoing.add({ contactId, text, ...(reply === undefined ? {} : { reply }), ...(o.file === undefined ? {} : { file: o.file }) })
    // The envelope is written before the event's listeners run and before the rest of the turn (src/net/muxer-writes.ts
    // would hold it until then): the receiver starts on it while this device finishes the turn.
    this.#pumpNow()
    flushWrites()
    this.#emit({ type: 'message', message: view })
    // The contact's last message changed: a view under a new rev, so that a list built before the send (a reload the
    // web UI asked for) cannot set its preview back (web/src/contact-list.ts). Skipped with no listener (a bare
    // messenger, as in tests), as for incoming.
    if (this.#listeners.size > 0) this.#contactUpdates.changed(contactId)
    return view
  }

  /**
   * Seals a burst of texts in one device batch (one commit; each text a savepoint that fails alone).
   * Per text, as one: the sequence number, the ratchet step and the message with its outbox row. The row
   * is stored as if its first attempt (made from memory once the batch is committed) had been sent: a
   * crash before it leaves only delays it to nextAttemptAt, and a success needs no write at all.
   */
  async #sealTexts (items: OutgoingRequest[]): Promise<Array<BatchResult<MessageView>>> {
    const sealed: Array<{ envelope: Uint8Array, id: string, contactId: string, now: number, expiresAt: number, nextAttemptAt: number, view: () => MessageView | undefined } | { error: unknown }> = []
    // Sequence numbers taken in this batch (its rows are written at its commit, so the store does not know them yet).
    const nextSeq = new Map<string, number>()
    await this.#device.batch(async (b) => {
      for (const { contactId, text, reply, file } of items) {
        try {
          const now = this.#now()
          const idBytes = newMessageId(now)
          const id = hex(idBytes)
          const expiresAt = now + MESSAGE_TTL_MS
          const nextAttemptAt = now + RECEIPT_WAIT_MS
          const seq = nextSeq.get(contactId) ?? this.#history.peekSeq(contactId)
          let queued: MessageView | undefined
          const payload: Payload = file !== undefined
            ? { kind: 'file', id: idBytes, seq, sentAt: now, text, file }
            : reply === undefined
              ? { kind: 'text', id: idBytes, seq, sentAt: now, text }
              : { kind: 'reply', id: idBytes, seq, sentAt: now, text, replyTo: Buffer.from(reply.id, 'hex'), quote: reply.quote }
          const envelope = await b.seal(contactId, payload, {
            // In the commit of the ratchet step, which rolls back whole if this throws: no savepoint of its own.
            store: (sealed) => {
              this.#history.within(() => {
                queued = this.#history.queueOutgoing({ contactId, id, seq, text, at: now, envelope: sealed, expiresAt, attempts: 1, nextAttemptAt })
                if (reply !== undefined) {
                  this.#chat?.setReply(contactId, 'out', id, reply.id, reply.quote)
                  queued = { ...queued, replyTo: reply }
                }
              })
            }
          })
          nextSeq.set(contactId, seq + 1)
          this.#sealedTo(contactId)
          sealed.push({ envelope, id, contactId, now, expiresAt, nextAttemptAt, view: () => queued })
        } catch (error) {
          sealed.push({ error })
        }
      }
    })
    return sealed.map((s) => {
      if ('error' in s) return s
      this.#noteDue(s.nextAttemptAt)
      if (this.#fresh.length < MAX_FRESH) {
        // nextAttemptAt: the row's stored time (the receipt wait), which #attempt compares with its end.
        this.#fresh.push({ contactId: s.contactId, messageId: s.id, kind: 'text', envelope: s.envelope, attempts: 0, nextAttemptAt: s.nextAttemptAt, expiresAt: s.expiresAt, state: 'pending', fresh: 'stored' })
      }
      return { ok: s.view() as MessageView }
    })
  }

  async messages (contactId: string, o: PageOptions = {}): Promise<MessageView[]> {
    this.#contact(contactId)
    // A cursor removed since its page (deleted here, or disappeared): the store would page from the newest again,
    // which a client walking back would take as older messages.
    if (o.after !== undefined && this.#history.message(contactId, o.after.direction, o.after.id) === undefined) {
      throw new MessengerError('UNKNOWN_MESSAGE', 'The message to page back from is not in this conversation any more: fetch the newest page again.')
    }
    return this.#history.messages(contactId, o)
  }

  async markRead (contactId: string): Promise<void> {
    this.#contact(contactId)
    const ids = this.#history.markRead(contactId, this.#now())
    if (ids.length === 0) return
    this.#queueReceipt(contactId, ids, 'read')
    this.#emit({ type: 'contact', contact: this.#contactView(this.#contact(contactId)) })
  }

  /** A control payload (a card) sealed and put in the outbox in one commit; it leaves the outbox once handed over. */
  async #sendControl (contactId: string, payload: (id: Uint8Array) => Payload, o: { ttl?: number, also?: () => void } = {}): Promise<void> {
    await this.#crypto.run(async () => {
      if (this.#device.contact(contactId) === undefined) return
      const id = randomBytes(16)
      const now = this.#now()
      await this.#device.seal(contactId, payload(id), {
        store: (envelope) => {
          this.#history.queueControl(contactId, hex(id), envelope, now, now + (o.ttl ?? CONTROL_TTL_MS))
          // The sender's own change (an edit, a deletion) commits with the request that tells the contact.
          o.also?.()
        }
      })
      this.#sealedTo(contactId)
      this.#noteDue(now)
    })
    this.#kick()
  }

  /**
   * Receipts wait for the next turn of the event loop (or the commit of the batch of envelopes being
   * opened, which seals them in its own transaction), so whatever else is ready goes in the same
   * libsignal message and the same commit. No timer: a receipt's wait adds to the sender's latency.
   */
  #queueReceipt (contactId: string, ids: string[], type: 'delivered' | 'read'): void {
    this.#receipts.add(contactId, ids, type)
    this.#queueReceiptFlush()
  }

  #queueReceiptFlush (): void {
    if (this.#receiptsQueued) return
    this.#receiptsQueued = true
    this.#clock.setImmediate(() => {
      this.#receiptsQueued = false
      if (this.#receipts.size === 0 || this.#stopped) return
      this.#background('flushReceipts', this.#crypto.run(async () => {
        const taken = this.#receipts.take()
        if (taken.length === 0) return
        let sealed: Attempt[] = []
        try {
          await this.#device.batch(async (b) => { sealed = await this.#sealReceipts(b, taken) })
        } catch (err) {
          // The commit failed (a full or busy store): nothing was sealed. Keep the receipts and try again
          // later; a read receipt lost here would never be asked for again.
          this.#log.warn('receipt-not-sealed', { error: (err as Error).name })
          this.#receipts.restore(taken)
          // Not once stopped: stop() already cancelled the timer, and one armed now would hold the process 5 s.
          if (!this.#stopped) this.#receiptRetry ??= this.#clock.setTimeout(() => { this.#receiptRetry = undefined; this.#queueReceiptFlush() }, RECEIPT_RETRY_MS)
          return
        }
        this.#sendFresh(sealed)
      }))
    })
  }

  /** Something was sealed to the contact: its next reply turns their ratchet (see RATCHET_TURN_MS). */
  #sealedTo (contactId: string): void {
    this.#lastSealed.set(contactId, this.#now())
  }

  /** A message of the contact answered by ack: true when a sealed receipt must go too, to turn the ratchet. Only
   * reads: what is sealed records itself (#sealedTo), so a receipt queued but never sealed leaves the turn due. A
   * clock set back makes a turn due (else none would be until it caught up). The wall clock, not the monotonic one:
   * a host's or test's `now` replaces only the wall clock (clockWithNow). */
  #ratchetTurnDue (contactId: string): boolean {
    const last = this.#lastSealed.get(contactId)
    if (last === undefined) return true
    const now = this.#now()
    return now < last || now - last >= RATCHET_TURN_MS
  }

  /** A duplicate is answered at most once per DUPLICATE_RECEIPT_INTERVAL_MS per message (issue 14.3). */
  #answerDuplicate (contactId: string, messageId: string): void {
    if (this.#duplicateAnswers.allow(`${contactId}/${messageId}`, this.#now())) this.#queueReceipt(contactId, [messageId], 'delivered')
  }

  /** Seals receipts inside a device batch (their ratchet steps commit with it); each one alone may fail. */
  async #sealReceipts (b: DeviceBatchPort<Payload>, taken: TakenReceipts): Promise<Attempt[]> {
    const out: Attempt[] = []
    const now = this.#now()
    for (const [contactId, pending] of taken) {
      if (this.#device.contact(contactId) === undefined) continue
      for (const type of ['delivered', 'read'] as const) {
        const ids = [...pending[type]]
        for (let i = 0; i < ids.length; i += MAX_RECEIPT_IDS) {
          const chunk = ids.slice(i, i + MAX_RECEIPT_IDS).map((h) => Buffer.from(h, 'hex'))
          const id = randomBytes(16)
          try {
            const envelope = await b.seal(contactId, { kind: 'receipt', id, seq: 0, type, ids: chunk })
            this.#sealedTo(contactId)
            out.push({ contactId, messageId: hex(id), kind: 'control', envelope, attempts: 0, nextAttemptAt: now, expiresAt: now + CONTROL_TTL_MS, state: 'pending', fresh: 'volatile' })
          } catch (err) {
            this.#log.warn('receipt-not-sealed', { error: (err as Error).name })
          }
        }
      }
    }
    return out
  }

  /** Hands rows to the pump ahead of the outbox (after their commit). */
  #sendFresh (rows: Attempt[]): void {
    if (rows.length === 0) return
    this.#fresh.push(...rows)
    this.#pumpNow()
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

  /**
   * Looks the contact up in the DHT (today's key, then yesterday's); remembers a newer location. True only when it
   * changes where the contact is tried (#where): a record that names what we knew moves nothing.
   */
  async #locate (contact: ContactPort): Promise<boolean> {
    const lookup = this.#net.lookupPresence
    const secret = contact.theirPresenceSecret
    if (lookup === undefined || secret === undefined || this.#locating.has(contact.id)) return false
    // An attempt that began before the contact was deleted: nothing to find, and no lookup under its key.
    if (this.#device.contact(contact.id) === undefined) return false
    const now = this.#now()
    const stored = this.#lookedUp.get(contact.id)
    // A contact reached since a burst that began long enough ago: a new outage starts a new burst (2 s, 4 s, ...).
    const last = stored?.reached === true && now - stored.burst >= PRESENCE_LOOKUP_INTERVAL_MS ? undefined : stored
    if (last !== undefined && now - last.at < last.wait) return false
    this.#lookedUp.set(contact.id, last === undefined
      ? { at: now, wait: PRESENCE_LOOKUP_MIN_MS, burst: now }
      : { at: now, wait: Math.min(PRESENCE_LOOKUP_INTERVAL_MS, last.wait * 2), burst: last.burst })
    this.#locating.add(contact.id)
    try {
      for (const day of [presenceDay(now), presenceDay(now) - 1]) {
        // Stopped, or the contact deleted, during the get before (which may have failed for that very reason).
        if (this.#stopped || this.#device.contact(contact.id) === undefined) return false
        try {
          const sealed = await lookup.call(this.#net, presenceKey(secret, day), { signal: this.#clock.timeout(PRESENCE_LOOKUP_DEADLINE_MS) })
          if (this.#device.contact(contact.id) === undefined) return false
          if (sealed === undefined) continue
          const p = this.#device.openPresence(contact.id, day, sealed)
          const known = this.#located.get(contact.id)
          if (known !== undefined && known.at >= p.updatedAt) return false
          const before = locationKey(contact.theirRelays, this.#where(contact))
          this.#located.set(contact.id, { peerId: p.peerId, addresses: p.addresses, at: p.updatedAt })
          return locationKey(contact.theirRelays, this.#where(contact)) !== before
        } catch (err) {
          this.#log.debug('presence-lookup-failed', { error: (err as Error).name })
        }
      }
      return false
    } finally {
      this.#locating.delete(contact.id)
    }
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

  /** Paths remembered for rows in flight (tests: empty once nothing is in flight). */
  sentPathsForTest (): number { return this.#sentPaths.size }

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

  /**
   * A pump at once, not on the next turn (issue 10): rows just committed (a sent text, the receipts of a received
   * batch) reach the connection in this turn. Everything up to a stream's send is synchronous, so the frame is
   * written before the caller's events and before acks or other work queued for the next turn (a turn costs the
   * one-at-a-time exchange twice per message). A pump already running takes the rows on its next pass.
   */
  #pumpNow (): void {
    if (this.#stopped) return
    // Nothing fresh (a burst's first caller took them all, or they went to the store): the usual kick re-arms the timer.
    if (this.#fresh.length === 0) { this.#kick(); return }
    if (this.#pumping) { this.#pumpAgain = true; return }
    this.#background('pump', this.#pump())
  }

  /** A stored outbox row is due at `at` or later: the pump asks the store again from then. */
  /** Rows the pump found due while they were in flight (see #pump): the store is asked again when each ends. */
  readonly #dueInFlight = new Set<string>()

  #noteDue (at: number): void {
    if (at < this.#storedDueAt) this.#storedDueAt = at
  }

  /** Fresh rows waiting for a slot, at once (an attempt ended); the store is left to the kick queued beside it. */
  #pumpFresh (): void {
    if (this.#stopped || this.#fresh.length === 0 || this.#pumping) return
    // Stored rows due now (retries, receipts) come first: the kick's full pump takes them on the next turn, else
    // fresh rows kept coming at capacity would always take the freed slot before them.
    if (this.#now() >= this.#storedDueAt) return
    this.#background('pump', this.#pump(true))
  }

  /** `freshOnly`: rows from memory only, no store query and no timer (see #pumpFresh). */
  async #pump (freshOnly = false): Promise<void> {
    this.#pumping = true
    try {
      do {
        this.#pumpAgain = false
        let room = MAX_IN_FLIGHT - this.#inFlight.size
        if (room <= 0) break
        // What the store has due first (older: a contact card must not be overtaken by the text after it),
        // asked only when something may be; then fresh rows, from memory.
        let stored: OutboxRow[] = []
        const now = this.#now()
        if (!freshOnly && now >= this.#storedDueAt) {
          const limit = room + this.#inFlight.size
          const rows = this.#history.due(now, limit)
          // A full page may have left rows due now behind: ask again next time; else nothing stored is due
          // before the next row's time (rows due now and in flight are rescheduled, each noting its time).
          this.#storedDueAt = rows.length >= limit ? now : (this.#history.nextDueAt(now) ?? Number.POSITIVE_INFINITY)
          // A due row in flight is skipped, and the store is asked again when that flight ends: the attempt may end
          // without rescheduling it (its stored time was moved to now meanwhile, e.g. by retryContactNow), and
          // nextDueAt above looks only past now, so nothing else would ever ask for it again.
          stored = rows.filter((r) => {
            const key = `${r.contactId}/${r.messageId}`
            if (!this.#inFlight.has(key)) return true
            this.#dueInFlight.add(key)
            return false
          }).slice(0, room)
          room -= stored.length
        }
        const fresh = this.#fresh.splice(0, Math.max(0, room))
        for (const row of [...stored, ...fresh]) {
          const key = `${row.contactId}/${row.messageId}`
          if (this.#inFlight.has(key)) continue
          this.#inFlight.add(key)
          // Rejections end in the .catch; .finally only frees the slot.
          void this.#attempt(row).catch((err: unknown) => {
            this.#log.warn('attempt-crashed', { error: (err as Error).name })
          }).finally(() => {
            this.#inFlight.delete(key)
            if (this.#dueInFlight.delete(key)) this.#noteDue(this.#now())
            this.#sentPaths.forget(row.contactId, row.messageId)
            // The store is asked on the next turn: one query for every attempt ending in a turn, and I/O runs
            // between rows that end without any (expired, contact deleted), not one microtask chain for a backlog.
            this.#kick()
            // Fresh rows waiting for this slot go at once, not on the next turn (a batch may hold that turn back).
            this.#pumpFresh()
          })
        }
        // stop() may have run during the awaits above (the compiler narrows #stopped as if not).
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
      } while (this.#pumpAgain && !this.#stopped)
    } finally {
      this.#pumping = false
    }
    if (this.#stopped) return
    // The whole pump (the store, the timer) on the next turn, whatever asked for one during this pass.
    if (freshOnly) { this.#kick(); return }
    // Rows due by now are in flight (or the flight is full): each attempt's end kicks the pump, so
    // the timer waits only for the first row due later, never polls while attempts run.
    const next = this.#storedDueAt
    if (Number.isFinite(next) && this.#inFlight.size < MAX_IN_FLIGHT) {
      const now = this.#now()
      // Kept if already armed for no later (a burst's pumps all want about the same time): see wake-timer.ts.
      this.#pumpTimer.wakeBy(this.#clock, now + Math.min(Math.max(10, next - now), 60_000), () => { this.#kick() })
    } else {
      this.#pumpTimer.cancel()
    }
  }

  #reschedule (row: Attempt, o: { attempts: number, nextAttemptAt: number, state?: 'sent' | 'stored' }): void {
    if (row.fresh === 'volatile') {
      // A receipt whose first attempt failed: from now on it is an outbox row like any other.
      this.#history.transaction(() => {
        this.#history.queueControl(row.contactId, row.messageId, row.envelope, this.#now(), row.expiresAt)
        this.#history.rescheduleOutbox(row.contactId, row.messageId, o)
      })
    } else {
      this.#history.rescheduleOutbox(row.contactId, row.messageId, o)
    }
    this.#noteDue(o.nextAttemptAt)
  }

  #finish (row: Attempt): void {
    if (row.fresh !== 'volatile') this.#history.removeOutbox(row.contactId, row.messageId)
  }

  /**
   * A newer location of the contact (its card, a presence record): everything queued for it goes again now. An
   * attempt in flight meanwhile tried the old one (a card naming new relays while copies went to the dead ones):
   * it sees the location differ from the one it used and makes its row due now too, where its reschedule would
   * otherwise put back a backoff (up to BACKOFF_MAX_MS) or STORED_RETRY_MS over the retry asked for here.
   */
  #relocated (contactId: string): void {
    const now = this.#now()
    this.#history.retryContactNow(contactId, now)
    this.#noteDue(now)
    this.#kick()
  }

  /** One attempt for one outbox row: the network first, then mailboxes; reschedules or finishes. */
  async #attempt (row: Attempt): Promise<void> {
    const now = this.#now()
    const contact = this.#device.contact(row.contactId)
    if (contact === undefined) {
      this.#finish(row)
      return
    }
    const tried = locationKey(contact.theirRelays, this.#where(contact))
    if (now >= row.expiresAt) {
      this.#finish(row)
      if (row.kind === 'text') this.#advance(row.contactId, row.messageId, 'failed', { failure: 'Not delivered: the contact was unreachable until the message expired.' })
      return
    }
    const attempts = row.attempts + 1
    const sent = await this.#tryInOrder(row, contact)
    const path = sent?.path
    // The DHT may know a newer location: look it up without holding this attempt (a lookup can take
    // seconds); if it finds one, everything queued for the contact is tried again at once.
    if (path === undefined && !this.#stopped) {
      this.#background('locate', this.#locate(contact).then((found) => {
        if (!found || this.#stopped) return
        this.#relocated(contact.id)
      }))
    }
    if (this.#stopped) return
    // Reached: the next time no path does, its presence is looked up at once and then soon again, once the last
    // burst began PRESENCE_LOOKUP_INTERVAL_MS ago or more (a contact reached and missed in turn stays in its burst).
    const looked = this.#lookedUp.get(row.contactId)
    if (path !== undefined && looked !== undefined) {
      if (this.#now() - looked.burst >= PRESENCE_LOOKUP_INTERVAL_MS) this.#lookedUp.delete(row.contactId)
      else if (looked.reached !== true) this.#lookedUp.set(row.contactId, { ...looked, reached: true })
    }
    this.#log.debug('attempt', { kind: row.kind, attempts, path: path ?? 'none' })
    if (sent?.delivered === true) { await this.#deliveredByAck(row, sent.path); return }
    if (path !== undefined) {
      if (row.kind === 'control') { this.#finish(row); return }
      // An attempt that ended past the stored time (it started late or took up to the deliver deadline) is
      // rescheduled as any other: the pump skipped the row as in flight when it came due and woke for later rows
      // only, so nothing would try it again if the receipt was lost (the text stayed 'sent' for good).
      if (row.fresh === 'stored' && this.#now() < row.nextAttemptAt) {
        // Stored with this schedule already (see send): 'sent' is written with the next commit, or never
        // if the receipt comes first; a crash before then only sends the same envelope again.
        const view = this.#history.advanceLater(row.contactId, row.messageId, 'sent', { path })
        if (view !== undefined) this.#emit({ type: 'message-state', message: view })
        return
      }
      this.#reschedule(row, { attempts, nextAttemptAt: this.#now() + Math.max(RECEIPT_WAIT_MS, backoffDelay(attempts, this.#random)), state: 'sent' })
      this.#advance(row.contactId, row.messageId, 'sent', { path })
      return
    }
    const copies = await this.#deposit(contact, row.envelope)
    // stop() may have run during the deposit.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
    if (this.#stopped) return
    const wanted = Math.min(MAILBOX_COPIES, contact.theirRelays.length)
    // The copies went to relays the contact left during the attempt (#relocated): again now, to its new ones.
    const after = this.#device.contact(row.contactId)
    const moved = after !== undefined && locationKey(after.theirRelays, this.#where(after)) !== tried
    if (copies > 0) {
      if (row.kind === 'control' && copies >= wanted && !moved) { this.#finish(row); return }
      const wait = moved ? 0 : copies >= wanted ? STORED_RETRY_MS : backoffDelay(attempts, this.#random)
      this.#reschedule(row, { attempts, nextAttemptAt: this.#now() + wait, state: 'stored' })
      if (row.kind === 'text') this.#advance(row.contactId, row.messageId, 'stored', { path: 'mailbox' })
      return
    }
    this.#reschedule(row, { attempts, nextAttemptAt: this.#now() + (moved ? 0 : backoffDelay(attempts, this.#random)) })
  }

  /**
   * Runs `fn` once the card queued for the contact has been handed over (or has failed): after an invite
   * is accepted or answered, opening the new mailbox's session and publishing presence each start a
   * short-lived libp2p identity, CPU that the card and the first message behind it would wait on.
   */
  #afterCard (contactId: string, fn: () => void): void {
    // The pump (queued by the kick that queued the card) starts the card's attempt before this runs.
    this.#clock.setImmediate(() => {
      const card = this.#cardsInFlight.get(contactId)
      let ran = false
      const run = (): void => {
        if (ran || this.#stopped) return
        ran = true
        timer?.cancel()
        fn()
      }
      // An unreachable contact holds its card until the deliver deadline: the mailboxes do not wait that long.
      const timer = card !== undefined ? this.#clock.setTimeout(run, AFTER_CARD_MAX_WAIT_MS, { unref: true }) : undefined
      void (card ?? Promise.resolve()).then(run)
    })
  }

  /**
   * A card (a stored control row: an invite's answer, a new address) is handed over before any text
   * to the same contact starts: attempts otherwise race to the connection, and a text that reaches an
   * invite's mailbox before its answer is refused (CARD_REQUIRED) and waits for the mailbox instead
   * (the first message after accepting an invite took ~150 ms that way). Cards are rare: texts and
   * receipts still go out pipelined.
   */
  async #tryInOrder (row: Attempt, contact: ContactPort): Promise<DeliverOutcome | undefined> {
    if (row.kind !== 'control' || row.fresh === 'volatile') {
      const card = this.#cardsInFlight.get(row.contactId)
      if (card !== undefined && row.kind === 'text') await card
      return await this.#tryNetwork(contact, row)
    }
    const attempt = this.#tryNetwork(contact, row)
    const settled = attempt.then(() => {}, () => {})
    this.#cardsInFlight.set(row.contactId, settled)
    try {
      return await attempt
    } finally {
      if (this.#cardsInFlight.get(row.contactId) === settled) this.#cardsInFlight.delete(row.contactId)
    }
  }

  /** An open connection, a direct dial or a relayed circuit, as the network layer can. */
  async #tryNetwork (contact: ContactPort, row: Attempt): Promise<DeliverOutcome | undefined> {
    const where = this.#where(contact)
    const peerId = where.peerId
    if (peerId === undefined) return undefined
    const circuits = contact.theirRelays.map((r) => `${r}/p2p-circuit/p2p/${peerId}`)
    const addresses = [...new Set([...where.addresses, ...circuits])]
    try {
      const onSent = (path: DeliveryPath): void => { this.#sentPaths.sent(row.contactId, row.messageId, path) }
      // One deadline signal and timer for the attempts of a second (src/messenger/shared-deadline.ts), not one each.
      return await this.#deliverDeadlines.run(async (signal) => await this.#net.deliver({ peerId, addresses }, row.envelope, { signal, onSent }))
    } catch (err) {
      // The path told as the bytes went out failed: a receipt that comes anyway (from a mailbox copy) must not
      // show it.
      this.#sentPaths.forget(row.contactId, row.messageId)
      this.#log.debug('deliver-failed', { error: (err as Error).name })
      return undefined
    }
  }

  /** Deposits copies on the contact's relays; returns how many relays said the copy is durable. */
  async #deposit (contact: ContactPort, envelope: Uint8Array): Promise<number> {
    const relays = contact.theirRelays
    if (relays.length === 0) return 0
    const results = await Promise.allSettled(relays.map(async (relay) => {
      await withDeadline(this.#clock, DEPOSIT_DEADLINE_MS, async (signal) => { await this.#net.deposit(relay, contact.theirMailboxId, envelope, { signal }) })
    }))
    const ok = results.filter((r) => r.status === 'fulfilled').length
    if (ok < results.length) this.#log.debug('deposit-partial', { ok, of: results.length })
    return ok
  }

  /**
   * A row whose ack was its delivered receipt: the message (or the group member's copy) becomes 'delivered' with its
   * path and the row leaves the outbox, as a sealed receipt would do it, never 'sent' first. The rows acked together (a
   * frame carries up to a window of acks, and their attempts end in the same microtask steps) share one commit, made
   * once they are all in, on a microtask rather than the next turn (a turn more per window of messages measured
   * slower in direct.throughput, at the same CPU per message). Nothing is left for stop() to write: the microtask
   * runs at its first await, and an attempt that ends once stopped queues nothing. Resolves after the commit.
   */
  async #deliveredByAck (row: Attempt, path: DeliveryPath): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#acked.push({ row, path, done: resolve })
      if (this.#acked.length === 1) queueMicrotask(() => { this.#commitAcked() })
    })
  }

  #commitAcked (): void {
    const acked = this.#acked
    if (acked.length === 0) return
    this.#acked = []
    // Told only once committed: a rolled-back row is still queued, whatever the ack said.
    const events: MessengerEvent[] = []
    try {
      this.#history.transaction(() => {
        for (const { row, path } of acked) {
          this.#finish(row)
          const view = this.#history.advance(row.contactId, row.messageId, 'delivered', { path })
          if (view !== undefined) events.push({ type: 'message-state', message: view })
          else this.#groups?.advance(row.contactId, row.messageId, 'delivered', path, (e) => { events.push(e) })
        }
      })
    } catch (err) {
      // A full or busy store: the rows stay in the outbox as stored and go again (the receiver answers the copy with a
      // delivered ack once more), but not before RECEIPT_RETRY_MS: held in flight until then, as a stored row past its
      // time would otherwise go at once, be acked and fail to commit again, in a loop as fast as the network.
      this.#log.warn('delivered-not-stored', { size: acked.length, error: err instanceof Error ? err.name : typeof err })
      this.#clock.setTimeout(() => {
        this.#noteDue(this.#now())
        for (const a of acked) a.done()
      }, RECEIPT_RETRY_MS, { unref: true })
      return
    }
    for (const e of events) this.#emit(e)
    for (const a of acked) a.done()
  }

  #advance (contactId: string, id: string, state: MessageView['state'], o: { path?: DeliveryPath, failure?: string } = {}): void {
    const view = this.#history.advance(contactId, id, state, o)
    if (view !== undefined) this.#emit({ type: 'message-state', message: view })
    else this.#groups?.advance(contactId, id, state, o.path)
  }

  // ---- receiving ------------------------------------------------------------------------------

  /**
   * Handles one envelope from any path. Resolves once what it carried is stored (the network layer
   * and the relays acknowledge only then); rejects for envelopes that are not ours or are damaged.
   * Envelopes that arrive while a batch is being opened (pipelined frames, a drained page) wait and are
   * opened together in the next one: one commit for their ratchet steps, messages, duplicate filter,
   * receipt effects and the receipts they call for.
   */
  async receiveEnvelope (envelope: Uint8Array, path: DeliveryPath, o: { ackReceipt?: boolean, remotePeer?: string } = {}): Promise<boolean> {
    return await new Promise<boolean>((resolve, reject) => {
      this.#incoming.push({ envelope, path, ackReceipt: o.ackReceipt === true, remotePeer: o.remotePeer, resolve, reject })
      this.#startReceiving()
    })
  }

  #startReceiving (): void {
    if (this.#receiving || this.#incoming.length === 0) return
    this.#receiving = true
    this.#background('receive', this.#crypto.run(async () => {
      // Rows wait for room in flight (a burst): the acks that came with these envelopes (in the same read) end
      // their attempts a few promise steps later, and the pump then sends the waiting rows. Opened first, the batch
      // would hold them back for its whole run while the contact, its window empty, waits (issue 10's throughput).
      // One turn lets those attempts end, and the rows leave now, not at the end of the turn (src/net/muxer-writes.ts:
      // the batch would hold that back too). With no row waiting (one message at a time) no turn is taken and nothing
      // is flushed early: the receipt's ack still leaves with the next text in one write.
      if (this.#fresh.length > 0) {
        await new Promise<void>((resolve) => { this.#clock.setImmediate(resolve) })
        flushWrites()
      }
      const batch = this.#incoming.splice(0, MAX_RECEIVE_BATCH)
      try {
        await this.#receiveBatch(batch)
      } catch (err) {
        // Never leave a caller waiting (the network would hold its frame forever); settled ones stay so.
        for (const item of batch) item.reject(err)
      } finally {
        this.#receiving = false
        // What arrived meanwhile is the next batch, queued behind any send that is waiting.
        this.#startReceiving()
      }
    }))
  }

  async #receiveBatch (items: Incoming[]): Promise<void> {
    // The first message of an answered invite creates a contact that the envelopes after it may need
    // (cached at its commit): it ends the batch before it and is opened alone.
    let group: Incoming[] = []
    for (const item of items) {
      if (this.#device.startsContact(item.envelope)) {
        if (group.length > 0) await this.#openGroup(group)
        await this.#openGroup([item])
        group = []
      } else {
        group.push(item)
      }
    }
    if (group.length > 0) await this.#openGroup(group)
  }

  /** Opens envelopes in one device batch and settles each caller after the commit. */
  async #openGroup (items: Incoming[]): Promise<void> {
    const now = this.#now()
    let receipts: Attempt[] = []
    let taken: TakenReceipts = []
    try {
      await this.#device.batch(async (b) => {
        // Hashes opened in this batch: its rows are not written yet, so the store cannot tell.
        const inBatch = new Map<string, { contactId: string, messageId: string | null }>()
        for (const item of items) {
          item.stored = undefined
          item.changed = []
          item.groupEvents = []
          item.delivered = false
          item.undo = []
          const hash = item.hash ??= sha256(item.envelope)
          const key = hash.toString('hex')
          const seen = inBatch.get(key) ?? this.#history.seenEnvelope(hash)
          if (seen !== undefined) { item.outcome = { seen }; continue }
          try {
            // #record runs in the batch's commit, which rolls back whole if it throws: no savepoints of its own.
            const opened = await b.open(item.envelope, { store: (o) => { this.#history.within(() => { this.#record(item, hash, now, o) }) } })
            item.outcome = { opened }
            // A blocked contact's (issue 13): its store callback may run only at the commit, so decided here.
            item.blocked = this.#chat?.isBlocked(opened.contact.id) === true && opened.payload.kind !== 'receipt'
            inBatch.set(key, { contactId: opened.contact.id, messageId: isMessagePayload(opened.payload) && !item.blocked ? hex(opened.payload.id) : null })
          } catch (err) {
            item.outcome = { error: err }
          }
        }
        // The receipts this batch calls for (and any others waiting) are sealed in its commit.
        for (const item of items) this.#receiptFor(item)
        taken = this.#receipts.take()
        receipts = await this.#sealReceipts(b, taken)
      })
    } catch (err) {
      // The commit failed (a store error such as SQLITE_FULL): nothing of the batch was written or cached.
      this.#receipts.restore(taken)
      for (const item of items) { for (const undo of item.undo ?? []) undo(); item.undo = [] }
      if (this.#receipts.size > 0) this.#queueReceiptFlush()
      this.#log.warn('receive-batch-failed', { size: items.length, error: err instanceof Error ? err.name : typeof err })
      if (items.length > 1) {
        // Alone, each envelope succeeds or fails on its own: one bad row cannot hold back the others.
        for (const item of items) await this.#openGroup([item])
        return
      }
      for (const item of items) item.reject(err)
      return
    }
    this.#sendFresh(receipts)
    for (const item of items) this.#settle(item)
  }

  #undoOnRollback (item: Incoming, undo: (() => void) | undefined): void {
    if (undo !== undefined) (item.undo ??= []).push(undo)
  }

  /** What an opened envelope carried, written inside the commit of its session change. */
  #record (item: Incoming, hash: Uint8Array, now: number, { contactId, payload, group }: { contactId: string, payload: Payload, group?: GroupOpenedPort }): void {
    // A blocked contact's envelope (issue 13): remembered without a message id (a re-sent copy gets no receipt either).
    // Its receipts for my messages still apply: my outbox to it empties instead of re-sending until expiry.
    item.blocked = this.#chat?.isBlocked(contactId) === true && payload.kind !== 'receipt'
    const messageId = group !== undefined ? (group.type === 'text' ? hex(group.text.id) : null) : isMessagePayload(payload) ? hex(payload.id) : null
    this.#history.rememberEnvelope(hash, contactId, item.blocked ? null : messageId, now)
    if (item.blocked) return
    const chat = group === undefined && this.#chat !== undefined ? recordChatPayload({ chat: this.#chat, history: this.#history, log: this.#log }, contactId, payload, now, item.path) : undefined
    if (group !== undefined) {
      item.group = this.#groups?.record(contactId, group, now)
      // Issue 12: a file announced to a group; its transfer rows belong to the group and its sender (src/messenger/files/group-files.ts).
      if (item.group !== undefined && group.type === 'text' && group.text.file !== undefined) this.#undoOnRollback(item, this.#fileHooks?.announced(groupFileOwner(group.groupId, item.group.senderAccountId), item.group.id, group.text.file, now, contactId))
    } else if (chat !== undefined) {
      item.stored = chat.stored
      item.changed = chat.changed
    } else if (payload.kind === 'text' || payload.kind === 'file') {
      item.stored = this.#history.receive({ contactId, id: hex(payload.id), seq: payload.seq, text: payload.text, sentAt: payload.sentAt, at: now, path: item.path })
      // An edit or deletion for everyone that came first (issue 13 review: src/messenger/chat/held-controls.ts). A
      // deletion also goes out as a state change, which the file side (transfers.ts) takes as its cue to forget the
      // file and remove its relay copies, as for a deletion that comes second.
      const after = item.stored !== undefined && this.#chat !== undefined ? applyHeldControls({ chat: this.#chat, history: this.#history, log: this.#log }, contactId, item.stored.id) : undefined
      if (after !== undefined) { item.stored = after; if (after.deleted === true) item.changed = [after] }
      if (payload.kind === 'file' && item.stored !== undefined) this.#undoOnRollback(item, this.#fileHooks?.announced(contactId, hex(payload.id), payload.file, now))
    } else if (payload.kind === 'receipt') {
      const state = payload.type === 'read' ? 'read' : 'delivered'
      const changed: MessageView[] = []
      for (const raw of payload.ids) {
        const id = hex(raw)
        this.#history.removeOutbox(contactId, id)
        // A receipt that overtook its message's ack (10-30% of them, one at a time) still records the path, in this commit.
        const view = this.#history.advance(contactId, id, state, this.#sentPaths.pathOf(contactId, id))
        if (view !== undefined) changed.push(view)
        // Its event waits for the commit, as the one-to-one views do (#settle): a batch rolled back told nobody.
        else this.#groups?.advance(contactId, id, state, undefined, (e) => { (item.groupEvents ??= []).push(e) })
      }
      item.changed = changed
    } else if (payload.kind === 'file-cancel') {
      this.#fileHooks?.cancelled?.(contactId, hex(payload.target), payload.reason, now)
    }
  }

  /**
   * Queues the receipt an envelope of the batch calls for: a text just stored, or a duplicate (rate-limited). On a
   * stream whose ack can carry it, the ack is the receipt instead, plus a sealed one when the ratchet is due a turn.
   */
  #receiptFor (item: Incoming): void {
    const o = item.outcome
    if (o === undefined) return
    let contactId: string
    let messageId: string
    let contact: ContactPort | undefined
    if ('seen' in o) {
      // Sent again because our receipt was lost, or arrived by a second path, or replayed by a relay.
      if (o.seen.messageId === null) return
      contactId = o.seen.contactId
      messageId = o.seen.messageId
      contact = this.#device.contact(contactId)
    } else if ('opened' in o && o.opened.group?.type === 'text' && item.blocked !== true) {
      // A group text (issue 11): acknowledged to its sender by the text's own id, as a one-to-one text is.
      contact = o.opened.contact
      contactId = contact.id
      messageId = hex(o.opened.group.text.id)
    } else if ('opened' in o && isMessagePayload(o.opened.payload) && item.blocked !== true) {
      contact = o.opened.contact
      contactId = contact.id
      messageId = hex(o.opened.payload.id)
    } else {
      return
    }
    if (item.ackReceipt && this.#ackIsReceipt(item, contact)) {
      item.delivered = true
      // A turn due goes whatever the duplicate limit says: it is for the ratchet, not for the copy.
      if (this.#ratchetTurnDue(contactId)) this.#queueReceipt(contactId, [messageId], 'delivered')
      return
    }
    if ('seen' in o) this.#answerDuplicate(contactId, messageId)
    else this.#queueReceipt(contactId, [messageId], 'delivered')
  }

  /**
   * Whether the ack may be the contact's delivered receipt: only on a connection authenticated as the peer id its own
   * card gave (the one #where dials), and not while it is blocked. Anyone else holding the envelope's bytes (a
   * mailbox relay, a circuit relay, an observer) gets 'accepted', and the contact gets the sealed receipt as before
   * 2.1.0: a replayed copy can neither fake the receipt nor tell a message from a control message by its ack. The
   * card's id is compared by the peer it names: a card received is stored in libp2p's form, but one stored before may
   * hold another; one that does not parse matches nobody.
   */
  #ackIsReceipt (item: Incoming, contact: ContactPort | undefined): boolean {
    if (contact?.theirPeerId === undefined || item.remotePeer === undefined || !samePeer(item.remotePeer, contact.theirPeerId)) return false
    return this.#chat?.isBlocked(contact.id) !== true
  }

  /** After the commit: events, follow-ups, and the caller's answer. */
  #settle (item: Incoming): void {
    const o = item.outcome
    if (o === undefined || 'seen' in o) { item.resolve(item.delivered === true); return }
    if ('error' in o) {
      this.#keyChanges.refused(o.error)
      this.#groups?.refused(o.error)
      item.reject(o.error)
      return
    }
    const { contact, payload, newContact } = o.opened
    if (item.blocked === true) { item.resolve(false); return }
    for (const view of item.changed ?? []) this.#emit({ type: 'message-state', message: view })
    for (const e of item.groupEvents ?? []) this.#emit(e)
    if (o.opened.group !== undefined) this.#groups?.settle(contact.id, o.opened.group, item.group)
    // An edit or deletion (issue 13) may change the contact list's preview.
    if ((payload.kind === 'edit' || payload.kind === 'delete') && (item.changed?.length ?? 0) > 0 && this.#listeners.size > 0) this.#emit({ type: 'contact', contact: this.#contactView(contact) })
    if (isMessagePayload(payload)) {
      if (item.stored !== undefined) {
        this.#emit({ type: 'message', message: item.stored })
        // The contact's unread count and last message changed; computed only for a listener.
        // A display frame later, after the receipt's frame is written, once per contact (src/messenger/contact-updates.ts).
        if (this.#listeners.size > 0) this.#contactUpdates.changed(contact.id)
      }
    } else if (payload.kind === 'card') {
      // The e2ee layer has stored the new location; send what waited for it. Copies stored on relays the
      // contact may have just replaced (issue 16) go again now, to its new relays, not in STORED_RETRY_MS.
      this.#located.delete(contact.id)
      this.#relocated(contact.id)
      // The card may carry a new display name.
      if (!newContact) this.#emit({ type: 'contact', contact: this.#contactView(contact) })
    }
    if (newContact) {
      // My invite was answered: my first card moves the contact off the invite's mailbox and presence
      // secret (both known to whoever saw the invite) to fresh ones, inside the session.
      this.#background('first-card', this.#sendControl(contact.id, (id) => ({ ...this.#device.myCard(contact.id, this.#card()), id })).finally(() => {
        this.#afterCard(contact.id, () => {
          this.#background('syncMailboxes', this.#syncMailboxes())
          this.#background('publishPresence', this.#publishPresence())
        })
      }))
      this.#emit({ type: 'contact', contact: this.#contactView(contact) })
    }
    item.resolve(item.delivered === true)
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
        if (!refetch) return
        // A copy kept after a failure (a full store, a text ahead of its card) lies behind the session's
        // position: without a rewind only a new session would fetch it again.
        if (entry.kept === true && now >= (entry.rewindAt ?? 0)) {
          entry.kept = false
          entry.rewinds = (entry.rewinds ?? 0) + 1
          // Half a tick early, so timer jitter does not skip a whole tick: rewinds at 30 s, 30 s, 60 s, 120 s, ...
          entry.rewindAt = now + Math.min(MAILBOX_REWIND_MAX_MS, MAILBOX_REFETCH_MS * 2 ** (entry.rewinds - 1)) - MAILBOX_REFETCH_MS / 2
          entry.session.rewind?.()
        }
        const empty = await this.#drain(entry.session, key)
        if (entry.kept !== true) { entry.rewinds = 0; entry.rewindAt = 0 }
        if (empty) this.#retiredCheck(box, key, relays)
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
      // The session fetches after each relay notice and waits for these before its next page (bounded work).
      session.onPush(async (item) => { await this.#take(session, item, entry) })
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
        // Handed over all at once: the page is opened in one batch (one commit).
        const handled = await Promise.all(items.map(async (item) => await this.#handleMailboxItem(item)))
        const done = items.filter((_, i) => handled[i] === true).map((item) => item.id)
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

  async #take (session: MailboxSessionPort, item: { id: Uint8Array, envelope: Uint8Array }, entry: MailboxEntry): Promise<void> {
    if (await this.#handleMailboxItem(item)) {
      await session.ack([item.id]).catch((err: unknown) => {
        this.#log.debug('mailbox-ack-failed', { error: (err as Error).name })
      })
    } else {
      // Left on the relay: the next refetch rewinds the session to take it again.
      entry.kept = true
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
  /** Rewinds in a row that left a copy kept, and when the next may run (MAILBOX_REWIND_MAX_MS). */
  rewinds?: number
  rewindAt?: number
}

export function cardAddresses (all: readonly string[]): string[] {
  const fits = [...new Set(all)].filter((a) => Buffer.byteLength(a, 'utf8') <= MAX_ADDRESS_BYTES)
  const direct = fits.filter((a) => !a.includes('/p2p-circuit'))
  const circuits = fits.filter((a) => a.includes('/p2p-circuit'))
  return [...direct, ...circuits].slice(0, MAX_ADDRESSES)
}
