// What the messenger shows of groups (issue 11): the views the API, CLI and web UI read, and the events.
import type { FileDescriptor } from '../../wire/file.ts'
import type { DeliveryPath, MessageState } from '../types.ts'

export interface GroupMemberView {
  readonly accountId: string
  readonly name: string
  readonly admin: boolean
  readonly me: boolean
  /** My contact id for this member (a contact, or a member met through a group). */
  readonly contactId?: string
  /** True when this member is not one of my contacts: I know it only through a group. */
  readonly metThroughGroup: boolean
  /** The member's safety number was verified (only for contacts I verified). */
  readonly verified: boolean
}

export interface GroupView {
  readonly id: string
  readonly name: string
  /** False once I left or was removed (the history stays readable). */
  readonly member: boolean
  readonly admin: boolean
  /** Version of the membership log (highest effective change). */
  readonly version: number
  readonly members: readonly GroupMemberView[]
  readonly unread: number
  readonly lastMessage?: { readonly text: string, readonly at: number, readonly direction: 'in' | 'out' }
}

export interface MemberDeliveryView {
  readonly contactId: string
  readonly accountId: string
  readonly state: MessageState
  readonly path?: DeliveryPath
}

export interface GroupMessageView {
  readonly groupId: string
  readonly id: string
  readonly direction: 'in' | 'out'
  /** The sender: my contact id for it (incoming), absent for mine. */
  readonly senderContactId?: string
  readonly senderAccountId: string
  readonly senderName: string
  readonly seq: number
  readonly text: string
  readonly sentAt: number
  readonly at: number
  /** Outgoing: per-member states and their counts ("delivered to k of n", "read by k of n"). */
  readonly delivery?: { readonly total: number, readonly delivered: number, readonly read: number, readonly members: readonly MemberDeliveryView[] }
}

export type GroupEvent =
  | { readonly type: 'group', readonly group: GroupView }
  | { readonly type: 'group-message', readonly message: GroupMessageView }
  | { readonly type: 'group-message-state', readonly message: GroupMessageView }

/** The group operations of a messenger (Messenger.groups). */
export interface Groups {
  create: (name: string, memberContactIds: readonly string[]) => Promise<GroupView>
  list: () => Promise<GroupView[]>
  get: (groupId: string) => Promise<GroupView>
  /** A group by id or by name (exact, then case-insensitive); undefined when none or ambiguous. */
  find: (idOrName: string) => Promise<GroupView | undefined>
  rename: (groupId: string, name: string) => Promise<GroupView>
  add: (groupId: string, contactId: string) => Promise<GroupView>
  remove: (groupId: string, accountIdOrContactId: string) => Promise<GroupView>
  promote: (groupId: string, accountIdOrContactId: string) => Promise<GroupView>
  leave: (groupId: string) => Promise<GroupView>
  /** `file`: a file announcement (issue 12; FilesPort.sendToGroup seals the file and calls this). */
  send: (groupId: string, text: string, o?: { file?: FileDescriptor }) => Promise<GroupMessageView>
  messages: (groupId: string, o?: { limit?: number }) => Promise<GroupMessageView[]>
  markRead: (groupId: string) => Promise<void>
}
