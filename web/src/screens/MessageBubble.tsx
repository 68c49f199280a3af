// One message of a conversation. Its text is a React text node (never HTML) with dir="auto": its own
// direction (Arabic or Hebrew right to left), isolated from what is around it.
import type { MessageView } from '../api.ts'
import { STATE_LABEL, time } from '../format.ts'

export function MessageBubble ({ m }: { m: MessageView }): React.JSX.Element {
  return (
    <div className={`msg ${m.direction}`} data-testid='message' data-direction={m.direction} data-state={m.state}>
      <div className='text' dir='auto'>{m.text}</div>
      <div className='meta'>
        <span>{time(m.at)}</span>
        {m.direction === 'out' && <span className={`state ${m.state}`} data-testid='message-state'>{STATE_LABEL[m.state]}</span>}
        {m.path !== undefined && <span className='path'>via {m.path}</span>}
        {m.failure !== undefined && <span className='error'>{m.failure}</span>}
      </div>
    </div>
  )
}
