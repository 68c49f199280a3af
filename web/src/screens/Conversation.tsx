// One conversation: its messages (contact text only ever as React text nodes, never HTML) and the composer.
// Names sit in <bdi> and each message has dir="auto": right-to-left text (or an override character in
// a name) lays out on its own and cannot reorder what is around it.
// `void f()` in event handlers and effects: React cannot await them, and every such f catches its
// own errors and shows them (setError / fail / onError), so nothing is left to reject.
import { useLayoutEffect, useRef, useState } from 'react'
import type { Api, ContactView, MessageView } from '../api.ts'
import { STATE_LABEL, dayLabel, linkLabel, time } from '../format.ts'
import { MAX_TEXT_BYTES } from '../../../src/wire/text-limit.ts'
// Issue 13: replies, edits, deletions, contact actions (web/src/chat/).
import { MessageActions, MessageText, QuoteLine, ReplyBar, sendOrReply } from '../chat/MessageExtras.tsx'

/** The counter shows from this share of the limit on: below it, it would only be noise. */
const COUNTER_FROM = 0.8
/** Within this many pixels of the end, the reader counts as at the end (and follows new messages). */
const AT_END_PX = 48

const utf8 = new TextEncoder()

/** The chat's system line for a changed safety number; while pending, the way to compare and decide. */
function KeyChangeLine ({ contact, onCompare }: { contact: ContactView, onCompare: () => void }): React.JSX.Element | null {
  const k = contact.keyChange
  if (k === undefined) return null
  return (
    <div className='system' data-testid='key-change' data-state={k.state}>
      <p><bdi>{contact.name}</bdi>'s safety number changed · {time(k.at)}</p>
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

/** `disabledReason`: why nothing can be sent now (the node is down); the composer says it. */
export function Conversation ({ api, contact, messages, disabledReason, onBack, onSafety, onKeyChange, onError, headExtra }: {
  api: Api, contact: ContactView, messages: MessageView[], disabledReason?: string | undefined, onBack: () => void, onSafety: () => void, onKeyChange: () => void, onError: (e: unknown) => void
  /** Issue 13: the contact's actions (rename, block, delete), beside the safety number button. */
  headExtra?: React.ReactNode
}): React.JSX.Element {
  const [text, setText] = useState('')
  const [replyTo, setReplyTo] = useState<MessageView>()
  const [busy, setBusy] = useState(false)
  const [unseen, setUnseen] = useState(0)
  const list = useRef<HTMLDivElement>(null)
  const atEnd = useRef(true)
  const seenCount = useRef(0)
  const bytes = utf8.encode(text).length
  const over = bytes > MAX_TEXT_BYTES

  // A new conversation opens at its end.
  useLayoutEffect(() => { atEnd.current = true; seenCount.current = 0; setUnseen(0) }, [contact.id])
  // New messages: followed when the reader is at the end or sent one; otherwise the marker counts them.
  useLayoutEffect(() => {
    const el = list.current
    const added = messages.length - seenCount.current
    seenCount.current = messages.length
    if (el === null || added <= 0) return
    const last = messages[messages.length - 1]
    if (atEnd.current || last?.direction === 'out') {
      el.scrollTop = el.scrollHeight
      setUnseen(0)
    } else {
      setUnseen((n) => n + messages.slice(-added).filter((m) => m.direction === 'in').length)
    }
  }, [messages])

  const onScroll = (): void => {
    const el = list.current
    if (el === null) return
    atEnd.current = el.scrollHeight - el.scrollTop - el.clientHeight < AT_END_PX
    if (atEnd.current) setUnseen(0)
  }
  const toEnd = (): void => {
    const el = list.current
    if (el !== null) el.scrollTop = el.scrollHeight
    atEnd.current = true
    setUnseen(0)
  }
  const send = async (e: React.SubmitEvent): Promise<void> => {
    e.preventDefault()
    if (text.trim() === '' || over || disabledReason !== undefined) return
    setBusy(true)
    try { await sendOrReply(api, contact.id, text, replyTo); setText(''); setReplyTo(undefined) } catch (err) { onError(err) } finally { setBusy(false) }
  }
  const composerNote = disabledReason ?? (over
    ? `Too long to send: ${bytes.toLocaleString()} bytes, and one message holds at most ${MAX_TEXT_BYTES.toLocaleString()}. Shorten it or split it.`
    : bytes >= MAX_TEXT_BYTES * COUNTER_FROM ? `${bytes.toLocaleString()} of ${MAX_TEXT_BYTES.toLocaleString()} bytes` : undefined)

  return (
    <div className='conversation' data-testid='conversation'>
      <div className='conv-head'>
        <button type='button' className='back' data-testid='back' onClick={onBack} aria-label='Back to the chats'>←</button>
        <div className='who'>
          <h2 data-testid='conversation-name'><bdi>{contact.name}</bdi></h2>
          <span className='muted mono id'>{contact.accountId}</span>
          <span className='muted' data-testid='link'> · {linkLabel(contact.link)}</span>
        </div>
        <button type='button' data-testid='open-safety' onClick={onSafety}>{contact.verified ? 'Verified ✓' : 'Verify safety number'}</button>
        {headExtra}
      </div>
      <div className='messages' data-testid='messages' ref={list} onScroll={onScroll} role='log' aria-label='Messages'>
        {messages.length === 0 && contact.keyChange === undefined && <p className='muted center'>No messages yet. Say hello.</p>}
        {messages.map((m, i) => {
          const prev = messages[i - 1]
          const newDay = prev === undefined || new Date(prev.at).toDateString() !== new Date(m.at).toDateString()
          return (
            <div key={`${m.direction}-${m.id}`} className='item'>
              {newDay && <p className='day' data-testid='day'><span>{dayLabel(m.at)}</span></p>}
              {contact.keyChange !== undefined && m.at > contact.keyChange.at && (prev?.at ?? 0) <= contact.keyChange.at && <KeyChangeLine contact={contact} onCompare={onKeyChange} />}
              {m.gapBefore !== undefined && m.gapBefore > 0 && <p className='gap'>{m.gapBefore} message(s) missing here</p>}
              <div className={`msg ${m.direction}`} data-testid='message' data-direction={m.direction} data-state={m.state}>
                <QuoteLine m={m} />
                <MessageText m={m} />
                <div className='meta'>
                  <MessageActions api={api} m={m} onReply={setReplyTo} onError={onError} />
                  <span>{time(m.at)}</span>
                  {m.direction === 'out' && <span className={`state ${m.state}`} data-testid='message-state'>{STATE_LABEL[m.state]}</span>}
                  {m.path !== undefined && <span className='path'>via {m.path}</span>}
                  {m.failure !== undefined && <span className='error'>{m.failure}</span>}
                </div>
              </div>
            </div>
          )
        })}
        {contact.keyChange !== undefined && !messages.some((m) => m.at > (contact.keyChange?.at ?? 0)) && <KeyChangeLine contact={contact} onCompare={onKeyChange} />}
      </div>
      {unseen > 0 && (
        <button type='button' className='new-marker' data-testid='new-messages' onClick={toEnd}>
          {unseen} new message{unseen === 1 ? '' : 's'} ↓
        </button>
      )}
      <ReplyBar to={replyTo} onCancel={() => { setReplyTo(undefined) }} />
      <form className='composer' onSubmit={(e) => { void send(e) }}>
        <label className='sr-only' htmlFor='composer'>Message to <bdi>{contact.name}</bdi></label>
        <textarea
          id='composer' data-testid='composer' value={text} rows={2} placeholder='Write a message' dir='auto'
          disabled={disabledReason !== undefined} aria-invalid={over} aria-describedby={composerNote === undefined ? undefined : 'composer-note'}
          onChange={(e) => { setText(e.target.value) }}
          onKeyDown={(e) => { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); e.currentTarget.form?.requestSubmit() } }}
        />
        <button type='submit' className='primary' data-testid='send' disabled={busy || text.trim() === '' || over || disabledReason !== undefined}>Send</button>
        {composerNote !== undefined && <p id='composer-note' className={over || disabledReason !== undefined ? 'note error' : 'note'} data-testid='composer-note' role='status'>{composerNote}</p>}
      </form>
    </div>
  )
}
