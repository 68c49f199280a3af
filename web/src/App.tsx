// The app shell: host state (onboarding, unlock, ready), contacts and conversations kept current by
// the event socket, and the panels (invite, add contact, safety number, settings, network).
// The node may stop and start again at any time: a failed call or a dropped event socket shows the
// node-down banner (never a raw "Failed to fetch"); when the socket is back, everything shown is
// fetched again, the open conversation too. A new start of the node makes a new token: then the
// token page says to open the new address, and the conversation that was open opens again.
// `void f()` in event handlers and effects: React cannot await them, and every such f catches its
// own errors and shows them (setError / fail / onError), so nothing is left to reject.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react'
import { Api, ApiFailure, MESSAGE_PAGE, NODE_DOWN, UNKNOWN_MESSAGE, forgetToken, type ApiEvent, type ContactView, type HostState, type MessageView, type StatusView, type TokenFromAddress } from './api.ts'
import { ContactList } from './ContactList.tsx'
import { answeredContact, eventContact, reloadedContacts, removedContact } from './contact-list.ts'
import { explain } from './errors.ts'
import { applyChange, MessageFetches, OlderPages, withOlder, type MessageChange } from './message-list.ts'
import { loadNotifyChoice, notifyMessage, saveNotifyChoice, tabTitle, type NotifyChoice } from './notifications.ts'
import { Conversation } from './screens/Conversation.tsx'
import { AddContact, InvitePanel } from './screens/Invite.tsx'
import { NetworkPanel } from './screens/Network.tsx'
import { NotificationSettings } from './screens/Notifications.tsx'
import { KeyChangePanel, SafetyNumberPanel } from './screens/Safety.tsx'
import { SettingsPanel } from './screens/Settings.tsx'
import { Onboarding, Unlock } from './screens/Start.tsx'
import { TokenPage } from './screens/TokenPage.tsx'
// Issue 13: search, contact actions, pending invites (web/src/chat/).
import { ContactActions } from './chat/ContactActions.tsx'
import { SearchPanel } from './chat/SearchPanel.tsx'

import { GroupsPanel } from './groups/GroupsPanel.tsx'
import { GroupList } from './groups/GroupList.tsx'
import { useGroups } from './groups/useGroups.ts'

type Panel = 'chat' | 'invite' | 'add' | 'safety' | 'key-change' | 'settings' | 'network' | 'search' | 'groups'

/** The conversation open in this tab, kept across a reload and a new token (sessionStorage). */
const OPEN_KEY = '0m1-open'

export function App ({ address }: { address: TokenFromAddress }): React.JSX.Element {
  const token = address.token
  const api = useMemo(() => token === undefined ? undefined : new Api(token), [token])
  const [hostState, setHostState] = useState<HostState | 'loading' | 'unauthorized'>('loading')
  const [status, setStatus] = useState<StatusView>()
  const [contacts, setContacts] = useState<ContactView[]>([])
  const [selected, setSelected] = useState<string | undefined>(() => sessionStorage.getItem(OPEN_KEY) ?? undefined)
  const [messages, setMessages] = useState<Record<string, MessageView[]>>({})
  // Conversations whose last page fetched was full: older messages may be there to load.
  const [hasOlder, setHasOlder] = useState<Record<string, boolean>>({})
  const [panel, setPanel] = useState<Panel>('chat')
  // Narrow screens show one column: the list, or what is open (a chat or a panel).
  const [showList, setShowList] = useState(() => sessionStorage.getItem(OPEN_KEY) === null)
  const [live, setLive] = useState(false)
  const [nodeDown, setNodeDown] = useState(false)
  const [notice, setNotice] = useState<string>()
  const [announce, setAnnounce] = useState('')
  const [notify, setNotify] = useState<NotifyChoice>(loadNotifyChoice)
  const selectedRef = useRef<string | undefined>(undefined)
  selectedRef.current = panel === 'chat' || panel === 'safety' || panel === 'key-change' ? selected : undefined
  const contactsRef = useRef(contacts)
  // Contacts removed while the page is open, by the rev of their removal (web/src/contact-list.ts).
  const removedRef = useRef(new Map<string, number>())
  contactsRef.current = contacts
  const notifyRef = useRef(notify)
  notifyRef.current = notify
  const openRef = useRef<(id: string) => Promise<void>>(undefined)
  // The GET /messages on the way, and the events read meanwhile: an answer never undoes a later event (message-list.ts).
  const [fetches] = useState(() => new MessageFetches())
  // Where each chat's older page starts, from the node's last page; a reload drops the older pages asked before it.
  const [pages] = useState(() => new OlderPages())
  const loadMessages = useCallback(async (id: string) => {
    if (api === undefined) return
    const generation = pages.newest(id)
    const f = fetches.start(id)
    try {
      const list = await api.messages(id)
      if (!pages.answered(id, generation, list)) { fetches.failed(f); return }
      const shown = fetches.answered(f, list)
      setMessages((all) => ({ ...all, [id]: shown }))
      setHasOlder((o) => ({ ...o, [id]: list.length >= MESSAGE_PAGE }))
    } catch (err) {
      fetches.failed(f)
      pages.failed(id, generation)
      throw err
    }
  }, [api, fetches, pages])
  /** The page before the node's last page, added to the messages shown; how many it brought. A fetch like the newest
   * page's: the events read meanwhile go on top of the answer, so it cannot bring back a message removed or undo an edit. */
  const loadOlder = useCallback(async (id: string): Promise<number> => {
    const next = pages.older(id)
    if (api === undefined || next === undefined) return 0
    const f = fetches.start(id)
    try {
      const page = await api.messages(id, { before: next.before })
      if (!pages.answered(id, next.generation, page)) { fetches.failed(f); return 0 }
      const older = fetches.answered(f, page)
      setMessages((all) => ({ ...all, [id]: withOlder(all[id] ?? [], older) }))
      setHasOlder((o) => ({ ...o, [id]: page.length >= MESSAGE_PAGE }))
      return page.length
    } catch (err) {
      fetches.failed(f)
      // The message the page starts from was deleted: page on from a new newest page (the older pages shown go).
      if (err instanceof ApiFailure && err.code === UNKNOWN_MESSAGE) { await loadMessages(id); return 0 }
      throw err
    }
  }, [api, fetches, pages, loadMessages])
  const changeMessages = useCallback((contactId: string, c: MessageChange) => {
    fetches.record(contactId, c)
    setMessages((all) => ({ ...all, [contactId]: applyChange(all[contactId] ?? [], c) }))
  }, [fetches])

  const fail = useCallback((err: unknown) => {
    if (err instanceof ApiFailure && err.status === 401) {
      forgetToken()
      setHostState('unauthorized')
    } else if (err instanceof ApiFailure && err.code === NODE_DOWN) {
      setNodeDown(true)
    } else {
      setNotice(explain(err))
    }
  }, [])
  // Issue 11: the group chats (listed in the chat list, opened in the main area).
  const groups = useGroups(api !== undefined && hostState === 'ready' ? api : undefined, fail)
  const groupsEvent = useRef(groups.onEvent)
  groupsEvent.current = groups.onEvent

  /** Fetches everything shown again: state, status, contacts and the open conversation. */
  const refresh = useCallback(async () => {
    if (api === undefined) return
    try {
      const state = await api.state()
      setNodeDown(false)
      setHostState(state)
      if (state !== 'ready') return
      const [s, c] = await Promise.all([api.status(), api.contacts()])
      setStatus(s)
      setContacts((l) => reloadedContacts(l, c, removedRef.current))
      const open = selectedRef.current
      if (open !== undefined && c.some((x) => x.id === open)) {
        await loadMessages(open)
        if (document.visibilityState === 'visible') await api.markRead(open)
      }
    } catch (err) { fail(err) }
  }, [api, fail, loadMessages])

  useEffect(() => { void refresh() }, [refresh])

  const onEvent = useCallback((e: ApiEvent) => {
    groupsEvent.current(e)
    switch (e.type) {
      case 'host-state':
        // Sent at every (re)connection of the socket too: events sent while it was down are lost, and
        // the node may have restarted, so everything shown is fetched again.
        setHostState(e.state)
        if (e.state === 'ready') void refresh()
        break
      case 'status':
        setStatus(e.status)
        break
      case 'contact':
        setContacts((list) => eventContact(list, e.contact))
        break
      case 'message':
      case 'message-state': {
        const m = e.message
        changeMessages(m.contactId, { type: 'upsert', message: m })
        if (e.type === 'message' && m.direction === 'out') {
          // The list's preview follows what I send, before the node's contact event (if any) comes.
          setContacts((list) => list.map((c) => c.id === m.contactId ? { ...c, lastMessage: { text: m.text, at: m.at, direction: 'out' } } : c))
        }
        // A message that arrives already deleted for everyone (its deletion came first) is no news.
        if (e.type === 'message' && m.direction === 'in' && m.deleted !== true) {
          const name = contactsRef.current.find((c) => c.id === m.contactId)?.name ?? 'a contact'
          const open = selectedRef.current === m.contactId
          const seen = open && document.visibilityState === 'visible'
          setAnnounce(open ? `${name}: ${m.text}` : `New message from ${name}`)
          if (seen) void api?.markRead(m.contactId).catch(() => {})
          else notifyMessage(notifyRef.current, name, m.text, m.contactId, () => { void openRef.current?.(m.contactId) })
        }
        break
      }
      case 'warning':
        setNotice(e.text)
        break
      case 'message-removed':
        changeMessages(e.contactId, { type: 'removed', id: e.id, direction: e.direction })
        break
      case 'contact-removed':
        setContacts((list) => removedContact(list, removedRef.current, e.contactId, e.rev))
        break
    }
  }, [api, refresh, changeMessages])

  // When the socket drops, one call tells a node that is down from a token it refuses.
  const onConnected = useCallback((up: boolean) => {
    setLive(up)
    if (!up && api !== undefined) void api.state().then(() => {}, fail)
  }, [api, fail])

  useEffect(() => {
    if (api === undefined || hostState === 'unauthorized') return
    return api.events(onEvent, onConnected)
  }, [api, onEvent, onConnected, hostState === 'unauthorized'])

  // Back to a hidden tab with a chat open: what came meanwhile is read now.
  useEffect(() => {
    if (api === undefined) return
    const onVisible = (): void => {
      const id = selectedRef.current
      if (document.visibilityState === 'visible' && id !== undefined) void api.markRead(id).catch(() => {})
    }
    document.addEventListener('visibilitychange', onVisible)
    return () => { document.removeEventListener('visibilitychange', onVisible) }
  }, [api])

  const totalUnread = contacts.reduce((n, c) => n + c.unread, 0)
  useEffect(() => { document.title = tabTitle(totalUnread) }, [totalUnread])

  const open = useCallback(async (id: string) => {
    if (api === undefined) return
    setSelected(id)
    sessionStorage.setItem(OPEN_KEY, id)
    setPanel('chat')
    setShowList(false)
    try {
      await loadMessages(id)
      await api.markRead(id)
    } catch (err) { fail(err) }
  }, [api, fail, loadMessages])
  openRef.current = open

  if (token === undefined || api === undefined || hostState === 'unauthorized') {
    return <TokenPage reason={token === undefined && !address.malformed ? 'missing' : 'refused'} />
  }
  if (hostState === 'loading') {
    return (
      <main className='center'>
        <h1>0message1</h1>
        {nodeDown ? <NodeDown /> : <p>Connecting to your node…</p>}
      </main>
    )
  }
  if (hostState === 'no-account') return <Onboarding api={api} onDone={refresh} />
  if (hostState === 'locked') return <Unlock api={api} onDone={refresh} />

  const current = contacts.find((c) => c.id === selected)
  const go = (p: Panel): void => { setPanel(p); setShowList(p === 'chat') }
  const nav = (p: Panel, label: string): React.JSX.Element => (
    <button type='button' className={panel === p ? 'tab active' : 'tab'} aria-current={panel === p ? 'page' : undefined} data-testid={`nav-${p}`} onClick={() => { go(p) }}>{label}</button>
  )
  const downReason = nodeDown ? 'Your node is not answering, so nothing can be sent now.' : undefined
  const mainShown = !(panel === 'chat' && (showList || current === undefined))

  return (
    <div className='app'>
      <header className='top'>
        <span className='brand'>0message1</span>
        <span className='me' data-testid='me'><bdi>{status?.name}</bdi></span>
        <span className={live ? 'live on' : 'live'} data-testid='live' title={live ? 'Live updates connected' : 'Reconnecting…'}>{live ? '● live' : '○ offline'}</span>
        <nav aria-label='Sections'>
          {nav('chat', 'Chats')}
          {nav('invite', 'My invite')}
          {nav('add', 'Add contact')}
          {nav('settings', 'Settings')}
          {nav('network', 'Network')}
          {nav('search', 'Search')}
          {nav('groups', 'Groups')}
        </nav>
      </header>
      {nodeDown && <div className='banner down' role='alert' data-testid='node-down'><NodeDown /></div>}
      {notice !== undefined && (
        <div className='notice' role='alert'>
          <span>{notice}</span>
          <button type='button' onClick={() => { setNotice(undefined) }} aria-label='Dismiss'>×</button>
        </div>
      )}
      <div className='sr-only' aria-live='polite' data-testid='announce'>{announce}</div>
      <main className={mainShown ? 'body show-main' : 'body show-list'}>
        <h1 className='sr-only'>0message1</h1>
        <ContactList
          contacts={contacts} selected={panel === 'groups' ? undefined : selected} onOpen={(id) => { void open(id) }}
          extra={<GroupList groups={groups.list} selected={panel === 'groups' ? groups.open : undefined} onOpen={(id) => { groups.setOpen(id); go('groups') }} onNew={() => { groups.setOpen(undefined); go('groups') }} />}
        />
        <section className='main' aria-label={panel === 'chat' ? 'Conversation' : undefined}>
          {panel === 'chat' && (current === undefined
            ? <p className='muted center'>Choose a conversation.</p>
            : <Conversation api={api} contact={current} messages={messages[current.id] ?? []} disabledReason={downReason}
                onLoadOlder={hasOlder[current.id] === true ? async () => await loadOlder(current.id) : undefined} onBack={() => { setShowList(true) }} onSafety={() => { setPanel('safety') }} onKeyChange={() => { setPanel('key-change') }} onError={fail}
                headExtra={<ContactActions api={api} contact={current} onError={fail} onChanged={(c) => { setContacts((l) => answeredContact(l, c)) }} onDeleted={(id) => { setContacts((l) => l.filter((x) => x.id !== id)); setShowList(true) }} />}
              />)}
          {panel === 'search' && <SearchPanel api={api} contacts={contacts} onOpen={(id) => { void open(id) }} onError={fail} />}
          {panel === 'key-change' && current !== undefined && (
            <KeyChangePanel
              api={api} contact={current} onError={fail}
              onDone={(c) => { setContacts((l) => answeredContact(l, c)); if (c.keyChange?.state !== 'pending') setNotice(undefined); setPanel('chat') }}
            />
          )}
          {panel === 'safety' && current !== undefined && <SafetyNumberPanel api={api} contact={current} onBack={() => { setPanel('chat') }} onError={fail} />}
          {panel === 'invite' && <InvitePanel api={api} onError={fail} />}
          {panel === 'add' && <AddContact api={api} onAdded={(c) => { setContacts((l) => eventContact(l, c)); void open(c.id) }} />}
          {panel === 'settings' && status !== undefined && (
            <SettingsPanel api={api} status={status} onChanged={refresh} onError={fail}>
              <NotificationSettings choice={notify} onChange={(c) => { setNotify(c); saveNotifyChoice(c) }} />
            </SettingsPanel>
          )}
          {panel === 'network' && status !== undefined && <NetworkPanel api={api} status={status} contacts={contacts} onRefresh={refresh} />}
          {panel === 'groups' && (
            <GroupsPanel
              api={api} contacts={contacts} groups={groups} disabledReason={downReason} onBack={() => { go('chat') }} onError={fail}
              onSafety={(id) => { setSelected(id); sessionStorage.setItem(OPEN_KEY, id); setPanel('safety') }}
            />
          )}
        </section>
      </main>
    </div>
  )
}

function NodeDown (): React.JSX.Element {
  return (
    <p>
      <strong>Your 0message1 node is not answering.</strong> Nothing can be sent or received until it runs again;
      if you stopped it, start it with <code>0message1 start</code>. This page reconnects by itself.
    </p>
  )
}
