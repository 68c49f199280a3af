// A small client of the local API for the CLI: finds the running node of a data directory through
// api.json and api.token, and turns error replies into ApiError with the node's own sentence.
import type {
  ContactView, HostState, InviteView, MessageView, SafetyNumberView, SettingsView, StatusView
} from '../messenger/types.ts'
import { ApiError, type ApiErrorCode } from './errors.ts'
import { readApiInfo } from './discovery.ts'
import { readToken } from './token.ts'

/** A local call that takes longer than this is a hung node, not a slow one. */
export const CLIENT_TIMEOUT_MS = 30_000

export class ApiClient {
  readonly url: string
  readonly #token: string

  constructor (url: string, token: string) {
    this.url = url
    this.#token = token
  }

  /** The client of the node running on `dataDir`; throws NOT_RUNNING with what to do. */
  static forDataDir (dataDir: string): ApiClient {
    const info = readApiInfo(dataDir)
    const token = readToken(dataDir)
    if (info === undefined || token === undefined) {
      throw new ApiError('NOT_RUNNING', 0, `No node is running for ${dataDir}; start it with \`0message1 start --data ${dataDir}\`.`)
    }
    return new ApiClient(info.url, token)
  }

  async request<T> (method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.#token}` }
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    let res: Response
    try {
      res = await fetch(this.url + path, {
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
        signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS)
      })
    } catch (err) {
      if ((err as Error).name === 'TimeoutError') {
        throw new ApiError('INTERNAL', 0, `The node at ${this.url} did not answer within ${CLIENT_TIMEOUT_MS / 1000} s.`, { cause: err })
      }
      throw new ApiError('NOT_RUNNING', 0, `No node answers at ${this.url}; start it with \`0message1 start\`.`, { cause: err })
    }
    const text = await res.text()
    let parsed: unknown
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text)
      } catch {
        throw new ApiError('INTERNAL', res.status, `The node at ${this.url} sent a reply that is not JSON (HTTP ${res.status}).`)
      }
    }
    if (!res.ok) {
      const e = (parsed as { error?: { code?: unknown, message?: unknown } } | undefined)?.error
      const message = typeof e?.message === 'string' ? e.message : `The node refused the request (HTTP ${res.status}).`
      const code = typeof e?.code === 'string' ? e.code : 'FAILED'
      const err = new ApiError(code as ApiErrorCode, res.status, message)
      throw err
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

  messages = async (contactId: string, limit?: number): Promise<MessageView[]> =>
    await this.request('GET', `/api/contacts/${encodeURIComponent(contactId)}/messages${limit === undefined ? '' : `?limit=${limit}`}`)

  markRead = async (contactId: string): Promise<void> => { await this.request('POST', `/api/contacts/${encodeURIComponent(contactId)}/read`) }
  safetyNumber = async (contactId: string): Promise<SafetyNumberView> =>
    await this.request('GET', `/api/contacts/${encodeURIComponent(contactId)}/safety-number`)

  setVerified = async (contactId: string, verified: boolean): Promise<SafetyNumberView> =>
    await this.request('PUT', `/api/contacts/${encodeURIComponent(contactId)}/verified`, { verified })

  settings = async (): Promise<SettingsView> => await this.request('GET', '/api/settings')

  updateSettings = async (patch: Partial<SettingsView>): Promise<SettingsView> => await this.request('PATCH', '/api/settings', patch)
}
