// The messenger's groups (issue 11): creating and changing groups, distributing signed changes, sending one
// sealed-once message to every member through the ordinary outbox (same paths, retries, receipts and duplicate
// filter as one-to-one), storing what arrives, per-member delivery states, and the events of all of it.
// MessengerCore calls the hooks below (record in the commit of an opened envelope, settle after it, advance for
// an outbox row's state); everything else goes through the port it hands over.
import { GROUP_PAGE, MAX_GROUP_PAGE } from '../page-limits.ts'
import { randomBytes } from 'node:crypto'
import type { ChangesOutcome, DeviceGroups, GroupChangeInput, GroupInfo, GroupOpened } from '../../e2ee/groups/device-groups.ts'
import { E2eeError } from '../../e2ee/errors.ts'
import type { Logger } from '../../platform/logger.ts'
import type { Database } from '../../store/db.ts'
import type { FileDescriptor } from '../../wire/file.ts'
import { MAX_TEXT_BYTES, type Payload } from '../../wire/payload.ts'
import { MessengerError } from '../errors.ts'
import type { CardInput, ContactPort } from '../ports.ts'
import type { DeliveryPath, MessageState, MessengerEvent } from '../types.ts'
import { GroupStore, type GroupMessageRow } from './store.ts'
import type { GroupMessageView, GroupView, Groups } from './types.ts'

/** How long a group message or change may wait for a member: as long as a one-to-one message (the relays keep it as long). */
export const GROUP_MESSAGE_TTL_MS = 30 * 24 * 3600_000
/** How long a card request waits for its answer: the request may sit a TTL on the relay, then the reply another. */
export const CARD_REQUEST_VALID_MS = 2 * GROUP_MESSAGE_TTL_MS

export interface GroupHostPort {
  readonly device: DeviceGroups
  readonly db: Database
  readonly log: Logger
  readonly now: () => number
  /** Runs a job in the messenger's crypto queue (never call from inside one: queue it with background). */
  crypto: <T>(job: () => Promise<T>) => Promise<T>
  /** Seals a pairwise payload for a contact and puts it in the outbox (in the crypto queue, like a card). */
  sendPairwise: (contactId: string, payload: Payload, ttlMs: number) => Promise<void>
  /** Outbox rows were written, due at `at`: the pump asks the store again. */
  queued: (at: number) => void
  receipt: (contactId: string, ids: string[], type: 'delivered' | 'read') => void
  emit: (e: MessengerEvent) => void
  card: () => CardInput
  syncMailboxes: () => void
  background: (what: string, work: Promise<unknown>) => void
  contact: (id: string) => ContactPort | undefined
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

const REFUSAL_TEXT: Record<string, string> = {
  'bad-signature': 'A group change was refused: it is not signed by its author.',
  malformed: 'A group change was refused: it is not valid.',
  'not-admin': 'A group change was refused: its author is not an admin of the group.',
  replayed: 'A group change was refused: it was already applied (replayed).',
  'unknown-group': 'A group change was refused: it is for a group this device does not know.',
  'other-group': 'A group change was refused: it names another group.',
  'second-create': 'A group change was refused: it tries to create a group that already exists.',
  'not-member': 'A group message was refused: its sender is not a member.',
  'not-asked': 'A group card was refused: this device did not ask that contact to join the group.',
  superseded: 'A group change has no effect: its author was removed from the group concurrently with it.',
  'held-expired': 'A group change was dropped: the changes it builds on never arrived.',
  'held-over-limit': 'A group change was dropped: too many changes are already waiting for the changes they build on.',
  'held-stranger': 'A group change was dropped: it builds on changes this device does not have, and its author is not in the group.'
}

export class GroupManager implements Groups {
  readonly #p: GroupHostPort
  readonly #store: GroupStore
  /** `<group id>:<author account id>` already warned of as superseded (see #warn). */
  readonly #supersededWarned = new Set<string>()

  constructor (port: GroupHostPort) {
    this.#p = port
    this.#store = new GroupStore(port.db)
    port.device.setNetwork(() => port.card())
  }

  // ---- views ----

  #view (info: GroupInfo): GroupView {
    const last = this.#store.last(info.id)
    return {
      id: info.id,
      name: info.name,
      member: info.member,
      admin: info.admin,
      version: info.version,
      members: info.members.map((m) => {
        const c = m.contactId === undefined ? undefined : this.#p.contact(m.contactId)
        return {
          accountId: m.accountId,
          name: m.name,
          admin: m.admin,
          me: m.me,
          ...(m.contactId === undefined ? {} : { contactId: m.contactId }),
          metThroughGroup: m.contactId !== undefined && this.#p.device.metThrough(m.contactId) !== undefined,
          verified: c?.verified ?? false
        }
      }),
      unread: this.#store.unread(info.id),
      ...(last === undefined ? {} : { lastMessage: { text: last.text, at: last.at, direction: last.direction } })
    }
  }

  #info (groupId: string): GroupInfo {
    try {
      return this.#p.device.info(groupId)
    } catch (err) {
      if (E2eeError.is(err, 'UNKNOWN_CONTACT')) throw new MessengerError('UNKNOWN_GROUP', 'There is no group with that id.')
      throw err
    }
  }

  #messageView (m: GroupMessageRow): GroupMessageView {
    const contactId = m.direction === 'in' ? this.#p.device.contactFor(m.sender) : undefined
    const name = m.direction === 'out' ? 'me' : (contactId === undefined ? m.sender : (this.#p.contact(contactId)?.name ?? m.sender))
    const base = {
      groupId: m.groupId, id: m.id, direction: m.direction, senderAccountId: m.direction === 'out' ? '' : m.sender, senderName: name,
      seq: m.seq, text: m.text, sentAt: m.sentAt, at: m.at, ...(contactId === undefined ? {} : { senderContactId: contactId })
    }
    if (m.direction === 'in') return base
    const members = this.#store.deliveries(m.id)
    const delivered = members.filter((d) => d.state === 'delivered' || d.state === 'read').length
    const read = members.filter((d) => d.state === 'read').length
    return { ...base, delivery: { total: members.length, delivered, read, members } }
  }

  // ---- the API ----

  async list (): Promise<GroupView[]> {
    return this.#p.device.ids().map((id) => this.#view(this.#info(id)))
      .sort((a, b) => (b.lastMessage?.at ?? 0) - (a.lastMessage?.at ?? 0) || a.name.localeCompare(b.name))
  }

  async get (groupId: string): Promise<GroupView> {
    return this.#view(this.#info(groupId))
  }

  async find (idOrName: string): Promise<GroupView | undefined> {
    const all = await this.list()
    const byId = all.find((g) => g.id === idOrName)
    if (byId !== undefined) return byId
    const exact = all.filter((g) => g.name === idOrName)
    if (exact.length === 1) return exact[0]
    const loose = all.filter((g) => g.name.toLowerCase() === idOrName.toLowerCase())
    return loose.length === 1 ? loose[0] : undefined
  }

  async create (name: string, memberContactIds: readonly string[]): Promise<GroupView> {
    for (const id of memberContactIds) this.#contact(id)
    const { groupId } = await this.#p.crypto(async () => await this.#p.device.create(name, this.#p.card()))
    this.#p.syncMailboxes()
    // Each member answers with its card for this group; its add change follows (card-reply, below).
    for (const id of new Set(memberContactIds)) await this.#ask(groupId, id)
    const view = this.#view(this.#info(groupId))
    this.#p.emit({ type: 'group', group: view })
    return view
  }

  async add (groupId: string, contactId: string): Promise<GroupView> {
    const info = this.#info(groupId)
    if (!info.admin) throw new MessengerError('NOT_ADMIN', 'Only an admin of this group can add members.')
    this.#contact(contactId)
    await this.#ask(groupId, contactId)
    // The group as it is now, not as before the ask (the answer may already have come); the contact is in it once
    // its device answers, and that change comes as a 'group' event, which may reach a client before this view.
    return this.#view(this.#info(groupId))
  }

  async remove (groupId: string, member: string): Promise<GroupView> {
    return await this.#change(groupId, { kind: 'remove', accountIds: [this.#member(groupId, member)] })
  }

  async promote (groupId: string, member: string): Promise<GroupView> {
    return await this.#change(groupId, { kind: 'promote', accountId: this.#member(groupId, member) })
  }

  async rename (groupId: string, name: string): Promise<GroupView> {
    return await this.#change(groupId, { kind: 'rename', name })
  }

  async leave (groupId: string): Promise<GroupView> {
    return await this.#change(groupId, { kind: 'leave' })
  }

  async send (groupId: string, text: string, o: { file?: FileDescriptor } = {}): Promise<GroupMessageView> {
    return await this.#send(groupId, text, o, undefined)
  }

  /** Tests: a text (or a file announcement) with a chosen id, as a hostile member's device could send (one reusing
   * another member's id). */
  async sendWithIdForTest (groupId: string, text: string, id: Uint8Array, o: { file?: FileDescriptor } = {}): Promise<GroupMessageView> {
    return await this.#send(groupId, text, o, id)
  }

  async #send (groupId: string, text: string, o: { file?: FileDescriptor }, chosenId: Uint8Array | undefined): Promise<GroupMessageView> {
    // Issue 12: a file announcement (src/messenger/files/group-files.ts) may have no caption.
    if (typeof text !== 'string' || (text.length === 0 && o.file === undefined)) throw new MessengerError('INVALID_TEXT', 'A message needs some text.')
    if (Buffer.byteLength(text, 'utf8') > MAX_TEXT_BYTES) throw new MessengerError('INVALID_TEXT', `A message holds at most ${MAX_TEXT_BYTES} bytes of text; split it.`)
    const info = this.#info(groupId)
    if (!info.member) throw new MessengerError('NOT_MEMBER', 'You are not a member of this group any more.')
    const row = await this.#p.crypto(async () => {
      const now = this.#p.now()
      const idBytes = chosenId ?? randomBytes(16)
      const seq = this.#store.peekSeq(groupId)
      const m: GroupMessageRow = { groupId, id: hex(idBytes), sender: '', direction: 'out', seq, text, sentAt: now, at: now }
      await this.#p.device.sealText(groupId, { id: idBytes, seq, sentAt: now, text, ...(o.file === undefined ? {} : { file: o.file }) }, (sealed) => { this.#store.queueOutgoing(m, sealed, now + GROUP_MESSAGE_TTL_MS) })
      return m
    })
    this.#p.queued(row.at)
    const view = this.#messageView(row)
    this.#p.emit({ type: 'group-message', message: view })
    return view
  }

  async messages (groupId: string, o: { limit?: number } = {}): Promise<GroupMessageView[]> {
    this.#info(groupId)
    const limit = Math.min(Math.max(1, o.limit ?? GROUP_PAGE), MAX_GROUP_PAGE)
    return this.#store.messages(groupId, limit).map((m) => this.#messageView(m))
  }

  async markRead (groupId: string): Promise<void> {
    this.#info(groupId)
    const bySender = this.#store.markRead(groupId, this.#p.now())
    for (const [account, ids] of bySender) {
      const contactId = this.#p.device.contactFor(account)
      if (contactId !== undefined) this.#p.receipt(contactId, ids, 'read')
    }
    if (bySender.size > 0) this.#p.emit({ type: 'group', group: this.#view(this.#info(groupId)) })
  }

  /** Asks a contact for its card for a group (the ask is recorded: only its answer makes me sign an add). */
  async #ask (groupId: string, contactId: string): Promise<void> {
    const payload = await this.#p.crypto(async () => await this.#p.device.cardRequest(groupId, contactId, CARD_REQUEST_VALID_MS))
    await this.#p.sendPairwise(contactId, payload, GROUP_MESSAGE_TTL_MS)
  }

  #contact (id: string): ContactPort {
    const c = this.#p.contact(id)
    if (c === undefined) throw new MessengerError('UNKNOWN_CONTACT', 'There is no contact with that id.')
    return c
  }

  /** A member named by account id, by my contact id for it, or by a name only one member has. */
  #member (groupId: string, idOrContact: string): string {
    const info = this.#info(groupId)
    const byName = info.members.filter((x) => x.name === idOrContact)
    // Two members may show the same name (display names are chosen by their owners): never guess which one.
    if (byName.length > 1 && !info.members.some((x) => x.accountId === idOrContact || x.contactId === idOrContact)) {
      throw new MessengerError('AMBIGUOUS_MEMBER', 'More than one member of this group has that name; name the member by its account id.')
    }
    const m = info.members.find((x) => x.accountId === idOrContact || x.contactId === idOrContact) ?? byName.at(0)
    if (m === undefined) throw new MessengerError('UNKNOWN_CONTACT', 'That is not a member of this group.')
    return m.accountId
  }

  async #change (groupId: string, input: GroupChangeInput): Promise<GroupView> {
    this.#info(groupId)
    let r: Awaited<ReturnType<DeviceGroups['change']>>
    try {
      r = await this.#p.crypto(async () => await this.#p.device.change(groupId, input))
    } catch (err) {
      if (E2eeError.is(err, 'NOT_MEMBER')) throw new MessengerError('NOT_ADMIN', err.message)
      throw err
    }
    // Everyone who was or is a member learns of it (a removed member learns it was removed).
    const targets = new Set([...r.before, ...this.#p.device.members(groupId).map((m) => m.accountId)])
    await this.#distribute(groupId, [r.change], targets, r.outcome, undefined)
    const view = this.#view(this.#info(groupId))
    this.#p.emit({ type: 'group', group: view })
    return view
  }

  /**
   * Sends changes to members (account ids), and the whole log to members the changes added (a new member needs
   * every change, and a change made concurrently by another admin may not have reached it).
   */
  async #distribute (groupId: string, changes: readonly Uint8Array[], targets: ReadonlySet<string>, outcome: ChangesOutcome, except: string | undefined): Promise<void> {
    const added = new Set(outcome.effects.added)
    const log = added.size > 0 ? this.#p.device.log(groupId) : []
    for (const account of targets) {
      if (account === except) continue
      const contactId = this.#p.device.contactFor(account)
      if (contactId === undefined) continue
      // A long log takes several bodies (chunkChanges), sent in merge order: the create first.
      for (const payload of this.#p.device.changesPayloads(groupId, added.has(account) ? log : changes)) {
        await this.#p.sendPairwise(contactId, payload, GROUP_MESSAGE_TTL_MS).catch((err: unknown) => {
          this.#p.log.warn('group-change-not-queued', { error: (err as Error).name })
        })
      }
    }
  }

  // ---- hooks called by MessengerCore ----

  /** In the commit of an opened envelope: a group text is stored once. True when it was new. */
  record (contactId: string, group: GroupOpened, now: number): GroupMessageView | undefined {
    if (group.type !== 'text') return undefined
    const c = this.#p.contact(contactId)
    if (c === undefined) return undefined
    const m: GroupMessageRow = { groupId: group.groupId, id: hex(group.text.id), sender: c.accountId, direction: 'in', seq: group.text.seq, text: group.text.text, sentAt: group.text.sentAt, at: now }
    return this.#store.insert(m) ? this.#messageView(m) : undefined
  }

  /** After the commit: events and follow-ups (replies, forwarded changes), queued behind the current crypto job. */
  settle (contactId: string, group: GroupOpened, stored: GroupMessageView | undefined): void {
    switch (group.type) {
      case 'text':
        if (stored !== undefined) {
          this.#p.emit({ type: 'group-message', message: stored })
          this.#p.emit({ type: 'group', group: this.#view(this.#info(group.groupId)) })
        }
        return
      case 'card-request':
        this.#p.syncMailboxes()
        this.#p.background('group-card-reply', this.#p.sendPairwise(contactId, this.#p.device.bodyPayload(group.reply), GROUP_MESSAGE_TTL_MS))
        return
      case 'card-reply': {
        const change = group.change
        if (change === undefined) return
        const members = new Set(this.#p.device.members(group.groupId).map((m) => m.accountId))
        const added = this.#p.device.accountOf(change.op.kind === 'add' ? (change.op.cards[0]?.identityKey ?? new Uint8Array()) : new Uint8Array(33))
        this.#p.background('group-distribute', this.#distribute(group.groupId, [change.bytes], members,
          { accepted: [change], refused: [], held: 0, effects: { added: [added], removed: [], member: true, rekeyed: false } }, undefined))
        this.#p.emit({ type: 'group', group: this.#view(this.#info(group.groupId)) })
        return
      }
      case 'changes': {
        const o = group.outcome
        for (const r of o.refused) this.#warn(contactId, group.groupId, r.reason, r.author)
        if (o.accepted.length === 0) return
        const info = this.#info(group.groupId)
        // Admins pass on what they accepted from others: a member added concurrently by another admin gets every
        // change this way (the log goes to members the changes added; the changes to everyone else).
        if (info.admin) {
          const sender = this.#p.contact(contactId)?.accountId
          const targets = new Set(this.#p.device.members(group.groupId).map((m) => m.accountId))
          this.#p.background('group-forward', this.#distribute(group.groupId, o.accepted.map((c) => c.bytes), targets, o, sender))
        }
        if (o.effects.added.length > 0) this.#p.syncMailboxes()
        this.#p.emit({ type: 'group', group: this.#view(info) })
        return
      }
      case 'refused':
        this.#warn(contactId, group.groupId, group.reason)
    }
  }

  /** A refused envelope's error, when it concerns groups (a non-member's message): a warning event. */
  refused (err: unknown): void {
    if (E2eeError.is(err, 'NOT_MEMBER')) this.#p.emit({ type: 'warning', text: REFUSAL_TEXT['not-member'] as string, reason: 'not-member' })
  }

  /**
   * A refusal as a warning event. `replayed` only when the contact who sent it is not an admin of the group: admins
   * forward what they accept and send whole logs to new members, so members get each change more than once in
   * ordinary traffic (a debug line only); anyone else sending a change again is replaying it. `superseded` at most
   * once per author and group (a removed admin's every late change would warn again; in memory, so once per run).
   */
  #warn (contactId: string, groupId: string, reason: string, author?: string): void {
    if (reason === 'replayed' && this.#forwardedByAdmin(contactId, groupId)) {
      this.#p.log.debug('group-change-replayed', {})
      return
    }
    // A new member gets other admins' forwards before its inviter's log: dropped, and ordinary (the log follows).
    if (reason === 'held-stranger') {
      this.#p.log.debug('group-change-held-stranger', {})
      return
    }
    if (reason === 'superseded' && author !== undefined) {
      const key = `${groupId}:${author}`
      if (this.#supersededWarned.has(key)) {
        this.#p.log.debug('group-change-superseded-again', {})
        return
      }
      this.#supersededWarned.add(key)
    }
    this.#p.log.warn('group-change-refused', { reason })
    this.#p.emit({ type: 'warning', contactId, groupId, reason, text: REFUSAL_TEXT[reason] ?? 'A group change was refused.' })
  }

  /** Whether the contact is an admin of the group (an admin's forward of a change one holds is ordinary). */
  #forwardedByAdmin (contactId: string, groupId: string): boolean {
    try {
      return this.#p.device.info(groupId).members.some((m) => m.admin && m.contactId === contactId)
    } catch {
      return false
    }
  }

  /** The group through which I met a contact that is not one I invited or was invited by. */
  metThrough (contactId: string): string | undefined {
    return this.#p.device.metThrough(contactId)
  }

  /** An outbox row's state moved: true when it is a group message's (one member's state). Its event goes to `emit`,
   * at once by default; a caller inside a transaction collects it and emits it only after the commit. */
  advance (contactId: string, messageId: string, state: MessageState, path?: DeliveryPath, emit: (e: MessengerEvent) => void = this.#p.emit): boolean {
    const r = this.#store.advance(contactId, messageId, state, path)
    if (r === undefined) return false
    if (r.changed) {
      const m = this.#store.message(r.groupId, '', messageId)
      if (m !== undefined) emit({ type: 'group-message-state', message: this.#messageView(m) })
    }
    return true
  }

  // ---- for tests (bad input from a real peer, and what a removed member can open) ----

  /** Seals a pairwise group payload of signed changes for a contact, as a peer could (any bytes). */
  async sendChangesForTest (contactId: string, groupId: string, changes: Uint8Array[]): Promise<void> {
    for (const p of this.#p.device.changesPayloads(groupId, changes)) await this.#p.sendPairwise(contactId, p, GROUP_MESSAGE_TTL_MS)
  }

  /** Queues raw envelope bytes for a contact (a forged group envelope). */
  async sendEnvelopeForTest (contactId: string, envelope: Uint8Array): Promise<void> {
    const now = this.#p.now()
    this.#p.db.prepare(`INSERT INTO outbox (contact_id, message_id, kind, envelope, attempts, next_attempt_at, expires_at, state, created_at)
      VALUES (?, ?, 'control', ?, 0, ?, ?, 'pending', ?)`).run([contactId, hex(randomBytes(16)), envelope as Uint8Array<ArrayBuffer>, now, now + 60_000, now])
    this.#p.queued(now)
  }

  get deviceForTest (): DeviceGroups {
    return this.#p.device
  }
}
