// The messenger core as the local API, CLI and web UI see it. The API layer depends only on this
// file; src/messenger/messenger.ts implements it on e2ee, store and net.
import type { GroupEvent, Groups } from './groups/types.ts'
import type { FetchIsolation, RelayView } from '../net/node.ts'
import type { LinkKind } from '../net/path.ts'
import type { FilesPort, FileView } from './files/types.ts'

export type { FetchIsolation, RelayView, LinkKind }

export type MessageState = 'queued' | 'sent' | 'stored' | 'delivered' | 'read' | 'failed'
export type DeliveryPath = 'direct' | 'relayed' | 'mailbox'

export interface MessageView {
  /** Random message id (hex), unique per conversation and sender. */
  readonly id: string
  readonly contactId: string
  readonly direction: 'out' | 'in'
  readonly text: string
  /** Sender's per-conversation sequence number (1, 2, 3...). */
  readonly seq: number
  /** ms since epoch: when it was written (out) or received (in). */
  readonly at: number
  /** Incoming: when its sender wrote it (ms since epoch, the sender's clock). A conversation shows each sender's
   * messages by seq, the two interleaved by this (out: by `at`); a client that places a message itself must too. */
  readonly sentAt?: number
  readonly state: MessageState
  /** For 'failed': why, as one sentence. */
  readonly failure?: string
  /** The path that carried it (out: the one that got it acknowledged; in: the one it arrived by). */
  readonly path?: DeliveryPath
  /** Incoming: sequence numbers missing before this one (a visible gap). */
  readonly gapBefore?: number
  /** A reply: the message it quotes (its id, in this conversation) and the excerpt the sender sealed. */
  readonly replyTo?: { readonly id: string, readonly quote: string }
  /** When its sender last edited it (the sender's clock). */
  readonly editedAt?: number
  /** Deleted for everyone by its sender: the text is gone, the UI shows "deleted". */
  readonly deleted?: boolean
}

export interface ContactView {
  /** Local id of the contact (opaque, stable). */
  readonly id: string
  readonly name: string
  /** The contact's account id (checksummed, human-copyable). */
  readonly accountId: string
  readonly verified: boolean
  readonly unread: number
  /** Orders views of a contact: a view with a higher rev was built later and is the newer (src/messenger/contact-rev.ts). */
  readonly rev: number
  readonly lastMessage?: { readonly text: string, readonly at: number, readonly direction: 'out' | 'in' }
  /** Present once the contact's identity key changed (a reinstall, or someone else): the newest change.
   * While pending, the contact's messages under the new key are held; nothing changes until the user
   * compares the new safety number and accepts or blocks it (src/messenger/key-change.ts). */
  readonly keyChange?: KeyChangeView
  /** Blocked by the user (issue 13): nothing from them is stored, shown or receipted until unblocked. */
  readonly blocked?: boolean
  /** The connection to the contact now: direct, hole-punched (direct, through a NAT, set up via a relay),
   * relayed (through a relay circuit); absent without a connection (messages then go to the mailbox). */
  readonly link?: LinkKind
  /** Issue 11: a member I know only through a group (its id): a pairwise session opened from its group card, not
   * an invite. Not a contact I chose; shown apart. */
  readonly metThroughGroup?: string
}



export interface KeyChangeView {
  /** ms since epoch: when the first message under the new key arrived (where the chat shows "X's safety number changed"). */
  readonly at: number
  /** pending: waits for the user; accepted: the new key is the contact's now (not verified); blocked: its messages are dropped. */
  readonly state: 'pending' | 'accepted' | 'blocked'
  /** Messages held under the new key (they open if the user accepts). */
  readonly held: number
  readonly decidedAt?: number
}

/** The safety number the contact's new, pending identity key gives: compare it before accepting. */
export interface PendingSafetyNumberView {
  readonly contactId: string
  readonly digits: string
  readonly scannable: string
  readonly at: number
  readonly held: number
}

export interface StatusView {
  readonly accountId: string
  readonly name: string
  readonly peerId: string
  readonly addresses: readonly string[]
  readonly relays: readonly RelayView[]
  readonly nat: 'public' | 'private' | 'unknown'
  readonly outbox: number
  readonly connections: number
  /** Contacts connected now, by kind of link (hole-punched links are direct ones set up through a relay). */
  readonly links: { readonly direct: number, readonly holePunched: number, readonly relayed: number }
  readonly settings: SettingsView
}

export interface SettingsView {
  readonly relayOnly: boolean
  readonly lanDiscovery: boolean
  readonly relays: readonly string[]
  /** Mailbox fetches: one short-lived identity for all mailboxes ('device') or one per mailbox ('contact'). */
  readonly fetchIsolation: FetchIsolation
}

export interface InviteView {
  /** One line: `0m1:` + base64url. */
  readonly link: string
  readonly expiresAt: number
}

export interface SafetyNumberView {
  readonly contactId: string
  /** 60 digits, grouped for display by the UI. */
  readonly digits: string
  /** Scannable form (libsignal Fingerprint.scannableFingerprint), base64. */
  readonly scannable: string
  readonly verified: boolean
}

export type MessengerEvent =
  | { readonly type: 'message', readonly message: MessageView }
  | { readonly type: 'message-state', readonly message: MessageView }
  | { readonly type: 'contact', readonly contact: ContactView }
  /** When my addresses, relays or settings change. */
  | { readonly type: 'status', readonly status: StatusView }
  | { readonly type: 'warning', readonly contactId?: string, readonly text: string, readonly groupId?: string, readonly reason?: string }
  /** Issue 13: a message deleted for me (gone from this device), a contact deleted. `direction`: ids are unique per
   * direction only (the contact chooses its own), so mine and the contact's may share one. */
  | { readonly type: 'message-removed', readonly contactId: string, readonly id: string, readonly direction: 'in' | 'out' }
  /** `rev`: as a contact view's (src/messenger/contact-rev.ts): a list reload built before the removal holds only
   * views of lower rev, so the page does not bring the contact back from it. */
  | { readonly type: 'contact-removed', readonly contactId: string, readonly rev: number }
  /** Issue 12: a file transfer changed state or made progress (at most every 200 ms). */
  | { readonly type: 'file', readonly file: FileView }
  // Issue 11: groups.
  | GroupEvent

/** A search hit (issue 13): the matching part of the text with the matched words between \u0002 and \u0003. */
export interface SearchHitView {
  readonly contactId: string
  readonly messageId: string
  readonly direction: 'in' | 'out'
  readonly at: number
  readonly snippet: string
}

/** An invite handed out and not answered yet (issue 13). */
export interface PendingInviteView {
  /** Names it for revoke (the invite's mailbox id, hex). */
  readonly id: string
  readonly createdAt: number
  readonly expiresAt: number
  readonly link?: string
}

/**
 * A page of a conversation: the newest `limit` messages whose interleave key, min(sentAt, arrival) (an outgoing
 * message's is its `at`), is below `before`, newest by key, then incoming before outgoing, then seq, sentAt, id.
 * `after`: only the messages past that one in this order, so that paging back neither skips nor repeats messages
 * that share a key. It is the previous page's last in this order: the lowest key, then outgoing before incoming,
 * then the lowest seq, sentAt, id. That is the page's first shown message only while each sender's keys rise with
 * its seq (no clock went back, no message overtaken by a later one of the same sender). Messenger.messages
 * refuses (UNKNOWN_MESSAGE) a cursor no longer in the conversation rather than page from the newest again.
 */
export interface PageOptions {
  limit?: number
  before?: number
  after?: PageCursor
}

export interface PageCursor { direction: 'in' | 'out', id: string }

export interface Messenger {
  status: () => Promise<StatusView>
  /** The pending invite already handed out, if one has long enough to live; else (or with `fresh`) a new one. */
  createInvite: (options?: { expiresInMs?: number, fresh?: boolean }) => Promise<InviteView>
  /** Accepts an invite link; throws a typed error with a one-sentence message if it is bad. */
  acceptInvite: (link: string, options?: { name?: string }) => Promise<ContactView>
  contacts: () => Promise<ContactView[]>
  rename: (contactId: string, name: string) => Promise<ContactView>
  /** `replyTo`: the id of a message of this conversation to quote (issue 13). */
  send: (contactId: string, text: string, options?: { replyTo?: string }) => Promise<MessageView>
  messages: (contactId: string, options?: PageOptions) => Promise<MessageView[]>
  /** Marks incoming messages up to now read and sends read receipts. */
  markRead: (contactId: string) => Promise<void>
  safetyNumber: (contactId: string) => Promise<SafetyNumberView>
  setVerified: (contactId: string, verified: boolean) => Promise<void>
  /** The new safety number of a contact whose identity key changed (MessengerError NO_KEY_CHANGE when none is pending). */
  pendingSafetyNumber: (contactId: string) => Promise<PendingSafetyNumberView>
  /** The user accepts the new key: pinned, not verified; the held messages open. Only ever on the user's request.
   * `expected`: the digits of the pending safety number the user compared; when a newer key replaced it,
   * E2eeError KEY_CHANGE_MOVED and nothing changes. */
  acceptKeyChange: (contactId: string, expected: string) => Promise<ContactView>
  /** The user blocks the new key (named by `expected`, as for accept): held messages dropped, later ones under it too, without warnings. */
  blockKeyChange: (contactId: string, expected: string) => Promise<ContactView>
  updateSettings: (patch: Partial<SettingsView>) => Promise<SettingsView>
  subscribe: (listener: (event: MessengerEvent) => void) => () => void
  stop: () => Promise<void>
  // ---- issue 13 (src/messenger/chat/) ----
  /** Edits one of my messages within EDIT_WINDOW_MS of sending it; the contact's device shows "edited". */
  editMessage: (contactId: string, messageId: string, text: string) => Promise<MessageView>
  /** For me: gone from this device (returns undefined). For everyone: only my own messages; the contact's device shows "deleted". */
  deleteMessage: (contactId: string, messageId: string, options?: { forEveryone?: boolean }) => Promise<MessageView | undefined>
  /** Full-text search over every conversation (blocked contacts and deleted messages left out), newest first. */
  search: (query: string) => Promise<SearchHitView[]>
  setBlocked: (contactId: string, blocked: boolean) => Promise<ContactView>
  /** Deletes the contact, its conversation and keys; its mailboxes are no longer fetched. */
  deleteContact: (contactId: string) => Promise<void>
  pendingInvites: () => Promise<PendingInviteView[]>
  /** Revokes a pending invite: its one-time keys deleted, its mailbox no longer fetched; an answer is refused. */
  revokeInvite: (id: string) => Promise<void>
  /** A short link (at most 120 characters) for the pending invite, its sealed copy parked on one of my relays. */
  shortInvite: () => Promise<{ readonly short: string, readonly link: string, readonly expiresAt: number }>
  /** Issue 12: files in one-to-one chats (absent on a messenger built without a data directory for them). */
  readonly files?: FilesPort | undefined
  /** Issue 11: groups (absent on a messenger without group support, e.g. test doubles). */
  readonly groups?: Groups
}

/** What the daemon serves before and after the account exists: onboarding happens in the UI. */
export type HostState = 'no-account' | 'locked' | 'ready'

export interface DeviceHost {
  state: () => HostState
  /** Creates the one account of this data directory and starts the messenger. Refuses a second. */
  createAccount: (options: { name: string, passphrase?: string }) => Promise<Messenger>
  /** Opens a passphrase-protected data directory; a wrong passphrase is a typed error. */
  unlock: (passphrase: string) => Promise<Messenger>
  messenger: () => Messenger | undefined
  stop: () => Promise<void>
}
