// Issue 13: what a person expects of a chat, on top of the messenger core: replies that quote, edits
// within EDIT_WINDOW_MS, deletion for me and for everyone, search across conversations, blocking and
// deleting contacts, and pending invites (handed out again, listed, revoked). Edits and deletions for
// everyone travel as control payloads inside the libsignal session (src/wire/payload.ts KIND_EDIT,
// KIND_DELETE): only the contact's session can produce them, and the contact's device applies them only to
// messages that contact sent (src/messenger/chat/incoming.ts).
import type { Payload } from '../../wire/payload.ts'
import { MAX_TEXT_BYTES } from '../../wire/payload.ts'
import { nextContactRev } from '../contact-rev.ts'
import { MessengerError } from '../errors.ts'
import type { HistoryStore } from '../history-store.ts'
import type { ContactPort, DevicePort } from '../ports.ts'
import type { ContactView, InviteView, MessageView, MessengerEvent, PendingInviteView, SearchHitView } from '../types.ts'
import type { ChatStore } from './chat-store.ts'
import { EDIT_WINDOW_MS, MAX_SEARCH_QUERY_CHARS, quoteOf } from './rules.ts'
import { expandShortInvite, shortInvite, unparkInvite, type Park, type ShortInviteDeps, type ShortInviteView } from './short-invite.ts'

/** What the features may use of the core (MessengerCore #chatHooks). */
export interface ChatHooks {
  readonly device: DevicePort<Payload>
  readonly history: HistoryStore
  readonly now: () => number
  /** The contact, or MessengerError UNKNOWN_CONTACT. */
  readonly contact: (id: string) => ContactPort
  readonly contactView: (id: string) => ContactView
  /** Seals a control payload into the outbox; `also` commits with it (the sender's own change). */
  readonly sendControl: (contactId: string, payload: (id: Uint8Array) => Payload, also: () => void) => Promise<void>
  readonly emit: (e: MessengerEvent) => void
  /** My mailboxes changed (a contact or invite gone): sessions of unlisted ones are closed. */
  readonly syncMailboxes: () => void
  readonly createInvite: (o: { expiresInMs?: number }) => Promise<InviteView>
  /** Short invites: the network's park requests, my relays, the settings rows. */
  readonly park: () => Park | undefined
  readonly relays: () => readonly string[]
  readonly setting: (key: string) => string | undefined
  readonly setSetting: (key: string, value: string) => void
}

const MESSAGE_ID = /^[0-9a-f]{32}$/

function checkMessageId (id: string): void {
  if (typeof id !== 'string' || !MESSAGE_ID.test(id)) throw new MessengerError('UNKNOWN_MESSAGE', 'There is no message with that id in this conversation.')
}

function checkText (text: string): void {
  if (typeof text !== 'string' || text.trim().length === 0) throw new MessengerError('INVALID_TEXT', 'A message needs some text.')
  if (Buffer.byteLength(text, 'utf8') > MAX_TEXT_BYTES) throw new MessengerError('INVALID_TEXT', `A message holds at most ${MAX_TEXT_BYTES} bytes of text; split it.`)
}

export class ChatFeatures {
  readonly #chat: ChatStore
  readonly #h: ChatHooks

  constructor (chat: ChatStore, hooks: ChatHooks) {
    this.#chat = chat
    this.#h = hooks
  }

  /** The message a reply quotes: its id and the excerpt sealed with the reply. */
  replyTarget (contactId: string, messageId: string): { id: string, quote: string } {
    this.#h.contact(contactId)
    checkMessageId(messageId)
    const m = this.#chat.quoted(contactId, messageId)
    if (m === undefined) throw new MessengerError('UNKNOWN_MESSAGE', 'The message you reply to is not in this conversation.')
    if (m.deleted) throw new MessengerError('MESSAGE_DELETED', 'That message was deleted; it cannot be quoted.')
    return { id: messageId, quote: quoteOf(m.text) }
  }

  async edit (contactId: string, messageId: string, text: string): Promise<MessageView> {
    this.#h.contact(contactId)
    checkMessageId(messageId)
    checkText(text)
    const m = this.#own(contactId, messageId, 'edited')
    if (m.deleted) throw new MessengerError('MESSAGE_DELETED', 'That message was deleted for everyone; it cannot be edited.')
    const now = this.#h.now()
    if (now - m.sentAt > EDIT_WINDOW_MS) {
      throw new MessengerError('EDIT_WINDOW', `A message can be edited for ${EDIT_WINDOW_MS / 60_000} minutes after it was sent; this one is older.`)
    }
    const target = Buffer.from(messageId, 'hex')
    await this.#h.sendControl(contactId, (id) => ({ kind: 'edit', id, seq: 0, target, editedAt: now, text }), () => {
      this.#chat.edit(contactId, 'out', messageId, text, now)
    })
    return this.#changed(contactId, 'out', messageId)
  }

  async delete (contactId: string, messageId: string, forEveryone: boolean): Promise<MessageView | undefined> {
    this.#h.contact(contactId)
    checkMessageId(messageId)
    if (!forEveryone) {
      const direction = this.#chat.row(contactId, 'out', messageId) !== undefined ? 'out' : 'in'
      if (!this.#chat.remove(contactId, direction, messageId)) throw new MessengerError('UNKNOWN_MESSAGE', 'There is no message with that id in this conversation.')
      this.#h.emit({ type: 'message-removed', contactId, id: messageId, direction })
      this.#h.emit({ type: 'contact', contact: this.#h.contactView(contactId) })
      return undefined
    }
    const m = this.#own(contactId, messageId, 'deleted for everyone')
    if (m.deleted) return this.#h.history.message(contactId, 'out', messageId)
    const now = this.#h.now()
    const target = Buffer.from(messageId, 'hex')
    await this.#h.sendControl(contactId, (id) => ({ kind: 'delete', id, seq: 0, target, deletedAt: now }), () => {
      this.#chat.markDeleted(contactId, 'out', messageId, now)
      // Not handed over yet: it is not sent at all any more (the request still goes, for a copy in flight).
      this.#h.history.removeOutbox(contactId, messageId)
    })
    return this.#changed(contactId, 'out', messageId)
  }

  search (query: string): SearchHitView[] {
    if (typeof query !== 'string' || query.trim().length === 0) throw new MessengerError('INVALID_QUERY', 'Type some words to search for.')
    if (query.length > MAX_SEARCH_QUERY_CHARS) throw new MessengerError('INVALID_QUERY', `A search holds at most ${MAX_SEARCH_QUERY_CHARS} characters.`)
    return this.#chat.search(query)
  }

  setBlocked (contactId: string, blocked: boolean): ContactView {
    this.#h.contact(contactId)
    this.#chat.setBlocked(contactId, blocked, this.#h.now())
    const view = this.#h.contactView(contactId)
    this.#h.emit({ type: 'contact', contact: view })
    return view
  }

  async deleteContact (contactId: string): Promise<void> {
    this.#h.contact(contactId)
    const del = this.#h.device.deleteContact
    if (del === undefined) throw new MessengerError('UNSUPPORTED', 'This node cannot delete contacts.')
    await del.call(this.#h.device, contactId)
    this.#h.syncMailboxes()
    this.#h.emit({ type: 'contact-removed', contactId, rev: nextContactRev() })
  }

  pendingInvites (): PendingInviteView[] {
    return this.#h.device.pendingInvites?.() ?? []
  }

  async revokeInvite (id: string): Promise<void> {
    const revoke = this.#h.device.revokeInvite
    if (revoke === undefined) throw new MessengerError('UNSUPPORTED', 'This node cannot revoke invites.')
    await revoke.call(this.#h.device, id)
    this.#h.syncMailboxes()
    // Its short link's parked copy goes too (best effort: it expires with the invite anyway).
    await unparkInvite(this.#shortDeps(), id)
  }

  /** A short link (at most 120 characters) for the pending invite, parked on one of my relays. */
  async shortInvite (): Promise<ShortInviteView> {
    const invite = await this.createInvite({})
    return await shortInvite(this.#shortDeps(), invite)
  }

  /** The full link behind a short one; a full link is returned as it is. */
  async expand (link: string): Promise<string> {
    return await expandShortInvite(this.#h.park(), link)
  }

  #shortDeps (): ShortInviteDeps {
    return { park: this.#h.park(), relays: this.#h.relays, setting: this.#h.setting, setSetting: this.#h.setSetting }
  }

  /** The pending invite already handed out (when it has long enough to live), else a new one. */
  async createInvite (o: { expiresInMs?: number, fresh?: boolean }): Promise<InviteView> {
    if (o.fresh !== true && o.expiresInMs === undefined) {
      const again = this.#h.device.reusableInvite?.()
      if (again !== undefined) return again
    }
    return await this.#h.createInvite(o.expiresInMs === undefined ? {} : { expiresInMs: o.expiresInMs })
  }

  /** My message, or why not: unknown, or the contact's (which only its sender may change). */
  #own (contactId: string, messageId: string, what: string): { sentAt: number, deleted: boolean } {
    const m = this.#chat.row(contactId, 'out', messageId)
    if (m !== undefined) return m
    if (this.#chat.row(contactId, 'in', messageId) !== undefined) {
      throw new MessengerError('NOT_YOURS', `Only messages you sent can be ${what}.`)
    }
    throw new MessengerError('UNKNOWN_MESSAGE', 'There is no message with that id in this conversation.')
  }

  #changed (contactId: string, direction: 'in' | 'out', id: string): MessageView {
    const view = this.#h.history.message(contactId, direction, id)
    if (view === undefined) throw new MessengerError('UNKNOWN_MESSAGE', 'There is no message with that id in this conversation.')
    this.#h.emit({ type: 'message-state', message: view })
    // The contact list's preview may show this message.
    this.#h.emit({ type: 'contact', contact: this.#h.contactView(contactId) })
    return view
  }
}
