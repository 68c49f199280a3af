// The UI's side of the local API: the token (from the URL fragment, then sessionStorage), JSON calls
// and the live event socket. Types mirror src/messenger/types.ts (the API's JSON shapes).
import { cursorQuery, type BeforeCursor } from '../../src/api/page-cursor.ts'
import { DEFAULT_PAGE } from '../../src/messenger/page-limits.ts'

export type MessageState = 'queued' | 'sent' | 'stored' | 'delivered' | 'read' | 'failed'
export type DeliveryPath = 'direct' | 'relayed' | 'mailbox'
/** The connection to a contact now; hole-punched is direct (through a NAT, set up via a relay). */
export type LinkKind = 'direct' | 'hole-punched' | 'relayed'
export type HostState = 'no-account' | 'locked' | 'ready'
/** Messages of a conversation per fetch: the newest page when it opens, then each older page asked for (the node's
 * page size when none is named). */
export const MESSAGE_PAGE = DEFAULT_PAGE

export interface MessageView {
  id: string
  contactId: string
  direction: 'out' | 'in'
  text: string
  seq: number
  at: number
  /** Incoming: when its sender wrote it (the sender's clock); the display order interleaves by it. */
  sentAt?: number
  state: MessageState
  failure?: string
  path?: DeliveryPath
  gapBefore?: number
  /** Issue 13: a reply's quoted message, an edit, a deletion for everyone. */
  replyTo?: { id: string, quote: string }
  editedAt?: number
  deleted?: boolean
}
export interface ContactView {
  id: string
  name: string
  accountId: string
  verified: boolean
  unread: number
  /** Of two views of a contact, the one with the higher rev is the newer (web/src/contact-list.ts). */
  rev: number
  lastMessage?: { text: string, at: number, direction: 'out' | 'in' }
  link?: LinkKind
  /** The contact's identity key changed (newest change); pending: their messages are held until you decide. */
  keyChange?: KeyChangeView
  /** Blocked by me (issue 13): nothing from them is kept or shown. */
  blocked?: boolean
}
export interface KeyChangeView { at: number, state: 'pending' | 'accepted' | 'blocked', held: number, decidedAt?: number }
/** The safety number with the contact's new, pending key. */
export interface PendingSafetyNumberView { contactId: string, digits: string, scannable: string, at: number, held: number }
export interface RelayView { address: string, state: 'connected' | 'connecting' | 'unreachable', reservation: boolean }
export interface SettingsView { relayOnly: boolean, lanDiscovery: boolean, relays: string[], fetchIsolation: 'device' | 'contact' }
export interface StatusView {
  accountId: string
  name: string
  peerId: string
  addresses: string[]
  relays: RelayView[]
  nat: 'public' | 'private' | 'unknown'
  outbox: number
  connections: number
  links: { direct: number, holePunched: number, relayed: number }
  settings: SettingsView
}
/** `qr`: the same invite as `0M1:` + base32, for QR's alphanumeric mode. */
export interface InviteView { link: string, qr: string, expiresAt: number }
export interface SafetyNumberView { contactId: string, digits: string, scannable: string, verified: boolean }

/** Issue 12: a file in a conversation and its transfer (src/messenger/files/types.ts FileView). */
export interface FileView {
  /** contactId: the file's owner (a group's: `group:<group id>/<sender account id>`), which names the file with the
   * message id (senders choose ids: two files may share one). */
  messageId: string, contactId: string, groupId?: string, senderAccountId?: string, direction: 'in' | 'out', name: string, type: string, size: number
  state: 'queued' | 'uploading' | 'on-relay' | 'downloading' | 'delivered' | 'failed', path?: 'direct' | 'relay'
  chunks: number, doneChunks: number, bytes: number, percent: number, speed: number, failure?: string, relayCopies: number, at: number
}

export type ApiEvent =
  | { type: 'message', message: MessageView }
  | { type: 'message-state', message: MessageView }
  | { type: 'contact', contact: ContactView }
  | { type: 'status', status: StatusView }
  | { type: 'warning', contactId?: string, text: string }
  | { type: 'host-state', state: HostState }
  | { type: 'message-removed', contactId: string, id: string, direction: 'in' | 'out' }
  | { type: 'contact-removed', contactId: string, rev: number }
  | { type: 'file', file: FileView }

const TOKEN_KEY = '0m1-token'

/** What the address gave: `token` (fresh from the address, else this tab's earlier one) and whether a
 * token was given that cannot be one (mistyped or cut short when copied). */
export interface TokenFromAddress { token: string | undefined, malformed: boolean }

/** Takes the token out of the address bar (so it is not bookmarked or shared) into this tab's storage.
 * Any `token=` is removed from the address, a malformed one too. */
export function takeToken (): TokenFromAddress {
  const hash = window.location.hash
  if (!/(?:^#|&)token=/.test(hash)) return { token: sessionStorage.getItem(TOKEN_KEY) ?? undefined, malformed: false }
  history.replaceState(null, '', window.location.pathname + window.location.search)
  const m = /(?:^#|&)token=([A-Za-z0-9_-]{43})(?:&|$)/.exec(hash)
  if (m?.[1] === undefined) { sessionStorage.removeItem(TOKEN_KEY); return { token: undefined, malformed: true } }
  sessionStorage.setItem(TOKEN_KEY, m[1])
  return { token: m[1], malformed: false }
}

/** Forgets this tab's token: the node refused it (a new start of the node made a new one). */
export function forgetToken (): void { sessionStorage.removeItem(TOKEN_KEY) }

/** ApiFailure code when the node does not answer at all (not running, or restarting). */
export const NODE_DOWN = 'NODE_DOWN'
/** ApiFailure code when a page's cursor names a message no longer in the conversation (the node's MessengerError code). */
export const UNKNOWN_MESSAGE = 'UNKNOWN_MESSAGE'
/** ApiFailure code when the node's answer did not come within CALL_TIMEOUT_MS. */
export const CALL_TIMEOUT = 'CALL_TIMEOUT'
/**
 * How long a JSON call may wait for the node's whole answer. Without a bound, a call that never ends keeps what
 * waits on it (a conversation's reload, and the events kept to replay over its answer: web/src/message-list.ts)
 * for as long as the page is open. Far above any answer's time, an unlock's Argon2id included.
 */
export const CALL_TIMEOUT_MS = 60_000

export class ApiFailure extends Error {
  readonly status: number
  readonly code: string
  constructor (status: number, code: string, message: string) {
    super(message)
    this.status = status
    this.code = code
  }
}

export class Api {
  readonly #token: string
  readonly #timeoutMs: number
  constructor (token: string, o: { timeoutMs?: number } = {}) {
    this.#token = token
    this.#timeoutMs = o.timeoutMs ?? CALL_TIMEOUT_MS
  }

  async call<T> (method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.#token}` }
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    // Bounds the answer's body as well as its headers.
    const signal = AbortSignal.timeout(this.#timeoutMs)
    const late = (): ApiFailure => new ApiFailure(0, CALL_TIMEOUT, 'Your node did not answer in time; what you asked may still have been done.')
    let res: Response
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? null : JSON.stringify(body), cache: 'no-store', signal })
    } catch {
      if (signal.aborted) throw late()
      // fetch rejects only when no HTTP answer came at all: the node is not running (or restarting).
      throw new ApiFailure(0, NODE_DOWN, 'Your 0message1 node is not answering.')
    }
    let parsed: unknown
    try {
      const text = await res.text()
      parsed = text === '' ? undefined : JSON.parse(text)
    } catch {
      if (signal.aborted) throw late()
      throw new ApiFailure(res.status, 'BAD_REPLY', 'Your node sent an answer this page cannot read; reload the page.')
    }
    if (!res.ok) {
      const e = (parsed as { error?: { code?: string, message?: string } } | undefined)?.error
      throw new ApiFailure(res.status, e?.code ?? 'FAILED', e?.message ?? `The node refused (HTTP ${res.status}).`)
    }
    return parsed as T
  }

  /** Issue 12: bytes in or out (a file upload, a file's content), with the token; JSON errors as call() reads them. */
  async bytes (method: string, path: string, body?: Blob): Promise<Blob> {
    let res: Response
    try {
      res = await fetch(path, { method, headers: { Authorization: `Bearer ${this.#token}`, ...(body !== undefined ? { 'Content-Type': 'application/octet-stream' } : {}) }, body: body ?? null, cache: 'no-store' })
    } catch {
      throw new ApiFailure(0, NODE_DOWN, 'Your 0message1 node is not answering.')
    }
    if (!res.ok) {
      const e = await res.json().catch(() => undefined) as { error?: { code?: string, message?: string } } | undefined
      throw new ApiFailure(res.status, e?.error?.code ?? 'FAILED', e?.error?.message ?? `The node refused (HTTP ${res.status}).`)
    }
    return await res.blob()
  }

  files = async (id: string): Promise<FileView[]> => await this.call('GET', `/api/contacts/${encodeURIComponent(id)}/files`)
  uploadFile = async (id: string, file: File): Promise<void> => {
    await this.bytes('POST', `/api/contacts/${encodeURIComponent(id)}/files/upload?name=${encodeURIComponent(file.name)}`, file)
  }
  /** Issue 12 in groups: a group's files, and a file sent to a group. */
  groupFiles = async (groupId: string): Promise<FileView[]> => await this.call('GET', `/api/groups/${encodeURIComponent(groupId)}/files`)
  uploadGroupFile = async (groupId: string, file: File): Promise<void> => {
    await this.bytes('POST', `/api/groups/${encodeURIComponent(groupId)}/files/upload?name=${encodeURIComponent(file.name)}`, file)
  }
  fileContent = async (messageId: string, owner: string): Promise<Blob> => await this.bytes('GET', `/api/files/${encodeURIComponent(messageId)}/content?owner=${encodeURIComponent(owner)}`)

  state = async (): Promise<HostState> => (await this.call<{ state: HostState }>('GET', '/api/state')).state
  createAccount = async (name: string, passphrase?: string): Promise<void> => {
    await this.call('POST', '/api/account', passphrase === undefined || passphrase === '' ? { name } : { name, passphrase })
  }

  unlock = async (passphrase: string): Promise<void> => { await this.call('POST', '/api/unlock', { passphrase }) }
  status = async (): Promise<StatusView> => await this.call('GET', '/api/status')
  invite = async (): Promise<InviteView> => await this.call('POST', '/api/invites', {})
  contacts = async (): Promise<ContactView[]> => await this.call('GET', '/api/contacts')
  addContact = async (link: string, name?: string): Promise<ContactView> =>
    await this.call('POST', '/api/contacts', name === undefined || name === '' ? { link } : { link, name })

  rename = async (id: string, name: string): Promise<ContactView> => await this.call('PATCH', `/api/contacts/${encodeURIComponent(id)}`, { name })
  /** The newest page of a conversation, or the page before `before` (src/api/page-cursor.ts). */
  messages = async (id: string, o: { limit?: number, before?: BeforeCursor } = {}): Promise<MessageView[]> =>
    await this.call('GET', `/api/contacts/${encodeURIComponent(id)}/messages?limit=${o.limit ?? MESSAGE_PAGE}${o.before === undefined ? '' : `&${cursorQuery(o.before)}`}`)
  send = async (id: string, text: string): Promise<MessageView> => await this.call('POST', `/api/contacts/${encodeURIComponent(id)}/messages`, { text })
  markRead = async (id: string): Promise<void> => { await this.call('POST', `/api/contacts/${encodeURIComponent(id)}/read`) }
  safetyNumber = async (id: string): Promise<SafetyNumberView> => await this.call('GET', `/api/contacts/${encodeURIComponent(id)}/safety-number`)
  setVerified = async (id: string, verified: boolean): Promise<SafetyNumberView> =>
    await this.call('PUT', `/api/contacts/${encodeURIComponent(id)}/verified`, { verified })

  pendingSafetyNumber = async (id: string): Promise<PendingSafetyNumberView> => await this.call('GET', `/api/contacts/${encodeURIComponent(id)}/key-change`)
  /** `digits`: the pending safety number the user compared; ApiFailure KEY_CHANGE_MOVED (409) when a newer key replaced it. */
  acceptKeyChange = async (id: string, digits: string): Promise<ContactView> => await this.call('POST', `/api/contacts/${encodeURIComponent(id)}/key-change/accept`, { digits })
  blockKeyChange = async (id: string, digits: string): Promise<ContactView> => await this.call('POST', `/api/contacts/${encodeURIComponent(id)}/key-change/block`, { digits })

  updateSettings = async (patch: Partial<SettingsView>): Promise<SettingsView> => await this.call('PATCH', '/api/settings', patch)
  addRelay = async (address: string): Promise<SettingsView> => await this.call('POST', '/api/settings/relays', { address })
  removeRelay = async (address: string): Promise<SettingsView> => await this.call('DELETE', `/api/settings/relays?address=${encodeURIComponent(address)}`)

  /** Live events; reconnects with backoff until the returned function is called. */
  events (onEvent: (e: ApiEvent) => void, onConnected: (up: boolean) => void): () => void {
    let ws: WebSocket | undefined
    let stopped = false
    let delay = 500
    let timer: ReturnType<typeof setTimeout> | undefined
    const connect = (): void => {
      const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:'
      // The token rides as a subprotocol, not in the URL, so it never lands in a log line.
      ws = new WebSocket(`${proto}//${window.location.host}/api/events`, ['0m1-events', `0m1-token.${this.#token}`])
      ws.onopen = () => { delay = 500; onConnected(true) }
      ws.onmessage = (msg) => {
        if (typeof msg.data !== 'string') return
        try { onEvent(JSON.parse(msg.data) as ApiEvent) } catch { /* a frame we do not understand */ }
      }
      ws.onclose = () => {
        onConnected(false)
        if (stopped) return
        timer = setTimeout(connect, delay)
        delay = Math.min(delay * 2, 10_000)
      }
    }
    connect()
    return () => {
      stopped = true
      if (timer !== undefined) clearTimeout(timer)
      ws?.close()
    }
  }
}
