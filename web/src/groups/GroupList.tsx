// Group chats in the chat list (issue 11): one entry per group, like a contact's (name, unread badge, newest
// message as a preview), and the button that starts the new-group flow. Names sit in <bdi>.
import type { GroupView } from './types.ts'

export function GroupList ({ groups, selected, onOpen, onNew }: {
  groups: GroupView[], selected: string | undefined, onOpen: (id: string) => void, onNew: () => void
}): React.JSX.Element {
  const sorted = [...groups].sort((a, b) => (b.lastMessage?.at ?? 0) - (a.lastMessage?.at ?? 0) || a.name.localeCompare(b.name))
  return (
    <section className='group-chats' aria-labelledby='group-chats-title'>
      <div className='group-chats-head'>
        <h3 id='group-chats-title'>Groups</h3>
        <button type='button' data-testid='new-group' onClick={onNew}>New group</button>
      </div>
      <ul>
        {sorted.map((g) => (
          <li key={g.id}>
            <button
              type='button' className={g.id === selected ? 'contact selected' : 'contact'} aria-current={g.id === selected ? 'true' : undefined}
              data-testid='group-chat' data-name={g.name} onClick={() => { onOpen(g.id) }}
            >
              <span className='row'>
                <strong className='name'><bdi>{g.name}</bdi></strong>
                <span className='muted small'>{g.member ? `${g.members.length} members` : 'left'}</span>
                {g.unread > 0 && <span className='badge unread' data-testid='unread'><span aria-hidden='true'>{g.unread}</span><span className='sr-only'>{g.unread} unread</span></span>}
              </span>
              <span className='last' data-testid='preview'>
                {g.lastMessage === undefined ? 'Group · no messages yet' : <>{g.lastMessage.direction === 'out' ? 'You: ' : ''}<bdi>{g.lastMessage.text}</bdi></>}
              </span>
            </button>
          </li>
        ))}
      </ul>
    </section>
  )
}
