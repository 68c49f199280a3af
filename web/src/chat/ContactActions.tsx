// Issue 13 in the conversation header: rename, block or unblock, delete the contact.
import type { Api, ContactView } from '../api.ts'
import { chatApi } from './chat-api.ts'

export function ContactActions ({ api, contact, onChanged, onDeleted, onError }: {
  api: Api, contact: ContactView, onChanged: (c: ContactView) => void, onDeleted: (id: string) => void, onError: (e: unknown) => void
}): React.JSX.Element {
  const rename = (): void => {
    const name = window.prompt('New name for this contact', contact.name)
    if (name === null || name.trim() === '') return
    void api.rename(contact.id, name.trim()).then(onChanged, onError)
  }
  const block = (): void => { void chatApi.block(api, contact.id, contact.blocked !== true).then(onChanged, onError) }
  const remove = (): void => {
    if (!window.confirm('Delete this contact and your whole conversation with them? This cannot be undone.')) return
    void chatApi.deleteContact(api, contact.id).then(() => { onDeleted(contact.id) }, onError)
  }
  return (
    <span className='contact-actions'>
      {contact.blocked === true && <span className='badge warn' data-testid='blocked'>blocked</span>}
      <button type='button' data-testid='rename' onClick={rename}>Rename</button>
      <button type='button' data-testid='block' onClick={block}>{contact.blocked === true ? 'Unblock' : 'Block'}</button>
      <button type='button' data-testid='delete-contact' onClick={remove}>Delete</button>
    </span>
  )
}
