// The app shell: host state (onboarding, unlock, ready), contacts and conversations kept current by
// the event socket, and the panels (invite, add contact, safety number, settings, network).
// `void f()` in event handlers and effects: React cannot await them, and every such f catches its
// own errors and shows them (setError / fail / onError), so nothing is left to reject.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react'
import { Api, ApiFailure, type ApiEvent, type ContactView, type HostState, type MessageView, type StatusView } from './api.ts'
import { ContactList } from './ContactList.tsx'
import { Conversation } from './screens/Conversation.tsx'
import { AddContact, InvitePanel } from './screens/Invite.tsx'
import { NetworkPanel } from './screens/Network.tsx'
import { KeyChangePanel, SafetyNumberPanel } from './screens/Safety.tsx'
import { SettingsPanel } from './screens/Settings.tsx'
import { Onboarding, Unlock } from './screens/Start.tsx'

type Panel = 'chat' | 'invite' | 'add' | 'safety' | 'key-change' | 'settings' | 'network'

function upsert (list: MessageView[], m: MessageView): MessageView[] {
  const i = list.findIndex((x) => x.id === m.id && x.direction === m.direction)
  if (i === -1) return [...list, m].sort((a, b) => a.at - b.at)
  const next = list.slice()
  next[i] = m
  return next
}

export function App ({ token }: { token: string | undefined }): React.JSX.Element {
  const api = useMemo(() => token === undefined ? undefined : new Api(token), [token])
  const [hostState, setHostState] = useState<HostState | 'loading' | 'unauthorized'>('loading')
  const [status, setStatus] = useState<StatusView>()
  const [contacts, setContacts] = useState<ContactView[]>([])
  const [selected, setSelected] = useState<string>()
  const [messages, setMessages] = useState<Record<string, MessageView[]>>({})
  const [panel, setPanel] = useState<Panel>('chat')
  const [live, setLive] = useState(false)
  const [notice, setNotice] = useState<string>()
  const selectedRef = useRef<string | undefined>(undefined)
  selectedRef.current = panel === 'chat' || panel === 'safety' || panel === 'key-change' ? selected : undefined

  const fail = useCallback((err: unknown) => {
    if (err instanceof ApiFailure && err.status === 401) setHostState('unauthorized')
    else setNotice(err instanceof Error ? err.message : String(err))
  }, [])

  const refresh = useCallback(async () => {
    if (api === undefined) return
    try {
      const state = await api.state()
      setHostState(state)
      if (state !== 'ready') return
      const [s, c] = await Promise.all([api.status(), api.contacts()])
      setStatus(s)
      setContacts(c)
    } catch (err) { fail(err) }
  }, [api, fail])

  useEffect(() => { void refresh() }, [refresh])

  const onEvent = useCallback((e: ApiEvent) => {
    switch (e.type) {
      case 'host-state':
        setHostState(e.state)
        if (e.state === 'ready') void refresh()
        break
      case 'status':
        setStatus(e.status)
        break
      case 'contact':
        setContacts((list) => {
          const i = list.findIndex((c) => c.id === e.contact.id)
          if (i === -1) return [...list, e.contact]
          const next = list.slice()
          next[i] = e.contact
          return next
        })
        break
      case 'message':
      case 'message-state': {
        const m = e.message
        setMessages((all) => ({ ...all, [m.contactId]: upsert(all[m.contactId] ?? [], m) }))
        if (e.type === 'message' && m.direction === 'in' && selectedRef.current === m.contactId && document.visibilityState === 'visible') {
          void api?.markRead(m.contactId).catch(() => {})
        }
        break
      }
      case 'warning':
        setNotice(e.text)
        break
    }
  }, [api, refresh])

  useEffect(() => {
    if (api === undefined || hostState === 'unauthorized') return
    return api.events(onEvent, setLive)
  }, [api, onEvent, hostState === 'unauthorized'])

  const open = useCallback(async (id: string) => {
    if (api === undefined) return
    setSelected(id)
    setPanel('chat')
    try {
      const list = await api.messages(id)
      setMessages((all) => ({ ...all, [id]: list }))
      await api.markRead(id)
    } catch (err) { fail(err) }
  }, [api, fail])

  if (token === undefined || api === undefined || hostState === 'unauthorized') {
    return (
      <main className='center'>
        <h1>0message1</h1>
        <p data-testid='no-token'>This page needs the address printed by <code>0message1 start</code> (it carries the access token). Open that address again.</p>
      </main>
    )
  }
  if (hostState === 'loading') return <main className='center'><p>Connecting to your node…</p></main>
  if (hostState === 'no-account') return <Onboarding api={api} onDone={refresh} />
  if (hostState === 'locked') return <Unlock api={api} onDone={refresh} />

  const current = contacts.find((c) => c.id === selected)
  const nav = (p: Panel, label: string): React.JSX.Element => (
    <button type='button' className={panel === p ? 'tab active' : 'tab'} data-testid={`nav-${p}`} onClick={() => { setPanel(p) }}>{label}</button>
  )

  return (
    <div className='app'>
      <header className='top'>
        <span className='brand'>0message1</span>
        <span className='me' data-testid='me'>{status?.name}</span>
        <nav>
          {nav('chat', 'Chats')}
          {nav('invite', 'My invite')}
          {nav('add', 'Add contact')}
          {nav('settings', 'Settings')}
          {nav('network', 'Network')}
        </nav>
        <span className={live ? 'live on' : 'live'} title={live ? 'Live updates connected' : 'Reconnecting…'}>{live ? '● live' : '○ offline'}</span>
      </header>
      {notice !== undefined && (
        <div className='notice' role='alert'>
          <span>{notice}</span>
          <button type='button' onClick={() => { setNotice(undefined) }} aria-label='Dismiss'>×</button>
        </div>
      )}
      <div className='body'>
        <ContactList contacts={contacts} selected={selected} onOpen={(id) => { void open(id) }} />
        <section className='main'>
          {panel === 'chat' && (current === undefined
            ? <p className='muted center'>Choose a conversation.</p>
            : <Conversation api={api} contact={current} messages={messages[current.id] ?? []} onSafety={() => { setPanel('safety') }} onKeyChange={() => { setPanel('key-change') }} onError={fail} />)}
          {panel === 'key-change' && current !== undefined && (
            <KeyChangePanel
              api={api} contact={current} onError={fail}
              onDone={(c) => { setContacts((l) => l.map((x) => x.id === c.id ? c : x)); if (c.keyChange?.state !== 'pending') setNotice(undefined); setPanel('chat') }}
            />
          )}
          {panel === 'safety' && current !== undefined && <SafetyNumberPanel api={api} contact={current} onBack={() => { setPanel('chat') }} onError={fail} />}
          {panel === 'invite' && <InvitePanel api={api} onError={fail} />}
          {panel === 'add' && <AddContact api={api} onAdded={(c) => { setContacts((l) => l.some((x) => x.id === c.id) ? l : [...l, c]); void open(c.id) }} />}
          {panel === 'settings' && status !== undefined && <SettingsPanel api={api} status={status} onChanged={refresh} onError={fail} />}
          {panel === 'network' && status !== undefined && <NetworkPanel api={api} status={status} contacts={contacts} onRefresh={refresh} />}
        </section>
      </div>
    </div>
  )
}
