// The contact list: one entry per contact with its badges and the newest message as a preview.
// Names and previews sit in <bdi>: right-to-left text in them cannot reorder what is around them.
import type { ContactView } from './api.ts'

/** `extra`: more chats shown in the list (issue 11: the group chats). */
export function ContactList ({ contacts, selected, onOpen, extra }: { contacts: ContactView[], selected: string | undefined, onOpen: (id: string) => void, extra?: React.ReactNode }): React.JSX.Element {
  return (
    <nav className='contacts' data-testid='contacts' aria-label='Chats'>
      <h2 className='sr-only'>Chats</h2>
      {contacts.length === 0 && <p className='muted'>No contacts yet. Share your invite or add someone's.</p>}
      <ul>
        {contacts.map((c) => (
          <li key={c.id}>
            <button type='button' className={c.id === selected ? 'contact selected' : 'contact'} aria-current={c.id === selected ? 'true' : undefined} data-testid='contact' data-name={c.name} onClick={() => { onOpen(c.id) }}>
              <span className='row'>
                <strong className='name'><bdi data-testid='contact-name'>{c.name}</bdi></strong>
                {c.verified && <span className='badge ok' title='Verified'>✓<span className='sr-only'> verified</span></span>}
                {c.keyChange?.state === 'pending' && <span className='badge warn' title='Safety number changed' data-testid='key-changed'>!<span className='sr-only'> safety number changed</span></span>}
                {c.unread > 0 && <span className='badge unread' data-testid='unread'><span aria-hidden='true'>{c.unread}</span><span className='sr-only'>{c.unread} unread</span></span>}
              </span>
              <span className='last' data-testid='preview'>
                {c.lastMessage === undefined ? '—' : <>{c.lastMessage.direction === 'out' ? 'You: ' : ''}<bdi>{c.lastMessage.text}</bdi></>}
              </span>
            </button>
          </li>
        ))}
      </ul>
      {extra}
    </nav>
  )
}
