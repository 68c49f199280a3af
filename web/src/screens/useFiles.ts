// Issue 12: the files of the open conversation by message id, refreshed when messages change and every second
// while one is moving (progress and speed).
import { useEffect, useState } from 'react'
import type { Api, FileView, MessageView } from '../api.ts'

const MOVING_POLL_MS = 1000

export function useFiles (api: Api, contactId: string, messages: MessageView[]): Map<string, FileView> {
  return useFileList(api.files, contactId, messages, byChatFileKey)
}

/** A chat file's key in useFiles: its direction and message id. The contact chooses the ids of its messages, so one
 * of them may reuse the id of mine: by id alone its file would show under my message (or mine under its). */
export function chatFileKey (direction: 'in' | 'out', messageId: string): string {
  return `${direction}/${messageId}`
}

// Keys made once (not per render): they are dependencies of the loading effect.
export const byChatFileKey = (f: FileView): string => chatFileKey(f.direction, f.messageId)
const byGroupFileKey = (f: FileView): string => groupFileKey(f.messageId, f.senderAccountId)

/** A group file's key in useGroupFiles: its message id and sender (senders choose ids, so two members' messages, and
 * files, may share one); '' for mine. */
export function groupFileKey (messageId: string, senderAccountId: string | undefined): string {
  return `${messageId}/${senderAccountId ?? ''}`
}

/** Issue 12 in groups: the files of the open group conversation (`messages`: anything that changes with them), by
 * groupFileKey. */
export function useGroupFiles (api: Api, groupId: string, messages: readonly unknown[]): Map<string, FileView> {
  return useFileList(api.groupFiles, groupId, messages, byGroupFileKey)
}

function useFileList (list: (id: string) => Promise<FileView[]>, contactId: string, messages: readonly unknown[], key: (f: FileView) => string): Map<string, FileView> {
  const [files, setFiles] = useState(new Map<string, FileView>())
  useEffect(() => {
    let stop = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const load = async (): Promise<void> => {
      try {
        const got = await list(contactId)
        if (stop) return
        setFiles(new Map(got.map((f) => [key(f), f])))
        if (got.some((f) => f.state !== 'delivered' && f.state !== 'failed')) timer = setTimeout(() => { void load() }, MOVING_POLL_MS)
      } catch { /* the node is down: the page says so elsewhere; the next change reloads */ }
    }
    void load()
    return () => { stop = true; if (timer !== undefined) clearTimeout(timer) }
  }, [list, contactId, messages, key])
  return files
}
