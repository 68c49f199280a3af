// Issue 12: the files of the open conversation by message id, refreshed when messages change and every second
// while one is moving (progress and speed).
import { useEffect, useState } from 'react'
import type { Api, FileView, MessageView } from '../api.ts'

const MOVING_POLL_MS = 1000

export function useFiles (api: Api, contactId: string, messages: MessageView[]): Map<string, FileView> {
  const [files, setFiles] = useState(new Map<string, FileView>())
  useEffect(() => {
    let stop = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const load = async (): Promise<void> => {
      try {
        const list = await api.files(contactId)
        if (stop) return
        setFiles(new Map(list.map((f) => [f.messageId, f])))
        if (list.some((f) => f.state !== 'delivered' && f.state !== 'failed')) timer = setTimeout(() => { void load() }, MOVING_POLL_MS)
      } catch { /* the node is down: the page says so elsewhere; the next change reloads */ }
    }
    void load()
    return () => { stop = true; if (timer !== undefined) clearTimeout(timer) }
  }, [api, contactId, messages])
  return files
}
