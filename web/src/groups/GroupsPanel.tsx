// Issue 11: groups in the web UI — the group chats, the new-group flow, a group conversation with each
// message's per-member states (delivered to k of n, read by k of n, the path per member on request), and the
// member panel (admins add, remove and promote; anyone leaves). Self-contained: it reads the group endpoints
// and listens to the event socket itself, so the app shell only shows it.
import { useCallback, useEffect, useState } from 'react'
import type { Api, ApiEvent, ContactView, DeliveryPath, MessageState } from '../api.ts'
import { AttachButton, FileAttachment } from '../screens/FileAttachment.tsx'
import { useGroupFiles } from '../screens/useFiles.ts'

interface GroupMember { accountId: string, name: string, admin: boolean, me: boolean, contactId?: string, metThroughGroup: boolean, verified: boolean }
interface GroupView { id: string, name: string, member: boolean, admin: boolean, version: number, members: GroupMember[], unread: number, lastMessage?: { text: string, at: number, direction: 'in' | 'out' } }
interface MemberDelivery { contactId: string, accountId: string, state: MessageState, path?: DeliveryPath }
interface GroupMessage {
  groupId: string, id: string, direction: 'in' | 'out', senderName: string, seq: number, text: string, sentAt: number, at: number
  delivery?: { total: number, delivered: number, read: number, members: MemberDelivery[] }
}
type GroupEvent = { type: 'group', group: GroupView } | { type: 'group-message' | 'group-message-state', message: GroupMessage } | { type: 'warning', text: string, groupId?: string }

export function GroupsPanel ({ api, contacts, onError }: { api: Api, contacts: ContactView[], onError: (err: unknown) => void }): React.JSX.Element {
  const [groups, setGroups] = useState<GroupView[]>([])
  const [open, setOpen] = useState<string>()
  const [creating, setCreating] = useState(false)
  const [messages, setMessages] = useState<GroupMessage[]>([])
  const [warning, setWarning] = useState<string>()

  const load = useCallback(async () => {
    try { setGroups(await api.call<GroupView[]>('GET', '/api/groups')) } catch (err) { onError(err) }
  }, [api, onError])
  const loadMessages = useCallback(async (id: string) => {
    try {
      setMessages(await api.call<GroupMessage[]>('GET', `/api/groups/${id}/messages`))
      await api.call('POST', `/api/groups/${id}/read`)
    } catch (err) { onError(err) }
  }, [api, onError])

  useEffect(() => { void load() }, [load])
  useEffect(() => { if (open !== undefined) void loadMessages(open) }, [open, loadMessages])
  useEffect(() => api.events((raw: ApiEvent) => {
    const e = raw as unknown as GroupEvent
    if (e.type === 'group') setGroups((l) => l.some((g) => g.id === e.group.id) ? l.map((g) => g.id === e.group.id ? e.group : g) : [...l, e.group])
    else if (e.type === 'group-message' || e.type === 'group-message-state') {
      if (e.message.groupId === open) {
        setMessages((l) => l.some((m) => m.id === e.message.id && m.direction === e.message.direction) ? l.map((m) => m.id === e.message.id && m.direction === e.message.direction ? e.message : m) : [...l, e.message])
      }
    } else {
      // Any other event: only a warning about a group (a refused change, a non-member's message) is shown here.
      const w = raw as { type: string, text?: string, groupId?: string }
      if (w.type === 'warning' && w.groupId !== undefined && w.text !== undefined) setWarning(w.text)
    }
  }, () => {}), [api, open])

  const current = groups.find((g) => g.id === open)
  return (
    <div className='panel groups' data-testid='groups'>
      <h2>Groups</h2>
      {warning !== undefined && <p role='alert' className='muted'>{warning} <button type='button' onClick={() => { setWarning(undefined) }} aria-label='Dismiss'>×</button></p>}
      <ul className='group-list' aria-label='Group chats'>
        {groups.map((g) => (
          <li key={g.id}>
            <button type='button' className={g.id === open ? 'active' : ''} onClick={() => { setCreating(false); setOpen(g.id) }} data-testid={`group-${g.name}`}>
              <bdi>{g.name}</bdi> <span className='muted'>{g.members.length} members{g.member ? '' : ', left'}</span>
              {g.unread > 0 && <span className='badge' aria-label={`${g.unread} unread`}>{g.unread}</span>}
            </button>
          </li>
        ))}
      </ul>
      <button type='button' onClick={() => { setCreating(true); setOpen(undefined) }} data-testid='new-group'>New group</button>
      {creating && <NewGroup api={api} contacts={contacts} onDone={(g) => { setCreating(false); setGroups((l) => [...l, g]); setOpen(g.id) }} onError={onError} />}
      {current !== undefined && <GroupChat api={api} group={current} messages={messages} contacts={contacts} onError={onError} onChanged={(g) => { setGroups((l) => l.map((x) => x.id === g.id ? g : x)) }} />}
    </div>
  )
}

function NewGroup ({ api, contacts, onDone, onError }: { api: Api, contacts: ContactView[], onDone: (g: GroupView) => void, onError: (err: unknown) => void }): React.JSX.Element {
  const [name, setName] = useState('')
  const [chosen, setChosen] = useState<string[]>([])
  const make = async (): Promise<void> => {
    try { onDone(await api.call<GroupView>('POST', '/api/groups', { name, members: chosen })) } catch (err) { onError(err) }
  }
  return (
    <form className='new-group' onSubmit={(e) => { e.preventDefault(); void make() }} aria-label='New group'>
      <label>Name <input value={name} onChange={(e) => { setName(e.target.value) }} required maxLength={128} data-testid='group-name' /></label>
      <fieldset>
        <legend>Members (from your contacts; each joins once its device answers)</legend>
        {contacts.filter((c) => (c as ContactView & { metThroughGroup?: string }).metThroughGroup === undefined).map((c) => (
          <label key={c.id}>
            <input type='checkbox' checked={chosen.includes(c.id)} onChange={(e) => { setChosen((l) => e.target.checked ? [...l, c.id] : l.filter((x) => x !== c.id)) }} />
            <bdi>{c.name}</bdi>
          </label>
        ))}
      </fieldset>
      <button type='submit' disabled={name.trim() === ''}>Create group</button>
    </form>
  )
}

function GroupChat ({ api, group, messages, contacts, onError, onChanged }: {
  api: Api, group: GroupView, messages: GroupMessage[], contacts: ContactView[], onError: (err: unknown) => void, onChanged: (g: GroupView) => void
}): React.JSX.Element {
  const [text, setText] = useState('')
  const [details, setDetails] = useState<string>()
  const [adding, setAdding] = useState('')
  const act = async (method: string, path: string, body?: unknown): Promise<void> => {
    try { onChanged(await api.call<GroupView>(method, `/api/groups/${group.id}${path}`, body)) } catch (err) { onError(err) }
  }
  const send = async (): Promise<void> => {
    try { await api.call('POST', `/api/groups/${group.id}/messages`, { text }); setText('') } catch (err) { onError(err) }
  }
  const candidates = contacts.filter((c) => !group.members.some((m) => m.contactId === c.id))
  // Issue 12 in groups: files announced in this group, by message id (images inline, others with a save button).
  const files = useGroupFiles(api, group.id, messages)
  return (
    <section className='group-chat' aria-label={`Group ${group.name}`}>
      <h3><bdi>{group.name}</bdi></h3>
      <ol className='messages' data-testid='group-messages'>
        {messages.map((m) => (
          <li key={`${m.direction}${m.id}`} className={m.direction === 'out' ? 'out' : 'in'}>
            <span className='who'>{m.direction === 'out' ? 'Me' : <bdi>{m.senderName}</bdi>}</span>: <bdi>{m.text}</bdi>
            {files.get(m.id) !== undefined && <FileAttachment api={api} file={files.get(m.id) as NonNullable<ReturnType<typeof files.get>>} onError={onError} />}
            {m.delivery !== undefined && (
              <button type='button' className='states' onClick={() => { setDetails(details === m.id ? undefined : m.id) }} aria-expanded={details === m.id}>
                delivered to {m.delivery.delivered} of {m.delivery.total}, read by {m.delivery.read} of {m.delivery.total}
              </button>
            )}
            {details === m.id && m.delivery !== undefined && (
              <ul className='member-states'>
                {m.delivery.members.map((d) => (
                  <li key={d.contactId}><bdi>{group.members.find((x) => x.accountId === d.accountId)?.name ?? d.accountId}</bdi>: {d.state}{d.path !== undefined ? ` (${d.path})` : ''}</li>
                ))}
              </ul>
            )}
          </li>
        ))}
      </ol>
      {group.member && (
        <form onSubmit={(e) => { e.preventDefault(); void send() }} aria-label='Write to the group'>
          <input value={text} onChange={(e) => { setText(e.target.value) }} aria-label='Message' data-testid='group-text' />
          <button type='submit' disabled={text === ''}>Send</button>
          <AttachButton api={api} contactId={group.id} disabled={false} onError={onError} upload={async (f) => { await api.uploadGroupFile(group.id, f) }} />
        </form>
      )}
      <aside className='members' aria-label='Members'>
        <h4>Members ({group.members.length})</h4>
        <ul>
          {group.members.map((m) => (
            <li key={m.accountId}>
              <bdi>{m.name}</bdi>{m.me ? ' (me)' : ''}{m.admin ? ' · admin' : ''}{m.metThroughGroup ? ' · met through a group' : ''}{m.verified ? ' · verified' : ' · not verified'}
              {group.admin && !m.me && (
                <>
                  {' '}<button type='button' onClick={() => { void act('DELETE', `/members/${encodeURIComponent(m.accountId)}`) }}>Remove</button>
                  {!m.admin && <button type='button' onClick={() => { void act('POST', `/admins/${encodeURIComponent(m.accountId)}`) }}>Make admin</button>}
                </>
              )}
            </li>
          ))}
        </ul>
        {group.admin && candidates.length > 0 && (
          <form onSubmit={(e) => { e.preventDefault(); if (adding !== '') void act('POST', '/members', { contactId: adding }) }}>
            <select value={adding} onChange={(e) => { setAdding(e.target.value) }} aria-label='Contact to add'>
              <option value=''>Add a contact…</option>
              {candidates.map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}
            </select>
            <button type='submit' disabled={adding === ''}>Add</button>
          </form>
        )}
        {group.member && <button type='button' onClick={() => { void act('POST', '/leave') }}>Leave group</button>}
      </aside>
    </section>
  )
}
