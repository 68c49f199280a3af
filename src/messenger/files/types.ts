// What the UI, API and CLI see of a file transfer (issue 12).
import type { Readable } from 'node:stream'
import type { GroupMessageView } from '../groups/types.ts'
import type { MessageView } from '../types.ts'

/** queued: waiting for a path; uploading: chunks going to the contact (direct) or to relays; on-relay: parked on the
 * contact's relays for it to fetch; downloading: chunks coming in; delivered: complete (incoming: hash verified);
 * failed: gave up, with a reason. */
export type FileState = 'queued' | 'uploading' | 'on-relay' | 'downloading' | 'delivered' | 'failed'
/** The path the chunks took (or are taking): straight to the contact, or parked on relays. */
export type FilePath = 'direct' | 'relay'

export interface FileView {
  readonly messageId: string
  /** The file's owner: the contact, or `group:<group id>/<sender account id>` for a group's file (the sender '' for
   * mine; then groupId is set too, and senderAccountId for a member's). Message ids are chosen by their senders, so
   * two files may share one: get, save, read and stream take the owner to say which (src/messenger/files/group-files.ts). */
  readonly contactId: string
  readonly groupId?: string
  /** A group file from another member: the member that announced it (GroupMessageView.senderAccountId). */
  readonly senderAccountId?: string
  readonly direction: 'in' | 'out'
  readonly name: string
  readonly type: string
  readonly size: number
  readonly state: FileState
  readonly path?: FilePath
  readonly chunks: number
  /** Chunks confirmed: durable at the other end (out) or verified and written here (in). */
  readonly doneChunks: number
  /** Plaintext bytes those chunks hold (at most size). */
  readonly bytes: number
  /** 0..100. */
  readonly percent: number
  /** Bytes per second over the current run of the transfer (0 when idle). */
  readonly speed: number
  /** For 'failed' (or a wait, while queued): why, as one sentence. */
  readonly failure?: string
  /** Relays holding a full copy (outgoing). */
  readonly relayCopies: number
  readonly at: number
}

export interface FilesPort {
  /** Encrypts the file, announces it in the conversation and starts the transfer; refuses a file over the limit
   * before anything is sent. */
  send: (contactId: string, path: string, text?: string) => Promise<{ message: MessageView, file: FileView }>
  /** The same for bytes in memory (the web UI's upload), under `name`. */
  sendBytes: (contactId: string, name: string, bytes: Uint8Array, text?: string) => Promise<{ message: MessageView, file: FileView }>
  list: (contactId: string) => FileView[]
  /** `owner` (a FileView's contactId) names the file when more than one uses the id (else AMBIGUOUS_FILE). */
  get: (messageId: string, owner?: string) => FileView | undefined
  /** Decrypts a complete file to `outPath` (verifying its hash again). */
  save: (messageId: string, outPath: string, owner?: string) => Promise<FileView>
  /** The decrypted bytes of a complete file, at most the file limit. */
  read: (messageId: string, owner?: string) => Promise<{ file: FileView, bytes: Buffer }>
  /** The same as a stream of chunks (the UI's preview and save through the API): one chunk in memory at a time. */
  stream: (messageId: string, owner?: string) => Promise<{ file: FileView, body: Readable }>
  readonly maxBytes: number
  /** Issue 12 in groups: the same for a group (src/messenger/files/group-files.ts), and its files. */
  sendToGroup: (groupId: string, path: string, text?: string) => Promise<{ message: GroupMessageView, file: FileView }>
  sendBytesToGroup: (groupId: string, name: string, bytes: Uint8Array, text?: string) => Promise<{ message: GroupMessageView, file: FileView }>
  listGroup: (groupId: string) => FileView[]
}
