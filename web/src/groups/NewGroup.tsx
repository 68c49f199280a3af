// The new-group flow (issue 11): a name and members chosen from my contacts (not those I know only through a
// group, nor blocked ones). Each chosen contact is asked for its group card and joins when its device answers.
import { useState } from 'react'
import type { Api, ContactView } from '../api.ts'
import type { GroupView } from './types.ts'

export function NewGroup ({ api, contacts, onDone, onCancel, onError }: {
  api: Api, contacts: ContactView[], onDone: (g: GroupView) => void, onCancel: () => void, onError: (err: unknown) => void
}): React.JSX.Element {
  const [name, setName] = useState('')
  const [chosen, setChosen] = useState<string[]>([])
  const [busy, setBusy] = useState(false)
  const eligible = contacts.filter((c) => (c as ContactView & { metThroughGroup?: string }).metThroughGroup === undefined && c.blocked !== true)
  const make = async (): Promise<void> => {
    setBusy(true)
    try { onDone(await api.call<GroupView>('POST', '/api/groups', { name: name.trim(), members: chosen })) } catch (err) { onError(err) } finally { setBusy(false) }
  }
  return (
    <form className='panel new-group' data-testid='new-group-form' aria-labelledby='new-group-title' onSubmit={(e) => { e.preventDefault(); void make() }}>
      <h2 id='new-group-title'>New group</h2>
      <label>Group name <input value={name} onChange={(e) => { setName(e.target.value) }} required maxLength={128} dir='auto' data-testid='group-name' /></label>
      <fieldset>
        <legend>Members</legend>
        <p className='muted small'>From your contacts; each joins once its device answers. Members who are not your contacts still talk with each other in the group.</p>
        {eligible.length === 0 && <p className='muted'>No contacts yet: add someone first.</p>}
        {eligible.map((c) => (
          <label key={c.id} className='check'>
            <input type='checkbox' data-testid='group-member-choice' data-name={c.name} checked={chosen.includes(c.id)} onChange={(e) => { setChosen((l) => e.target.checked ? [...l, c.id] : l.filter((x) => x !== c.id)) }} />
            <bdi>{c.name}</bdi>
          </label>
        ))}
      </fieldset>
      <div className='actions'>
        <button type='submit' className='primary' data-testid='create-group' disabled={busy || name.trim() === ''}>Create group</button>
        <button type='button' onClick={onCancel}>Cancel</button>
      </div>
    </form>
  )
}
