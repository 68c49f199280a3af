// Groups on the device (issue 11): group rows and their signed membership logs, group cards, sender keys
// (libsignal SenderKeyDistributionMessage / groupEncrypt / groupDecrypt), pairwise sessions with members met
// through a group (PQXDH from their group card), and what a group body or a group envelope does when opened.
// Every function runs inside the device's queue (ctx.serial); writes join the open unit of work.
import { randomBytes, randomUUID } from 'node:crypto'
import {
  ErrorCode, KEMPublicKey, LibSignalErrorBase, PreKeyBundle, ProtocolAddress, PublicKey, SenderKeyDistributionMessage, SignedPreKeyRecord,
  KyberPreKeyRecord, groupDecrypt, groupEncrypt, processPreKeyBundle, processSenderKeyDistributionMessage
} from '@signalapp/libsignal-client'
import { accountIdFromIdentityKey } from '../../identity/account-id.ts'
import type { AccountRow } from '../../store/account.ts'
import { publicContact, type ContactRecord, type ContactRow } from '../../store/contacts.ts'
import { GroupRepository, type GroupRow } from '../../store/groups.ts'
import { toHex } from '../../wire/bytes.ts'
import { INNER_GROUP, sealEnvelope } from '../../wire/envelope.ts'
import { WireError } from '../../wire/errors.ts'
import {
  MAX_CARDS_PER_CHANGE, decodeGroupBody, decodeGroupInner, decodeGroupText, encodeGroupBody,
  encodeGroupInner, encodeGroupText, type ChangeOp, type GroupBody, type GroupCard, type GroupText, type SignedChange
} from '../../wire/group.ts'
import { PAYLOAD_ID_BYTES, encodePayload, type Payload } from '../../wire/payload.ts'
import { freshMySide, newContactRow } from '../contact-row.ts'
import { DEVICE_ID, blob, checkName, checkNetwork, newMailbox, type DeviceContext, type NetworkCardFields } from '../context.ts'
import { E2eeError } from '../errors.ts'
import { HELD_CHANGE_TTL_MS, heldVictim, type HeldChange, type HeldEntry } from './held.ts'
import { ChangeLog, changeHash, groupIdFor, signChange, sortChanges, verifyChange, type ChangeRefusal, type GroupState } from './membership.ts'

/** What opening a group body or envelope did, for the messenger to act on after the commit. */
export type GroupOpened =
  | { readonly type: 'text', readonly groupId: string, readonly sender: string, readonly text: GroupText }
  | { readonly type: 'card-request', readonly groupId: string, readonly reply: Uint8Array }
  | { readonly type: 'card-reply', readonly groupId: string, readonly change?: SignedChange }
  | { readonly type: 'changes', readonly groupId: string, readonly outcome: ChangesOutcome }
  | { readonly type: 'refused', readonly groupId: string, readonly reason: ChangeRefusal | 'not-member' | 'not-asked' }

/** Why a change was not applied: refused at once, or dropped from the held changes (expired, over the bounds). */
export type ChangeDrop = ChangeRefusal | 'held-expired' | 'held-over-limit' | 'held-stranger'

export interface ChangesOutcome {
  readonly accepted: readonly SignedChange[]
  /** `author`: the change's author (account id), given for `superseded` (the messenger warns once per author). */
  readonly refused: ReadonlyArray<{ readonly reason: ChangeDrop, readonly version: number, readonly author?: string }>
  /** Changes held aside this time: their parents have not arrived (they are admitted once they do). */
  readonly held: number
  readonly effects: StateEffects
}

/** What a new state means for this device. */
export interface StateEffects {
  /** Members (account ids) added, removed, by this change set. */
  readonly added: readonly string[]
  readonly removed: readonly string[]
  /** I am a member now (false: removed, left, or never added). */
  readonly member: boolean
  /** My sender key was replaced (someone left or was removed): the next message carries the new one to everyone. */
  readonly rekeyed: boolean
}

export interface GroupInfo {
  readonly id: string
  readonly name: string
  readonly joined: boolean
  readonly member: boolean
  readonly admin: boolean
  readonly version: number
  readonly members: ReadonlyArray<{ readonly accountId: string, readonly name: string, readonly admin: boolean, readonly contactId?: string, readonly me: boolean }>
}

interface Loaded {
  row: GroupRow
  log: ChangeLog
  state: GroupState
}

export { HELD_CHANGE_TTL_MS, MAX_HELD_CHANGES, MAX_HELD_PER_CONTACT, MAX_HELD_PER_GROUP, type HeldChange } from './held.ts'

/** The device's groups, kept beside its context (loaded at open). */
export class GroupBook {
  readonly repo: GroupRepository
  readonly groups = new Map<string, Loaded>()
  /** contact id -> group id, for contacts met through a group. */
  readonly met: Map<string, string>
  /**
   * Card requests I sent and that are not answered yet: `<group id>:<account id>` -> expiry (ms). Durable (the
   * answer may come days later, after restarts); a card reply signs an add only against one, and consumes it.
   */
  readonly asked: Map<string, number>
  /** Group id -> the contact whose card request made its row (the caps on groups I have not joined count these). */
  readonly pendingFrom: Map<string, string>
  /** Group id -> change hash -> a change waiting for its parents. */
  readonly held = new Map<string, Map<string, HeldChange>>()

  constructor (ctx: DeviceContext) {
    this.repo = new GroupRepository(ctx.db)
    this.met = this.repo.met()
    this.asked = this.repo.asked()
    this.pendingFrom = this.repo.pendingFrom()
    for (const row of this.repo.all()) {
      const changes: SignedChange[] = []
      for (const b of this.repo.changes(row.id)) {
        try {
          changes.push(verifyChange(b, { stored: true }))
        } catch {
          // A change of an older format (version 1 had no parents): that group's log is not readable any more.
          ctx.logger.warn('group.stored-change-unreadable', {})
        }
      }
      const log = new ChangeLog(changes)
      this.groups.set(row.id, { row, log, state: log.state() })
      ctx.mailboxes.set(toHex(row.myMailboxId), { kind: 'group', groupId: row.id, key: row.myMailboxKey })
    }
    // Expired held changes go at open, not only when a change for their group arrives (that may never happen).
    const now = ctx.now()
    let expired = 0
    for (const h of this.repo.heldChanges()) {
      if (h.heldAt + HELD_CHANGE_TTL_MS <= now || !this.groups.has(h.groupId)) {
        this.repo.unholdChange(h.groupId, h.hash)
        expired++
        continue
      }
      try {
        this.holdInMemory(h.groupId, { change: verifyChange(h.bytes), heldAt: h.heldAt, from: h.from })
      } catch {
        ctx.logger.warn('group.held-change-unreadable', {})
      }
    }
    if (expired > 0) ctx.logger.debug('group.held-expired-at-open', { count: expired })
  }

  /** Every held change, for the bounds (at most MAX_HELD_CHANGES). */
  heldEntries (): HeldEntry[] {
    const out: HeldEntry[] = []
    for (const [groupId, m] of this.held) for (const [hash, held] of m) out.push({ groupId, hash, held })
    return out
  }

  holdInMemory (groupId: string, h: HeldChange): void {
    let m = this.held.get(groupId)
    if (m === undefined) this.held.set(groupId, m = new Map<string, HeldChange>())
    m.set(changeHash(h.change.bytes), h)
  }

  get heldCount (): number {
    let n = 0
    for (const m of this.held.values()) n += m.size
    return n
  }

  get (id: string): Loaded {
    const g = this.groups.get(id)
    if (g === undefined) throw new E2eeError('UNKNOWN_CONTACT', 'There is no group with that id.')
    return g
  }
}

/**
 * Groups I was asked to join and have not joined (a row and a mailbox each): at most this many per contact and in
 * all. Any contact can send card requests with made-up group ids; without caps each one costs a row and a mailbox
 * this device polls. 4 per contact covers several real invitations in flight; 64 in all, many contacts at once.
 * At a cap the oldest such row is evicted (docs/protocol.md §10.4): new invitations always get through.
 */
export const MAX_PENDING_GROUPS_PER_CONTACT = 4
export const MAX_PENDING_GROUPS = 64

const books = new WeakMap<DeviceContext, GroupBook>()
/** Where I am now, for the cards I answer with (set by the messenger through Device.groups.setNetwork). */
export const groupNetwork = new WeakMap<DeviceContext, () => NetworkCardFields>()
const noNetwork = (): NetworkCardFields => ({ relays: [], addresses: [] })

export function groupBook (ctx: DeviceContext): GroupBook {
  let b = books.get(ctx)
  if (b === undefined) {
    b = new GroupBook(ctx)
    books.set(ctx, b)
  }
  return b
}

const gid = (b: Uint8Array): string => toHex(b)

function contactByAccount (ctx: DeviceContext, accountId: string): ContactRow | undefined {
  for (const c of ctx.contactCache.values()) if (c.accountId === accountId) return c
  return undefined
}

/** My card for a group: current signed prekey, the last-resort Kyber prekey, my mailbox for the group, where I am. */
function myCard (ctx: DeviceContext, row: GroupRow, net: NetworkCardFields): GroupCard {
  const account = ctx.accounts.get() as AccountRow
  const spk = ctx.db.prepare('SELECT record FROM signal_signed_prekeys WHERE id = ?').get([account.signedPreKeyId])
  const kyber = ctx.db.prepare('SELECT record FROM signal_kyber_prekeys WHERE id = ?').get([account.kyberLastResortId])
  const signed = SignedPreKeyRecord.deserialize(blob(spk?.record as Uint8Array))
  const k = KyberPreKeyRecord.deserialize(blob(kyber?.record as Uint8Array))
  return {
    identityKey: ctx.identityKeyBytes,
    registrationId: account.registrationId,
    signedPreKeyId: signed.id(),
    signedPreKey: signed.publicKey().serialize(),
    signedPreKeySignature: signed.signature(),
    kyberPreKeyId: k.id(),
    kyberPreKey: k.publicKey().serialize(),
    kyberPreKeySignature: k.signature(),
    mailboxId: row.myMailboxId,
    mailboxKey: row.myMailboxKey,
    displayName: ctx.name,
    ...(net.peerId === undefined ? {} : { peerId: net.peerId }),
    relays: [...net.relays],
    addresses: [...net.addresses]
  }
}

function newGroupRow (ctx: DeviceContext, id: string, name: string, joined: boolean): GroupRow {
  const mb = newMailbox()
  return {
    id, name, joined, myMailboxId: mb.mailboxId, myMailboxKey: mb.mailboxKey, myMailboxPrivateKey: mb.privateKey, myMailboxPublicKey: mb.publicKey,
    distributionId: randomUUID(), createdAt: ctx.now()
  }
}

/**
 * Group rows and logs change in memory at once, not at the commit: the next envelope of the same batch (another
 * member's card reply, the next change) must build on them. A unit that fails after this (rare: a store error)
 * leaves memory ahead of the store until the next open.
 */
function addRow (ctx: DeviceContext, book: GroupBook, row: GroupRow, changes: SignedChange[]): void {
  const log = new ChangeLog(changes)
  book.groups.set(row.id, { row, log, state: log.state() })
  ctx.mailboxes.set(toHex(row.myMailboxId), { kind: 'group', groupId: row.id, key: row.myMailboxKey })
  ctx.stores.defer(() => { book.repo.insert(row) })
}

export function groupPayload (body: GroupBody): Payload {
  return { kind: 'group', id: new Uint8Array(randomBytes(PAYLOAD_ID_BYTES)), seq: 0, body: encodeGroupBody(body) }
}

// ---- creating and changing ----

/** Drops a group row I never joined: its mailbox, its log and held changes (in memory at once, the store at the commit). */
function forgetUnjoined (ctx: DeviceContext, book: GroupBook, row: GroupRow): void {
  book.groups.delete(row.id)
  book.held.delete(row.id)
  book.pendingFrom.delete(row.id)
  ctx.mailboxes.delete(toHex(row.myMailboxId))
  ctx.stores.defer(() => { book.repo.deleteUnjoined(row.id) })
}

/** A new group with me as its only member and admin (members join by add changes once they sent their cards). */
export async function createGroup (ctx: DeviceContext, name: string, net: NetworkCardFields): Promise<{ groupId: string, change: SignedChange }> {
  checkNetwork(net)
  const n = checkName(name, 'group name')
  const book = groupBook(ctx)
  // The row (and its mailbox, named in my card) first; its id is set once the create it derives from is made.
  const draft = newGroupRow(ctx, '', n, true)
  const body = { version: 1, parents: [], author: ctx.identityKeyBytes, at: ctx.now(), op: { kind: 'create', name: n, card: myCard(ctx, draft, net) } } as const
  const groupId = groupIdFor(body)
  const row = { ...draft, id: gid(groupId) }
  const change = signChange({ groupId, ...body }, ctx.identity.privateKey)
  await ctx.stores.atomically(async () => {
    addRow(ctx, book, row, [change])
    ctx.stores.defer(() => { book.repo.addChange(row.id, changeHash(change.bytes), change.bytes, ctx.now()) })
  })
  return { groupId: row.id, change }
}

/** Signs and applies a change of mine (admin ops; leave for anyone). Throws NOT_MEMBER when I may not make it. */
export async function changeGroup (ctx: DeviceContext, groupId: string, op: ChangeOp): Promise<{ change: SignedChange, before: GroupState, outcome: ChangesOutcome }> {
  const book = groupBook(ctx)
  const g = book.get(groupId)
  if (op.kind === 'add' && (op.cards.length === 0 || op.cards.length > MAX_CARDS_PER_CHANGE)) throw new RangeError(`an add change carries 1 to ${MAX_CARDS_PER_CHANGE} cards`)
  if (op.kind === 'rename') checkName(op.name, 'group name')
  const change = signChange({ groupId: Buffer.from(groupId, 'hex'), ...g.log.next(), author: ctx.identityKeyBytes, at: ctx.now(), op }, ctx.identity.privateKey)
  const before = g.state
  const outcome = await ctx.stores.atomically(async () => await takeChanges(ctx, g, [change.bytes], undefined))
  if (outcome.accepted.length === 0) throw new E2eeError('NOT_MEMBER', op.kind === 'leave' ? 'You are not a member of this group.' : 'Only an admin of this group can do that.')
  return { change, before, outcome }
}

/**
 * The log to hand a new member: every change held, in merge order (the create first). It may be longer than one
 * `changes` body: the messenger splits it with chunkChanges (a slice of it would drop the create, and the new
 * member could verify nothing).
 */
export function groupLog (ctx: DeviceContext, groupId: string): Uint8Array[] {
  const g = groupBook(ctx).get(groupId)
  return sortChanges(g.log.changes).map((x) => x.change.bytes)
}

/**
 * Admits changes into a group's log (inside the open unit): each verified, refused if replayed, for another group
 * or made by someone who was no admin at its parents; held aside while its parents are missing, and admitted
 * with whatever it waited for once they arrive. Then the effects of the new state: contacts and sessions for
 * members I have not met, my sender key replaced if anyone left.
 */
async function takeChanges (ctx: DeviceContext, g: Loaded, raw: readonly Uint8Array[], from: string | undefined): Promise<ChangesOutcome> {
  const book = groupBook(ctx)
  const before = g.state
  const accepted: SignedChange[] = []
  const refused: Array<{ reason: ChangeDrop, version: number, author?: string }> = []
  const now = ctx.now()
  const id = g.row.id
  let heldNow = 0
  const held = book.held.get(id) ?? new Map<string, HeldChange>()
  book.held.set(id, held)
  const unholdIn = (groupId: string, hash: string): void => {
    book.held.get(groupId)?.delete(hash)
    ctx.stores.defer(() => { book.repo.unholdChange(groupId, hash) })
  }
  const unhold = (hash: string): void => { unholdIn(id, hash) }
  for (const [hash, h] of held) if (h.heldAt + HELD_CHANGE_TTL_MS <= now) { unhold(hash); refused.push({ reason: 'held-expired', version: h.change.version }) }
  const take = (c: SignedChange): 'admitted' | 'missing' | ChangeRefusal => {
    if (g.log.size === 0 && c.op.kind !== 'create' && c.parents.length === 0) return 'unknown-group'
    const r = g.log.admit(c)
    if ('refused' in r) return r.refused
    if ('missing' in r) return 'missing'
    accepted.push(c)
    return 'admitted'
  }
  for (const bytes of raw) {
    let c: SignedChange
    try {
      c = verifyChange(bytes)
    } catch (err) {
      refused.push({ reason: E2eeError.is(err, 'BAD_SENDER') ? 'bad-signature' : 'malformed', version: 0 })
      continue
    }
    if (gid(c.groupId) !== id) { refused.push({ reason: 'other-group', version: c.version }); continue }
    const hash = changeHash(c.bytes)
    if (held.has(hash)) { refused.push({ reason: 'replayed', version: c.version }); continue }
    const r = take(c)
    if (r === 'admitted') continue
    if (r !== 'missing') { refused.push({ reason: r, version: c.version }); continue }
    // Held only when its author is in this group's log, or it comes from the contact whose card request made this
    // row I have not joined (the log I am about to get): anyone else's orphans would only take room.
    const fromInviter = !g.row.joined && from !== undefined && book.pendingFrom.get(id) === from
    if (!fromInviter && !g.log.knows(accountIdFromIdentityKey(c.author))) { refused.push({ reason: 'held-stranger', version: c.version }); continue }
    // At a bound, the oldest held change of the contact holding the most makes room (see held.ts), not the arrival.
    for (let victim = heldVictim(book.heldEntries(), id, from); victim !== undefined; victim = heldVictim(book.heldEntries(), id, from)) {
      unholdIn(victim.groupId, victim.hash)
      if (victim.groupId === id) refused.push({ reason: 'held-over-limit', version: victim.held.change.version })
      else ctx.logger.debug('group.held-evicted', {})
    }
    held.set(hash, { change: c, heldAt: now, from })
    heldNow++
    ctx.stores.defer(() => { book.repo.holdChange(id, hash, bytes, now, from) })
  }
  // Whatever waited for what was just admitted, until nothing more comes in.
  for (let progress = accepted.length > 0; progress;) {
    progress = false
    for (const [hash, h] of sortHeld(held)) {
      const r = take(h.change)
      if (r === 'missing') continue
      unhold(hash)
      if (r === 'admitted') progress = true
      else refused.push({ reason: r, version: h.change.version })
    }
  }
  for (const [groupId, m] of book.held) if (m.size === 0) book.held.delete(groupId)
  const state = g.log.state()
  // Admitted, but without effect (its author was removed concurrently, rule 2): told like a refusal.
  for (const c of accepted) if (!state.effective.has(changeHash(c.bytes))) refused.push({ reason: 'superseded', version: c.version, author: accountIdFromIdentityKey(c.author) })
  const me = ctx.accountId
  const added = [...state.members.keys()].filter((a) => !before.members.has(a))
  const removed = [...before.members.keys()].filter((a) => !state.members.has(a))
  const member = state.members.has(me)
  const rekeyed = removed.length > 0 && member
  const distributionId = rekeyed ? randomUUID() : g.row.distributionId
  const joined = g.row.joined || member
  if (accepted.length > 0) {
    for (const c of accepted) ctx.stores.defer(() => { book.repo.addChange(id, changeHash(c.bytes), c.bytes, now) })
    // An ask is answered once the account is in (by anyone's add) and void once it is out: a reply held back
    // (two admins asked, or one asked twice) must not add a member after its removal.
    for (const a of [...added, ...removed]) {
      const key = `${id}:${a}`
      if (book.asked.delete(key)) ctx.stores.defer(() => { book.repo.unask(key) })
    }
    if (member) for (const a of state.members.keys()) if (a !== me) await meet(ctx, id, state, a)
    // In memory at once (see addRow): the next envelope of this batch builds on this state.
    g.row = { ...g.row, name: state.name, joined, distributionId }
    g.state = state
    ctx.stores.defer(() => { book.repo.update(id, { name: state.name, joined, distributionId }) })
  }
  return { accepted, refused, held: heldNow, effects: { added, removed, member, rekeyed } }
}

/** Held changes, parents first (by version), so one pass admits a whole reordered run. */
function sortHeld (held: ReadonlyMap<string, HeldChange>): Array<[string, HeldChange]> {
  return [...held].sort((x, y) => x[1].change.version - y[1].change.version || (x[0] < y[0] ? -1 : 1))
}

/** A contact row and a PQXDH session for a member I know only through this group (none if already a contact). */
async function meet (ctx: DeviceContext, groupId: string, state: GroupState, accountId: string): Promise<void> {
  if (contactByAccount(ctx, accountId) !== undefined) return
  const m = state.members.get(accountId)
  if (m === undefined) return
  const card = m.card
  const identityKey = PublicKey.deserialize(blob(card.identityKey))
  const row = newContactRow({
    identityKey: card.identityKey,
    createdAt: ctx.now(),
    theirs: { displayName: card.displayName, mailboxId: card.mailboxId, mailboxKey: card.mailboxKey, relays: card.relays, addresses: card.addresses, ...(card.peerId === undefined ? {} : { peerId: card.peerId }) },
    mine: freshMySide()
  })
  const bundle = PreKeyBundle.new(card.registrationId, DEVICE_ID, null, null, card.signedPreKeyId, PublicKey.deserialize(blob(card.signedPreKey)),
    blob(card.signedPreKeySignature), identityKey, card.kyberPreKeyId, KEMPublicKey.deserialize(blob(card.kyberPreKey)), blob(card.kyberPreKeySignature))
  ctx.stores.pinIdentity(row.address, identityKey)
  try {
    await processPreKeyBundle(bundle, ctx.address(row), ctx.localAddress, ctx.stores, ctx.stores, new Date(ctx.now()))
  } catch (err) {
    throw new E2eeError('BAD_PAYLOAD', "A member's group card has a prekey whose signature does not verify.", { cause: err })
  }
  const book = groupBook(ctx)
  // Cached at once (not after the commit): the next member's turn in this same unit must find this contact.
  ctx.cacheContact(row)
  book.met.set(row.id, groupId)
  ctx.stores.defer(() => { ctx.contactRepo.insert(row); book.repo.markMet(row.id, groupId) })
}

/** Records that I asked this account for its card for this group, until `expiresAt` (inside a unit). */
export function askCard (ctx: DeviceContext, groupId: string, accountId: string, expiresAt: number): void {
  const book = groupBook(ctx)
  book.get(groupId)
  const key = `${groupId}:${accountId}`
  book.asked.set(key, expiresAt)
  ctx.stores.defer(() => { book.repo.ask(key, expiresAt) })
}

/** Whether I asked this account for its card for this group (and the ask has not expired); consumes the ask. */
function takeAsk (ctx: DeviceContext, book: GroupBook, groupId: string, accountId: string): boolean {
  const key = `${groupId}:${accountId}`
  const expiresAt = book.asked.get(key)
  if (expiresAt === undefined) return false
  book.asked.delete(key)
  ctx.stores.defer(() => { book.repo.unask(key) })
  return expiresAt > ctx.now()
}

// ---- opening ----

/** A pairwise group body from a contact (inside the unit of the envelope being opened). */
export async function openGroupBody (ctx: DeviceContext, contact: ContactRow, body: Uint8Array): Promise<GroupOpened> {
  const net = groupNetwork.get(ctx) ?? noNetwork
  let b: GroupBody
  try {
    b = decodeGroupBody(body)
  } catch (err) {
    throw new E2eeError('BAD_PAYLOAD', `The group message is not valid: ${WireError.is(err) ? err.message : 'unreadable'}`, { cause: err })
  }
  const book = groupBook(ctx)
  const groupId = gid(b.groupId)
  const g = book.groups.get(groupId)
  switch (b.type) {
    case 'card-request': {
      // A contact adds me to a group: my card for it (a mailbox of its own), sent back; I join once the add arrives.
      let row = g?.row
      if (row === undefined) {
        // At a cap, the oldest such row makes room (this contact's own at its cap, anyone's at the total): a real
        // invitation is never locked out by old junk, and a contact sending junk only replaces its own.
        const pending = [...book.groups.values()].filter((x) => !x.row.joined).sort((x, y) => x.row.createdAt - y.row.createdAt || (x.row.id < y.row.id ? -1 : 1))
        const fromThem = pending.filter((x) => book.pendingFrom.get(x.row.id) === contact.id)
        const evict = fromThem.length >= MAX_PENDING_GROUPS_PER_CONTACT ? fromThem[0] : pending.length >= MAX_PENDING_GROUPS ? pending[0] : undefined
        if (evict !== undefined) {
          ctx.logger.debug('group.pending-evicted', { fromContact: fromThem.length, pending: pending.length })
          forgetUnjoined(ctx, book, evict.row)
        }
        const fresh = newGroupRow(ctx, groupId, checkName(b.name, 'group name'), false)
        addRow(ctx, book, fresh, [])
        book.pendingFrom.set(groupId, contact.id)
        ctx.stores.defer(() => { book.repo.markPendingFrom(groupId, contact.id) })
        row = fresh
      }
      return { type: 'card-request', groupId, reply: encodeGroupBody({ type: 'card-reply', groupId: b.groupId, card: myCard(ctx, row, net()) }) }
    }
    case 'card-reply': {
      if (g === undefined) return { type: 'refused', groupId, reason: 'unknown-group' }
      if (!Buffer.from(b.card.identityKey).equals(contact.identityKey)) throw new E2eeError('BAD_SENDER', 'A group card arrived from someone other than its owner.')
      // Only an answer to a card request I sent (and did not see answered yet) makes me sign an add: otherwise a
      // removed member, or any contact who learnt the group id, could add itself by sending its card unasked.
      if (!takeAsk(ctx, book, groupId, contact.accountId)) return { type: 'refused', groupId, reason: 'not-asked' }
      if (g.state.members.get(ctx.accountId)?.admin !== true) return { type: 'card-reply', groupId }
      const change = signChange({ groupId: b.groupId, ...g.log.next(), author: ctx.identityKeyBytes, at: ctx.now(), op: { kind: 'add', cards: [b.card] } }, ctx.identity.privateKey)
      const outcome = await takeChanges(ctx, g, [change.bytes], undefined)
      return outcome.accepted.length > 0 ? { type: 'card-reply', groupId, change } : { type: 'card-reply', groupId }
    }
    case 'changes': {
      if (g === undefined) return { type: 'refused', groupId, reason: 'unknown-group' }
      return { type: 'changes', groupId, outcome: await takeChanges(ctx, g, b.changes, contact.id) }
    }
    case 'keyed': {
      if (g === undefined) return { type: 'refused', groupId, reason: 'unknown-group' }
      if (!g.state.members.has(contact.accountId)) throw new E2eeError('NOT_MEMBER', 'A group key arrived from someone who is not a member of that group; it was dropped.')
      let skdm: SenderKeyDistributionMessage
      try {
        skdm = SenderKeyDistributionMessage.deserialize(blob(b.skdm))
      } catch (err) {
        throw new E2eeError('MALFORMED', 'The group key does not parse.', { cause: err })
      }
      await processSenderKeyDistributionMessage(ctx.address(contact), skdm, ctx.stores)
      return await decryptGroup(ctx, contact, b.message, groupId)
    }
  }
}

async function decryptGroup (ctx: DeviceContext, sender: ContactRow, message: Uint8Array, expectGroup?: string): Promise<GroupOpened> {
  let plaintext: Uint8Array
  try {
    plaintext = await groupDecrypt(ctx.address(sender), ctx.stores, blob(message))
  } catch (err) {
    if (LibSignalErrorBase.is(err, ErrorCode.DuplicatedMessage)) throw new E2eeError('DUPLICATE', 'This group message was already received.', { cause: err })
    if (LibSignalErrorBase.is(err, ErrorCode.InvalidSenderKeySession)) throw new E2eeError('GROUP_KEY_MISSING', "The sender's group key has not arrived yet; the message opens once it has.", { cause: err })
    throw new E2eeError('UNDECRYPTABLE', 'The group message could not be decrypted.', { cause: err })
  }
  let text: GroupText
  try {
    text = decodeGroupText(plaintext)
  } catch (err) {
    throw new E2eeError('BAD_PAYLOAD', `The group message is not valid: ${WireError.is(err) ? err.message : 'unreadable'}`, { cause: err })
  }
  const groupId = gid(text.groupId)
  if (expectGroup !== undefined && groupId !== expectGroup) throw new E2eeError('BAD_PAYLOAD', 'The group message names another group than its key.')
  const g = groupBook(ctx).groups.get(groupId)
  if (g === undefined || !g.state.members.has(sender.accountId) || !g.state.members.has(ctx.accountId)) {
    throw new E2eeError('NOT_MEMBER', 'A group message arrived from someone who is not a member of that group (or for a group I left); it was dropped.')
  }
  return { type: 'text', groupId, sender: sender.id, text }
}

/** Envelope innerType 0x03: the sender named inside (known to me: a contact or a member met through a group), then its sender-key message. */
export async function openGroupEnvelope (ctx: DeviceContext, entryContactId: string | undefined, body: Uint8Array): Promise<{ contact: ContactRecord, row: ContactRow, opened: GroupOpened, payload: Payload }> {
  let inner: { sender: Uint8Array, message: Uint8Array }
  try {
    inner = decodeGroupInner(body)
  } catch (err) {
    throw new E2eeError('MALFORMED', WireError.is(err) ? err.message : 'The group envelope could not be read.', { cause: err })
  }
  const senderAccount = accountIdFromIdentityKey(inner.sender)
  const sender = contactByAccount(ctx, senderAccount)
  if (sender === undefined) throw new E2eeError('NOT_MEMBER', 'A group message arrived from someone this device does not know; it was dropped.')
  if (entryContactId !== undefined && entryContactId !== sender.id) throw new E2eeError('BAD_SENDER', "A group message in a contact's mailbox names another sender; it was dropped.")
  const opened = await decryptGroup(ctx, sender, inner.message)
  const t = (opened as Extract<GroupOpened, { type: 'text' }>).text
  return { contact: publicContact(sender), row: sender, opened, payload: { kind: 'group', id: t.id, seq: 0, body: new Uint8Array(0) } }
}

// ---- sending ----

/**
 * One group text: one groupEncrypt, then per member the mailbox envelope around the same ciphertext; a member
 * who does not hold my current sender key gets it with this message, inside our pairwise session instead.
 * Returns the envelope per member contact id. Runs inside a unit (the caller's outbox rows commit with it).
 */
export async function sealGroupText (ctx: DeviceContext, groupId: string, text: GroupText,
  encryptPairwise: (contact: ContactRow, plaintext: Uint8Array) => Promise<Uint8Array>): Promise<Array<{ contactId: string, accountId: string, envelope: Uint8Array }>> {
  const book = groupBook(ctx)
  const g = book.get(groupId)
  if (!g.state.members.has(ctx.accountId)) throw new E2eeError('NOT_MEMBER', 'You are not a member of this group.')
  const distributionId = g.row.distributionId
  const skdm = await SenderKeyDistributionMessage.create(ctx.localAddress, distributionId, ctx.stores)
  const message = (await groupEncrypt(ctx.localAddress, distributionId, ctx.stores, blob(encodeGroupText(text)))).serialize()
  const sent = book.repo.keySent(groupId, distributionId)
  const inner = encodeGroupInner(ctx.identityKeyBytes, message)
  const out: Array<{ contactId: string, accountId: string, envelope: Uint8Array }> = []
  let keyed: Uint8Array | undefined
  for (const accountId of g.state.members.keys()) {
    if (accountId === ctx.accountId) continue
    const c = contactByAccount(ctx, accountId)
    if (c === undefined) continue
    let envelope: Uint8Array
    if (sent.has(accountId)) {
      envelope = sealEnvelope({ mailboxId: c.theirMailboxId, mailboxKey: c.theirMailboxKey, innerType: INNER_GROUP, body: inner })
    } else {
      keyed ??= encodePayload(groupPayload({ type: 'keyed', groupId: text.groupId, skdm: skdm.serialize(), message }))
      envelope = await encryptPairwise(c, keyed)
      ctx.stores.defer(() => { book.repo.markKeySent(groupId, distributionId, accountId) })
    }
    out.push({ contactId: c.id, accountId, envelope })
  }
  lastSealedForTest.set(ctx, message)
  return out
}

/** For tests: the last sender-key message this device sealed (the removed-member test tries it with the removed member's store). */
export const lastSealedForTest = new WeakMap<DeviceContext, Uint8Array>()

/** For tests: tries to open a sender-key message with this device's store (rolled back whatever happens). */
export async function tryGroupDecrypt (ctx: DeviceContext, senderAccountId: string, message: Uint8Array): Promise<GroupText> {
  const sender = contactByAccount(ctx, senderAccountId)
  const address = sender !== undefined ? ctx.address(sender) : ProtocolAddress.new('00000000-0000-8000-8000-000000000000', DEVICE_ID)
  ctx.stores.begin()
  try {
    return decodeGroupText(await groupDecrypt(address, ctx.stores, blob(message)))
  } finally {
    ctx.stores.rollback()
  }
}

// ---- reading ----

export function groupInfo (ctx: DeviceContext, groupId: string): GroupInfo {
  const g = groupBook(ctx).get(groupId)
  const me = g.state.members.get(ctx.accountId)
  return {
    id: g.row.id,
    name: g.state.name !== '' ? g.state.name : g.row.name,
    joined: g.row.joined,
    member: me !== undefined,
    admin: me?.admin === true,
    version: g.state.version,
    members: [...g.state.members.values()].map((m) => {
      const c = m.accountId === ctx.accountId ? undefined : contactByAccount(ctx, m.accountId)
      return { accountId: m.accountId, name: m.accountId === ctx.accountId ? ctx.name : (c?.name ?? m.card.displayName), admin: m.admin, me: m.accountId === ctx.accountId, ...(c === undefined ? {} : { contactId: c.id }) }
    }).sort((a, b) => a.name.localeCompare(b.name) || a.accountId.localeCompare(b.accountId))
  }
}

export function groupIds (ctx: DeviceContext): string[] {
  return [...groupBook(ctx).groups.values()].filter((g) => g.row.joined).map((g) => g.row.id)
}

/** Member contact ids of a group, me excluded (current state). */
export function memberContacts (ctx: DeviceContext, groupId: string): Array<{ contactId: string, accountId: string }> {
  const g = groupBook(ctx).get(groupId)
  const out: Array<{ contactId: string, accountId: string }> = []
  for (const a of g.state.members.keys()) {
    if (a === ctx.accountId) continue
    const c = contactByAccount(ctx, a)
    if (c !== undefined) out.push({ contactId: c.id, accountId: a })
  }
  return out
}

export function contactForAccount (ctx: DeviceContext, accountId: string): string | undefined {
  return contactByAccount(ctx, accountId)?.id
}

export function metThrough (ctx: DeviceContext, contactId: string): string | undefined {
  return groupBook(ctx).met.get(contactId)
}
