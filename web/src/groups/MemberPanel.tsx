// The member panel of a group (issue 11): every member with its safety-number state (verified, not verified,
// changed; met through a group) and a way to compare it; for admins: add a contact, remove a member, promote a
// member to admin, rename the group; for every member: leave. Destructive steps ask first.
// `void f()` in handlers: act catches its own errors and shows them (onError).
import { useState } from 'react'
import type { Api, ContactView } from '../api.ts'
import { groupPath, type GroupMember, type GroupView } from './types.ts'

function safetyState (m: GroupMember, contact: ContactView | undefined): { label: string, tone: string } {
  if (contact?.keyChange?.state === 'pending') return { label: 'safety number changed', tone: 'warn' }
  // The contact's own view is live (contact events); the group's is as of its last change.
  if (contact?.verified ?? m.verified) return { label: 'verified ✓', tone: 'ok' }
  return { label: 'not verified', tone: 'muted' }
}

export function MemberPanel ({ api, group, contacts, onChanged, onSafety, onError }: {
  api: Api, group: GroupView, contacts: ContactView[], onChanged: (g: GroupView) => void, onSafety: (contactId: string) => void, onError: (err: unknown) => void
}): React.JSX.Element {
  const [adding, setAdding] = useState('')
  const [name, setName] = useState(group.name)
  const [busy, setBusy] = useState(false)
  const act = async (method: string, rest: string, body?: unknown): Promise<void> => {
    setBusy(true)
    try { onChanged(await api.call<GroupView>(method, groupPath(group.id, rest), body)) } catch (err) { onError(err) } finally { setBusy(false) }
  }
  const contactOf = (m: GroupMember): ContactView | undefined => m.contactId === undefined ? undefined : contacts.find((c) => c.id === m.contactId)
  const candidates = contacts.filter((c) => !group.members.some((m) => m.contactId === c.id) && (c as ContactView & { metThroughGroup?: string }).metThroughGroup === undefined && c.blocked !== true)
  const remove = (m: GroupMember): void => {
    if (window.confirm(`Remove ${m.name} from ${group.name}? Everyone's keys change, so they read nothing sent after.`)) void act('DELETE', `/members/${encodeURIComponent(m.accountId)}`)
  }
  const leave = (): void => {
    if (window.confirm(`Leave ${group.name}? You keep what was said so far but get nothing new.`)) void act('POST', '/leave')
  }
  return (
    <aside className='group-members' data-testid='member-panel' aria-labelledby='members-title'>
      <h3 id='members-title'>Members ({group.members.length})</h3>
      <ul>
        {group.members.map((m) => {
          const c = contactOf(m)
          const s = safetyState(m, c)
          return (
            <li key={m.accountId} data-testid='member' data-name={m.name} data-admin={m.admin} data-safety={m.me ? 'me' : s.label}>
              <span className='member-name'><bdi>{m.name}</bdi>{m.me && ' (you)'}</span>
              {m.admin && <span className='badge ok'>admin</span>}
              {!m.me && <span className={`safety ${s.tone}`} data-testid='member-safety'>{s.label}</span>}
              {m.metThroughGroup && <span className='muted small'>met through a group</span>}
              <span className='member-actions'>
                {c !== undefined && <button type='button' data-testid='member-safety-number' aria-label={`Safety number with ${m.name}`} onClick={() => { onSafety(c.id) }}>Safety number</button>}
                {group.admin && group.member && !m.me && (
                  <>
                    {!m.admin && <button type='button' data-testid='promote' aria-label={`Make ${m.name} an admin`} disabled={busy} onClick={() => { void act('POST', `/admins/${encodeURIComponent(m.accountId)}`) }}>Make admin</button>}
                    <button type='button' data-testid='remove-member' aria-label={`Remove ${m.name}`} disabled={busy} onClick={() => { remove(m) }}>Remove</button>
                  </>
                )}
              </span>
            </li>
          )
        })}
      </ul>
      {group.admin && group.member && (
        <>
          <form className='inline' aria-label='Add a member' onSubmit={(e) => { e.preventDefault(); if (adding !== '') void act('POST', '/members', { contactId: adding }).then(() => { setAdding('') }) }}>
            <label className='sr-only' htmlFor='add-member'>Contact to add</label>
            <select id='add-member' data-testid='add-member' value={adding} onChange={(e) => { setAdding(e.target.value) }} disabled={candidates.length === 0}>
              <option value=''>{candidates.length === 0 ? 'No other contacts to add' : 'Add a contact…'}</option>
              {candidates.map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}
            </select>
            <button type='submit' data-testid='add-member-submit' disabled={busy || adding === ''}>Add</button>
          </form>
          <p className='muted small'>A contact joins once its device answers.</p>
          <form className='inline' aria-label='Rename the group' onSubmit={(e) => { e.preventDefault(); if (name.trim() !== '') void act('PATCH', '', { name: name.trim() }) }}>
            <label className='sr-only' htmlFor='group-rename'>Group name</label>
            <input id='group-rename' data-testid='group-rename' value={name} maxLength={128} dir='auto' onChange={(e) => { setName(e.target.value) }} />
            <button type='submit' data-testid='group-rename-submit' disabled={busy || name.trim() === '' || name.trim() === group.name}>Rename</button>
          </form>
        </>
      )}
      {group.member
        ? <button type='button' data-testid='leave-group' disabled={busy} onClick={leave}>Leave group</button>
        : <p className='muted' data-testid='not-member'>You are no longer a member of this group; its history stays readable.</p>}
    </aside>
  )
}
