// Issue 13 in a message bubble: the quote of a reply, "edited", "deleted", and the message's actions
// (reply, edit within 15 minutes, delete for me, delete for everyone for my own). Contact text only ever
// as React text nodes, in dir="auto".
import { useState } from 'react'
import type { Api, MessageView } from '../api.ts'
import { EDIT_WINDOW_MS, chatApi } from './chat-api.ts'

/** Above the text: what a reply quotes. */
export function QuoteLine ({ m }: { m: MessageView }): React.JSX.Element | null {
  if (m.replyTo === undefined) return null
  return <blockquote className='quote' data-testid='quote' dir='auto'>{m.replyTo.quote === '' ? '(a message)' : m.replyTo.quote}</blockquote>
}

/** The text, or "deleted" in its place. */
export function MessageText ({ m }: { m: MessageView }): React.JSX.Element {
  if (m.deleted === true) return <div className='text deleted' data-testid='deleted'>This message was deleted.</div>
  return <div className='text' dir='auto'>{m.text}</div>
}

/** In the meta line: "edited", and the actions. */
export function MessageActions ({ api, m, onReply, onError }: { api: Api, m: MessageView, onReply: (m: MessageView) => void, onError: (e: unknown) => void }): React.JSX.Element | null {
  const [open, setOpen] = useState(false)
  if (m.deleted === true) return null
  const mine = m.direction === 'out'
  const editable = mine && Date.now() - m.at < EDIT_WINDOW_MS
  const run = (f: () => Promise<unknown>): void => { setOpen(false); void f().catch(onError) }
  const edit = (): void => {
    const text = window.prompt('Edit your message', m.text)
    if (text === null || text.trim() === '' || text === m.text) return
    run(async () => await chatApi.edit(api, m.contactId, m.id, text))
  }
  return (
    <>
      {m.editedAt !== undefined && <span className='edited' data-testid='edited'>edited</span>}
      <button type='button' className='msg-more' data-testid='message-actions' aria-expanded={open} aria-label='Message actions' onClick={() => { setOpen(!open) }}>⋯</button>
      {open && (
        <span className='msg-menu' role='group' aria-label='Message actions'>
          <button type='button' data-testid='reply' onClick={() => { setOpen(false); onReply(m) }}>Reply</button>
          {editable && <button type='button' data-testid='edit' onClick={edit}>Edit</button>}
          <button type='button' data-testid='delete-me' onClick={() => { run(async () => { await chatApi.remove(api, m.contactId, m.id, false) }) }}>Delete for me</button>
          {mine && <button type='button' data-testid='delete-everyone' onClick={() => { run(async () => { await chatApi.remove(api, m.contactId, m.id, true) }) }}>Delete for everyone</button>}
        </span>
      )}
    </>
  )
}

/** Above the composer while replying: what the reply will quote, and a way out. */
export function ReplyBar ({ to, onCancel }: { to: MessageView | undefined, onCancel: () => void }): React.JSX.Element | null {
  if (to === undefined) return null
  return (
    <div className='reply-bar' data-testid='reply-bar'>
      <span className='muted'>Replying to</span> <span dir='auto' className='reply-quote'>{to.text.slice(0, 100)}</span>
      <button type='button' aria-label='Cancel the reply' data-testid='reply-cancel' onClick={onCancel}>×</button>
    </div>
  )
}

/** The composer's send: a reply when one is chosen. */
export async function sendOrReply (api: Api, contactId: string, text: string, replyTo: MessageView | undefined): Promise<void> {
  if (replyTo === undefined) await api.send(contactId, text)
  else await chatApi.reply(api, contactId, text, replyTo.id)
}
