// One group message: its sender (others'), the text (a React text node, dir="auto"), and for mine the per-member
// delivery state — "delivered to k of n · read by k of n", which opens the list of members with each one's state
// and path (direct, relayed, mailbox).
import { useState } from 'react'
import { STATE_LABEL, bubbleTime } from '../format.ts'
import type { GroupMember, GroupMessage } from './types.ts'

export function GroupMessageBubble ({ m, members, attachment }: { m: GroupMessage, members: GroupMember[], attachment?: React.ReactNode }): React.JSX.Element {
  const [open, setOpen] = useState(false)
  const d = m.delivery
  const listId = `states-${m.id}`
  const t = bubbleTime(m)
  return (
    <div className={`msg ${m.direction}`} data-testid='group-message' data-direction={m.direction}>
      {m.direction === 'in' && <div className='sender' data-testid='group-sender'><bdi>{m.senderName}</bdi></div>}
      {attachment}
      {m.text !== '' && <div className='text' dir='auto'>{m.text}</div>}
      <div className='meta'>
        <span title={t.title} data-testid='message-time'>{t.label}</span>
        {d !== undefined && (
          <button
            type='button' className='states' data-testid='delivery-summary' aria-expanded={open} aria-controls={listId}
            onClick={() => { setOpen((o) => !o) }}
          >
            delivered to {d.delivered} of {d.total} · read by {d.read} of {d.total}
          </button>
        )}
      </div>
      {open && d !== undefined && (
        <ul className='member-states' id={listId} data-testid='member-states' aria-label='Delivery to each member'>
          {d.members.map((x) => (
            <li key={x.accountId} data-testid='member-state' data-state={x.state}>
              <bdi>{members.find((y) => y.accountId === x.accountId)?.name ?? 'a former member'}</bdi>:{' '}
              <span className={`state ${x.state}`}>{STATE_LABEL[x.state]}</span>
              {x.path !== undefined && <span className='path'> via {x.path}</span>}
            </li>
          ))}
        </ul>
      )}
    </div>
  )
}
