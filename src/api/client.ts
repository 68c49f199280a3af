// A small client of the local API for the CLI: talks to the running node of a data directory over
// its Unix socket (socket.ts), never over a TCP port a stale api.json names, and turns error replies
// into ApiError with the node's own sentence.
import { request as httpRequest } from 'node:http'
import type {
  ContactView, HostState, InviteView, MessageView, SafetyNumberView, SettingsView, StatusView
} from '../messenger/types.ts'
import { ApiError, type ApiErrorCode } from './errors.ts'
import type { RelayKeeperView } from '../messenger/relay-keeper.ts'
import { checkSocket } from './socket.ts'
import { cursorQuery, type BeforeCursor } from './page-cursor.ts'
import { readToken } from './token.ts'

/** A local call that takes longer than this is a hung node, not a slow one. */
export const CLIENT_TIMEOUT_MS = 30_000
/** Largest reply read: a page of messages (at most 64 KiB each as JSON) fits many times over. */
export const MAX_REPLY_BYTES = 64 * 1024 * 1024

export class ApiClient {
  /** The node's API socket. */
  readonly socketPath: string
  readonly #token: string
  readonly #timeoutMs: number

  constructor (socketPath: string, token: string, o: { timeoutMs?: number } = {}) {
    this.socketPath = socketPath
    this.#token = token
    this.#timeoutMs = o.timeoutMs ?? CLIENT_TIMEOUT_MS
  }

  /** The client of the node running on `dataDir`; throws NOT_RUNNING with what to do, or SOCKET_UNSAFE. */
  static forDataDir (dataDir: string, o: { timeoutMs?: number } = {}): ApiClient {
    // The socket is checked before the token is even read: the token goes nowhere unverified.
    const socketPath = checkSocket(dataDir)
    const token = readToken(dataDir)
    if (token === undefined) {
      throw new ApiError('NOT_RUNNING', 0, `No node is running for ${dataDir}; start it with \`0message1 start --data ${dataDir}\`.`)
    }
    return new ApiClient(socketPath, token, o)
  }

  async #exchange (method: string, path: string, body: string | undefined): Promise<{ status: number, text: string }> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.#token}`, Host: 'localhost' }
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    return await new Promise((resolve, reject) => {
      const req = httpRequest({ socketPath: this.socketPath, path, method, headers, timeout: this.#timeoutMs }, (res) => {
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (c: Buffer) => {
          size += c.length
          if (size > MAX_REPLY_BYTES) { req.destroy(new ApiError('INTERNAL', 0, `The node sent a reply larger than ${MAX_REPLY_BYTES} bytes.`)); return }
          chunks.push(c)
        })
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }) })
        res.on('error', reject)
      })
      req.on('timeout', () => {
        req.destroy(new ApiError('INTERNAL', 0, `The node did not answer within ${this.#timeoutMs / 1000} s.`))
      })
      req.on('error', (err) => {
        reject(ApiError.is(err) ? err : new ApiError('NOT_RUNNING', 0, 'No node answers on this data directory\'s API socket; start it with `0message1 start`.', { cause: err }))
      })
      req.end(body)
    })
  }

  async request<T> (method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.#exchange(method, path, body === undefined ? undefined : JSON.stringify(body))
    let parsed: unknown
    if (res.text.length > 0) {
      try {
        parsed = JSON.parse(res.text)
      } catch {
        throw new ApiError('INTERNAL', res.status, `The node sent a reply that is not JSON (HTTP ${res.status}).`)
      }
    }
    if (res.status < 200 || res.status > 299) {
      const e = (parsed as { error?: { code?: unknown, message?: unknown } } | undefined)?.error
      const message = typeof e?.message === 'string' ? e.message : `The node refused the request (HTTP ${res.status}).`
      const code = typeof e?.code === 'string' ? e.code : 'FAILED'
      throw new ApiError(code as ApiErrorCode, res.status, message)
    }
    return parsed as T
  }

  state = async (): Promise<HostState> => (await this.request<{ state: HostState }>('GET', '/api/state')).state
  createAccount = async (name: string, passphrase?: string): Promise<StatusView> =>
    (await this.request<{ status: StatusView }>('POST', '/api/account', passphrase === undefined ? { name } : { name, passphrase })).status

  status = async (): Promise<StatusView> => await this.request('GET', '/api/status')
  createInvite = async (): Promise<InviteView> => await this.request('POST', '/api/invites', {})
  contacts = async (): Promise<ContactView[]> => await this.request('GET', '/api/contacts')
  addContact = async (link: string, name?: string): Promise<ContactView> =>
    await this.request('POST', '/api/contacts', name === undefined ? { link } : { link, name })

  send = async (contactId: string, text: string): Promise<MessageView> =>
    await this.request('POST', `/api/contacts/${encodeURIComponent(contactId)}/messages`, { text })

  /** A page of a conversation: the newest, or the one before `before` (page-cursor.ts). */
  messages = async (contactId: string, o: { limit?: number, before?: BeforeCursor } = {}): Promise<MessageView[]> => {
    const query = [...(o.limit === undefined ? [] : [`limit=${o.limit}`]), ...(o.before === undefined ? [] : [cursorQuery(o.before)])]
    return await this.request('GET', `/api/contacts/${encodeURIComponent(contactId)}/messages${query.length === 0 ? '' : `?${query.join('&')}`}`)
  }

  markRead = async (contactId: string): Promise<void> => { await this.request('POST', `/api/contacts/${encodeURIComponent(contactId)}/read`) }
  safetyNumber = async (contactId: string): Promise<SafetyNumberView> =>
    await this.request('GET', `/api/contacts/${encodeURIComponent(contactId)}/safety-number`)

  setVerified = async (contactId: string, verified: boolean): Promise<SafetyNumberView> =>
    await this.request('PUT', `/api/contacts/${encodeURIComponent(contactId)}/verified`, { verified })

  settings = async (): Promise<SettingsView> => await this.request('GET', '/api/settings')

  updateSettings = async (patch: Partial<SettingsView>): Promise<SettingsView> => await this.request('PATCH', '/api/settings', patch)
  /** Issue 16: the relays the device keeps by itself (404 when its relay keeper is off). */
  relayChoice = async (): Promise<RelayKeeperView> => await this.request('GET', '/api/relays/choice')
}
