// One conversation: its messages (contact text only ever as React text nodes, never HTML) and the composer.
// Names sit in <bdi> and each message has dir="auto": right-to-left text (or an override character in
// a name) lays out on its own and cannot reorder what is around it.
// `void f()` in event handlers and effects: React cannot await them, and every such f catches its
// own errors and shows them (setError / fail / onError), so nothing is left to reject.
import { useLayoutEffect, useRef, useState } from 'react'
import type { Api, ContactView, MessageView } from '../api.ts'
import { dayLabel, linkLabel, time } from '../format.ts'
import { Composer } from './Composer.tsx'
import { MessageBubble } from './MessageBubble.tsx'
// Issue 13: replies, edits, deletions, contact actions (web/src/chat/).
import { MessageActions, ReplyBar, sendOrReply } from '../chat/MessageExtras.tsx'
import { AttachButton, FileAttachment } from './FileAttachment.tsx'
import { chatFileKey, useFiles } from './useFiles.ts'
import { dayLines, keyChangeIndex, messageKey, newMessages, shownStart } from '../conversation-view.ts'

/** Within this many pixels of the end, the reader counts as at the end (and follows new messages). */
const AT_END_PX = 48

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

/** `disabledReason`: why nothing can be sent now (the node is down); the composer says it. `onLoadOlder`: adds the page
 * before the messages shown and says how many it brought; undefined when there is none. */
export function Conversation ({ api, contact, messages, disabledReason, onBack, onSafety, onKeyChange, onError, onLoadOlder, headExtra }: {
  api: Api, contact: ContactView, messages: MessageView[], disabledReason?: string | undefined, onBack: () => void, onSafety: () => void, onKeyChange: () => void, onError: (e: unknown) => void
  onLoadOlder?: (() => Promise<number>) | undefined
  /** Issue 13: the contact's actions (rename, block, delete), beside the safety number button. */
  headExtra?: React.ReactNode
}): React.JSX.Element {
  const [replyTo, setReplyTo] = useState<MessageView>()
  const [unseen, setUnseen] = useState(0)
  // Where the messages that came while the reader was scrolled up begin: a line marks it.
  const [firstUnseen, setFirstUnseen] = useState<string>()
  const list = useRef<HTMLDivElement>(null)
  const atEnd = useRef(true)
  // The messages shown before this render, by key: a live message can land mid-list (conversation-view.ts).
  const seen = useRef<ReadonlySet<string>>(new Set())
  const unseenRef = useRef(0)
  unseenRef.current = unseen
  const files = useFiles(api, contact.id, messages)
  // An older page on the way: the messages shown when it was asked (keys, in order), and how far the view was from the end.
  const paging = useRef<{ shown: string[], fromEnd: number }>(undefined)
  const [loadingOlder, setLoadingOlder] = useState(false)

  // A new conversation opens at its end.
  useLayoutEffect(() => { atEnd.current = true; seen.current = new Set(); paging.current = undefined; setUnseen(0); setFirstUnseen(undefined) }, [contact.id])
  // New messages: followed when the reader is at the end or sent one; otherwise the marker counts them.
  useLayoutEffect(() => {
    const el = list.current
    // An older page landed above the messages shown: not new, and the view stays on what the reader saw.
    const p = paging.current
    const first = p === undefined ? 0 : shownStart(p.shown, messages)
    if (p !== undefined && first !== 0) {
      paging.current = undefined
      if (first > 0 && el !== null) el.scrollTop = el.scrollHeight - p.fromEnd
    }
    const fresh = newMessages(seen.current, first > 0 ? messages.slice(first) : messages)
    seen.current = new Set(messages.map(messageKey))
    if (el === null || (!fresh.mine && fresh.incoming.length === 0)) return
    if (atEnd.current || fresh.mine) {
      el.scrollTop = el.scrollHeight
      setUnseen(0)
    } else {
      const first = fresh.incoming[0]
      if (first !== undefined && unseenRef.current === 0) setFirstUnseen(messageKey(first))
      setUnseen((n) => n + fresh.incoming.length)
    }
  }, [messages])
  const keyChangeAt = contact.keyChange === undefined ? undefined : keyChangeIndex(messages, contact.keyChange.at)
  const days = dayLines(messages)

  const onScroll = (): void => {
    const el = list.current
    if (el === null) return
    atEnd.current = el.scrollHeight - el.scrollTop - el.clientHeight < AT_END_PX
    if (atEnd.current) setUnseen(0)
  }
  const older = async (): Promise<void> => {
    const el = list.current
    if (onLoadOlder === undefined || el === null || messages.length === 0) return
    paging.current = { shown: messages.map(messageKey), fromEnd: el.scrollHeight - el.scrollTop }
    setLoadingOlder(true)
    try {
      if (await onLoadOlder() === 0) paging.current = undefined
    } catch (err) {
      paging.current = undefined
      onError(err)
    } finally {
      setLoadingOlder(false)
    }
  }
  const toEnd = (): void => {
    const el = list.current
    if (el !== null) el.scrollTop = el.scrollHeight
    atEnd.current = true
    setUnseen(0)
  }

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
        {onLoadOlder !== undefined && messages.length > 0 && (
          <button type='button' className='older' data-testid='load-older' disabled={loadingOlder} onClick={() => { void older() }}>
            {loadingOlder ? 'Loading older messages…' : 'Load older messages'}
          </button>
        )}
        {messages.map((m, i) => {
          const day = days.get(i)
          return (
            <div key={messageKey(m)} className='item'>
              {day !== undefined && <p className='day' data-testid='day'><span>{dayLabel(day)}</span></p>}
              {i === keyChangeAt && <KeyChangeLine contact={contact} onCompare={onKeyChange} />}
              {messageKey(m) === firstUnseen && <p className='new-line' data-testid='new-line'><span>New messages</span></p>}
              {m.gapBefore !== undefined && m.gapBefore > 0 && <p className='gap'>{m.gapBefore} message(s) missing here</p>}
              {(() => {
                const f = files.get(chatFileKey(m.direction, m.id))
                const actions = <MessageActions api={api} m={m} onReply={setReplyTo} onError={onError} />
                const bubble = <MessageBubble m={m} actions={actions} />
                // A deleted message shows as deleted, its file gone; a file without a caption carries the actions itself.
                if (f === undefined || m.deleted === true) return bubble
                return <>{m.text !== '' && bubble}<FileAttachment api={api} file={f} onError={onError} {...(m.text === '' ? { actions } : {})} /></>
              })()}
            </div>
          )
        })}
        {keyChangeAt === -1 && <KeyChangeLine contact={contact} onCompare={onKeyChange} />}
      </div>
      {unseen > 0 && (
        <button type='button' className='new-marker' data-testid='new-messages' onClick={toEnd}>
          {unseen} new message{unseen === 1 ? '' : 's'} ↓
        </button>
      )}
      <ReplyBar to={replyTo} onCancel={() => { setReplyTo(undefined) }} />
      <AttachButton api={api} contactId={contact.id} disabled={disabledReason !== undefined} onError={onError} />
      <Composer key={contact.id} to={contact.name} disabledReason={disabledReason} onSend={async (text) => { await sendOrReply(api, contact.id, text, replyTo); setReplyTo(undefined) }} onError={onError} />
    </div>
  )
}
