// One message of a conversation. Its text is a React text node (never HTML) with dir="auto": its own
// direction (Arabic or Hebrew right to left), isolated from what is around it.
import type { MessageView } from '../api.ts'
import { STATE_LABEL, bubbleTime } from '../format.ts'
// Issue 13: a reply's quote, "deleted" in place of the text, and the message's actions (web/src/chat/).
import { MessageText, QuoteLine } from '../chat/MessageExtras.tsx'

export function MessageBubble ({ m, actions }: { m: MessageView, actions?: React.ReactNode }): React.JSX.Element {
  const t = bubbleTime(m)
  return (
    <div className={`msg ${m.direction}`} data-testid='message' data-direction={m.direction} data-state={m.state}>
      <QuoteLine m={m} />
      <MessageText m={m} />
      <div className='meta'>
        {actions}
        <span title={t.title} data-testid='message-time'>{t.label}</span>
        {m.direction === 'out' && <span className={`state ${m.state}`} data-testid='message-state'>{STATE_LABEL[m.state]}</span>}
        {m.path !== undefined && <span className='path'>via {m.path}</span>}
        {m.failure !== undefined && <span className='error'>{m.failure}</span>}
      </div>
    </div>
  )
}
