// Issue 13 calls of the local API (src/api/chat-routes.ts): replies, edits, deletions, search, blocking,
// deleting contacts, pending invites. On the Api's generic call, so api.ts stays as it is.
import type { Api, ContactView, InviteView, MessageView } from '../api.ts'

export interface SearchHit { contactId: string, messageId: string, direction: 'in' | 'out', at: number, snippet: string }
export interface PendingInvite { id: string, createdAt: number, expiresAt: number, link?: string }

/** A message may be edited this long after it was sent (src/messenger/chat/rules.ts EDIT_WINDOW_MS). */
export const EDIT_WINDOW_MS = 15 * 60_000

const c = (id: string): string => `/api/contacts/${encodeURIComponent(id)}`

export const chatApi = {
  reply: async (api: Api, contactId: string, text: string, replyTo: string): Promise<MessageView> => await api.call('POST', `${c(contactId)}/messages`, { text, replyTo }),
  edit: async (api: Api, contactId: string, id: string, text: string): Promise<MessageView> => await api.call('PATCH', `${c(contactId)}/messages/${encodeURIComponent(id)}`, { text }),
  remove: async (api: Api, contactId: string, id: string, everyone: boolean): Promise<void> => {
    await api.call('DELETE', `${c(contactId)}/messages/${encodeURIComponent(id)}?for=${everyone ? 'everyone' : 'me'}`)
  },
  search: async (api: Api, q: string): Promise<SearchHit[]> => await api.call('GET', `/api/search?q=${encodeURIComponent(q)}`),
  block: async (api: Api, contactId: string, blocked: boolean): Promise<ContactView> => await api.call('PUT', `${c(contactId)}/blocked`, { blocked }),
  deleteContact: async (api: Api, contactId: string): Promise<void> => { await api.call('DELETE', c(contactId)) },
  invites: async (api: Api): Promise<PendingInvite[]> => await api.call('GET', '/api/invites'),
  revoke: async (api: Api, id: string): Promise<void> => { await api.call('DELETE', `/api/invites/${encodeURIComponent(id)}`) },
  freshInvite: async (api: Api): Promise<InviteView> => await api.call('POST', '/api/invites', { fresh: true })
}
