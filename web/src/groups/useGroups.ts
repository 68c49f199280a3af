// The groups shown by the app (issue 11): the list for the chat list, the open group's messages, kept current by
// the node's events, which the app shell hands to onEvent from its one event socket. Everything is fetched again
// at each (re)connection (the 'host-state' event), since events sent while the socket was down are lost.
// `void f()` in effects: every such f catches its own errors and shows them (onError).
import { useCallback, useEffect, useRef, useState } from 'react'
import type { Api, ApiEvent } from '../api.ts'
import { FetchLog } from '../message-list.ts'
import { answeredGroup, eventGroup, eventGroupMessage } from './group-list.ts'
import { groupPath, type GroupEvent, type GroupMessage, type GroupView } from './types.ts'

export interface Groups {
  readonly list: GroupView[]
  /** The group open in the main area, if any. */
  readonly open: string | undefined
  readonly messages: GroupMessage[]
  setOpen: (id: string | undefined) => void
  /** A group as an action returned it (the node's event may come before or after it: see group-list.ts). */
  put: (g: GroupView) => void
  /** Every event of the app's event socket (one socket for the whole app). */
  onEvent: (e: ApiEvent) => void
}

const GROUP_EVENTS = new Set<string>(['group', 'group-message', 'group-message-state'])

export function useGroups (api: Api | undefined, onError: (err: unknown) => void): Groups {
  const [list, setList] = useState<GroupView[]>([])
  const [open, setOpen] = useState<string>()
  const [messages, setMessages] = useState<GroupMessage[]>([])
  const openRef = useRef<string | undefined>(undefined)
  openRef.current = open

  const load = useCallback(async () => {
    if (api === undefined) return
    try { setList(await api.call<GroupView[]>('GET', '/api/groups')) } catch (err) { onError(err) }
  }, [api, onError])
  // The GET /messages on the way, and the events read meanwhile: an answer never undoes a later event.
  const [fetches] = useState(() => new FetchLog<GroupMessage[], GroupMessage>(eventGroupMessage))
  const loadMessages = useCallback(async (id: string) => {
    if (api === undefined) return
    const f = fetches.start(id)
    try {
      let l: GroupMessage[]
      try { l = fetches.answered(f, await api.call<GroupMessage[]>('GET', groupPath(id, '/messages'))) } catch (err) { fetches.failed(f); throw err }
      if (openRef.current === id) setMessages(l)
      // Read only in a visible tab: a reload after a reconnection of a hidden tab must not send read receipts.
      if (document.visibilityState === 'visible') await api.call('POST', groupPath(id, '/read'))
    } catch (err) { onError(err) }
  }, [api, onError, fetches])

  useEffect(() => { setMessages([]); if (open !== undefined) void loadMessages(open) }, [open, loadMessages])
  useEffect(() => { void load() }, [load])
  // Back to a hidden tab with a group open: what came meanwhile is read now (as the app does for a chat).
  useEffect(() => {
    if (api === undefined) return
    const onVisible = (): void => {
      const id = openRef.current
      if (document.visibilityState === 'visible' && id !== undefined) void api.call('POST', groupPath(id, '/read')).catch(onError)
    }
    document.addEventListener('visibilitychange', onVisible)
    return () => { document.removeEventListener('visibilitychange', onVisible) }
  }, [api, onError])
  const onEvent = useCallback((raw: ApiEvent) => {
    if (api === undefined) return
    // Sent at every (re)connection of the socket: what changed while it was down is fetched again.
    if (raw.type === 'host-state') {
      if (raw.state !== 'ready') return
      void load()
      if (openRef.current !== undefined) void loadMessages(openRef.current)
      return
    }
    // Every event of the node comes here; only the group ones are read.
    if (!GROUP_EVENTS.has(raw.type)) return
    const e = raw as unknown as GroupEvent
    if (e.type === 'group') setList((l) => eventGroup(l, e.group))
    else {
      const m = e.message
      // The list's preview follows each new message, mine too (the node sends no group event for my sends).
      if (e.type === 'group-message') setList((l) => l.map((g) => g.id === m.groupId ? { ...g, lastMessage: { text: m.text, at: m.at, direction: m.direction } } : g))
      fetches.record(m.groupId, m)
      if (m.groupId !== openRef.current) return
      setMessages((l) => eventGroupMessage(l, m))
      // Read at once when it comes into the open group of a visible tab (a read receipt goes to its sender).
      if (e.type === 'group-message' && m.direction === 'in' && document.visibilityState === 'visible') void api.call('POST', groupPath(m.groupId, '/read')).catch(onError)
    }
  }, [api, load, loadMessages, onError, fetches])

  const put = useCallback((g: GroupView) => { setList((l) => answeredGroup(l, g)) }, [])
  return { list, open, messages, setOpen, put, onEvent }
}
