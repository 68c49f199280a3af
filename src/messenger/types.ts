// The messenger core as the local API, CLI and web UI see it. The API layer depends only on this
// file; src/messenger/messenger.ts implements it on e2ee, store and net.
import type { GroupEvent, Groups } from './groups/types.ts'
import type { FetchIsolation, RelayView } from '../net/node.ts'
import type { LinkKind } from '../net/path.ts'

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
  readonly state: MessageState
  /** For 'failed': why, as one sentence. */
  readonly failure?: string
  /** The path that carried it (out: the one that got it acknowledged; in: the one it arrived by). */
  readonly path?: DeliveryPath
  /** Incoming: sequence numbers missing before this one (a visible gap). */
  readonly gapBefore?: number
}

export interface ContactView {
  /** Local id of the contact (opaque, stable). */
  readonly id: string
  readonly name: string
  /** The contact's account id (checksummed, human-copyable). */
  readonly accountId: string
  readonly verified: boolean
  readonly unread: number
  readonly lastMessage?: { readonly text: string, readonly at: number, readonly direction: 'out' | 'in' }
  /** Present once the contact's identity key changed (a reinstall, or someone else): the newest change.
   * While pending, the contact's messages under the new key are held; nothing changes until the user
   * compares the new safety number and accepts or blocks it (src/messenger/key-change.ts). */
  readonly keyChange?: KeyChangeView
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
  // Issue 11: groups.
  | GroupEvent

export interface Messenger {
  status: () => Promise<StatusView>
  createInvite: (options?: { expiresInMs?: number }) => Promise<InviteView>
  /** Accepts an invite link; throws a typed error with a one-sentence message if it is bad. */
  acceptInvite: (link: string, options?: { name?: string }) => Promise<ContactView>
  contacts: () => Promise<ContactView[]>
  rename: (contactId: string, name: string) => Promise<ContactView>
  send: (contactId: string, text: string) => Promise<MessageView>
  messages: (contactId: string, options?: { limit?: number, before?: number }) => Promise<MessageView[]>
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
