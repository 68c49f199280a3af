// Issue 12: the files of the open conversation by message id, refreshed when messages change and every second
// while one is moving (progress and speed).
import { useEffect, useState } from 'react'
import type { Api, FileView, MessageView } from '../api.ts'

const MOVING_POLL_MS = 1000

export function useFiles (api: Api, contactId: string, messages: MessageView[]): Map<string, FileView> {
  return useFileList(api.files, contactId, messages)
}

/** Issue 12 in groups: the files of the open group conversation (`messages`: anything that changes with them). */
export function useGroupFiles (api: Api, groupId: string, messages: readonly unknown[]): Map<string, FileView> {
  return useFileList(api.groupFiles, groupId, messages)
}

function useFileList (list: (id: string) => Promise<FileView[]>, contactId: string, messages: readonly unknown[]): Map<string, FileView> {
  const [files, setFiles] = useState(new Map<string, FileView>())
  useEffect(() => {
    let stop = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const load = async (): Promise<void> => {
      try {
        const got = await list(contactId)
        if (stop) return
        setFiles(new Map(got.map((f) => [f.messageId, f])))
        if (got.some((f) => f.state !== 'delivered' && f.state !== 'failed')) timer = setTimeout(() => { void load() }, MOVING_POLL_MS)
      } catch { /* the node is down: the page says so elsewhere; the next change reloads */ }
    }
    void load()
    return () => { stop = true; if (timer !== undefined) clearTimeout(timer) }
  }, [list, contactId, messages])
  return files
}
