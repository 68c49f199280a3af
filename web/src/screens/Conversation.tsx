// One conversation: its messages (contact text only ever as React text nodes, never HTML) and the composer.
// `void f()` in event handlers and effects: React cannot await them, and every such f catches its
// own errors and shows them (setError / fail / onError), so nothing is left to reject.
import { useEffect, useRef, useState } from 'react'
import type { Api, ContactView, MessageView } from '../api.ts'
import { STATE_LABEL, linkLabel, time } from '../format.ts'

/** The chat's system line for a changed safety number; while pending, the way to compare and decide. */
function KeyChangeLine ({ contact, onCompare }: { contact: ContactView, onCompare: () => void }): React.JSX.Element | null {
  const k = contact.keyChange
  if (k === undefined) return null
  return (
    <div className='system' data-testid='key-change' data-state={k.state}>
      <p>{contact.name}'s safety number changed · {time(k.at)}</p>
      {k.state === 'pending' && (
        <>
          <p className='muted'>They reinstalled, or someone else is writing as them. {k.held} message(s) held until you compare the new safety number and accept or block it.</p>
          <button type='button' className='primary' data-testid='compare-key' onClick={onCompare}>Compare safety numbers</button>
        </>
      )}
      {k.state === 'accepted' && <p className='muted'>You accepted the new key. Verify it when you can.</p>}
      {k.state === 'blocked' && <p className='muted'>You blocked the new key; its messages are dropped.</p>}
    </div>
  )
}

export function Conversation ({ api, contact, messages, onSafety, onKeyChange, onError }: {
  api: Api, contact: ContactView, messages: MessageView[], onSafety: () => void, onKeyChange: () => void, onError: (e: unknown) => void
}): React.JSX.Element {
  const [text, setText] = useState('')
  const [busy, setBusy] = useState(false)
  const end = useRef<HTMLDivElement>(null)
  useEffect(() => { end.current?.scrollIntoView({ block: 'end' }) }, [messages.length])
  const send = async (e: React.SubmitEvent): Promise<void> => {
    e.preventDefault()
    if (text.trim() === '') return
    setBusy(true)
    try { await api.send(contact.id, text); setText('') } catch (err) { onError(err) } finally { setBusy(false) }
  }
  return (
    <div className='conversation' data-testid='conversation'>
      <div className='conv-head'>
        <div>
          <h2>{contact.name}</h2>
          <span className='muted mono'>{contact.accountId}</span>
          <span className='muted' data-testid='link'> · {linkLabel(contact.link)}</span>
        </div>
        <button type='button' data-testid='open-safety' onClick={onSafety}>{contact.verified ? 'Verified ✓' : 'Verify safety number'}</button>
      </div>
      <div className='messages' data-testid='messages'>
        {messages.length === 0 && contact.keyChange === undefined && <p className='muted center'>No messages yet. Say hello.</p>}
        {messages.map((m, i) => (
          <div key={`${m.direction}-${m.id}`}>
            {contact.keyChange !== undefined && m.at > contact.keyChange.at && (messages[i - 1]?.at ?? 0) <= contact.keyChange.at && <KeyChangeLine contact={contact} onCompare={onKeyChange} />}
            {m.gapBefore !== undefined && m.gapBefore > 0 && <p className='gap'>{m.gapBefore} message(s) missing here</p>}
            <div className={`msg ${m.direction}`} data-testid='message' data-direction={m.direction} data-state={m.state}>
              <div className='text'>{m.text}</div>
              <div className='meta'>
                <span>{time(m.at)}</span>
                {m.direction === 'out' && <span className={`state ${m.state}`} data-testid='message-state'>{STATE_LABEL[m.state]}</span>}
                {m.path !== undefined && <span className='path'>via {m.path}</span>}
                {m.failure !== undefined && <span className='error'>{m.failure}</span>}
              </div>
            </div>
          </div>
        ))}
        {contact.keyChange !== undefined && !messages.some((m) => m.at > (contact.keyChange?.at ?? 0)) && <KeyChangeLine contact={contact} onCompare={onKeyChange} />}
        <div ref={end} />
      </div>
      <form className='composer' onSubmit={(e) => { void send(e) }}>
        <textarea
          data-testid='composer' value={text} rows={2} placeholder='Write a message' maxLength={16000}
          onChange={(e) => { setText(e.target.value) }}
          onKeyDown={(e) => { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); e.currentTarget.form?.requestSubmit() } }}
        />
        <button type='submit' className='primary' data-testid='send' disabled={busy || text.trim() === ''}>Send</button>
      </form>
    </div>
  )
}
