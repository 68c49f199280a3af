// The contact list: one entry per contact with its badges and the newest message as a preview.
import type { ContactView } from './api.ts'

export function ContactList ({ contacts, selected, onOpen }: { contacts: ContactView[], selected: string | undefined, onOpen: (id: string) => void }): React.JSX.Element {
  return (
    <aside className='contacts' data-testid='contacts'>
      {contacts.length === 0 && <p className='muted'>No contacts yet. Share your invite or add someone's.</p>}
      <ul>
        {contacts.map((c) => (
          <li key={c.id}>
            <button type='button' className={c.id === selected ? 'contact selected' : 'contact'} data-testid='contact' data-name={c.name} onClick={() => { onOpen(c.id) }}>
              <span className='row'>
                <strong className='name'>{c.name}</strong>
                {c.verified && <span className='badge ok' title='Verified'>✓</span>}
                {c.keyChange?.state === 'pending' && <span className='badge warn' title='Safety number changed' data-testid='key-changed'>!</span>}
                {c.unread > 0 && <span className='badge unread' data-testid='unread'>{c.unread}</span>}
              </span>
              <span className='last'>{c.lastMessage === undefined ? '—' : `${c.lastMessage.direction === 'out' ? 'You: ' : ''}${c.lastMessage.text}`}</span>
            </button>
          </li>
        ))}
      </ul>
    </aside>
  )
}
