// The group views the web UI reads from the local API (src/messenger/groups/types.ts, /api/groups*).
import type { DeliveryPath, MessageState } from '../api.ts'

export interface GroupMember { accountId: string, name: string, admin: boolean, me: boolean, contactId?: string, metThroughGroup: boolean, verified: boolean }
export interface GroupView {
  id: string, name: string, member: boolean, admin: boolean, version: number, members: GroupMember[], unread: number
  lastMessage?: { text: string, at: number, direction: 'in' | 'out' }
}
export interface MemberDelivery { contactId: string, accountId: string, state: MessageState, path?: DeliveryPath }
export interface GroupMessage {
  groupId: string, id: string, direction: 'in' | 'out', senderName: string, senderAccountId: string, seq: number, text: string, sentAt: number, at: number
  /** Mine only: delivered to k of n, read by k of n, and each member's state and path. */
  delivery?: { total: number, delivered: number, read: number, members: MemberDelivery[] }
}
export type GroupEvent =
  | { type: 'group', group: GroupView }
  | { type: 'group-message' | 'group-message-state', message: GroupMessage }

export const groupPath = (id: string, rest = ''): string => `/api/groups/${id}${rest}`
