// The composer: refuses an empty or over-long message (the protocol's one limit, MAX_TEXT_BYTES, with
// a counter near it: nothing is ever cut), and says why it is off when nothing can be sent.
// `void f()` in event handlers: React cannot await them, and send catches its own errors (onError).
import { useState } from 'react'
import { MAX_TEXT_BYTES } from '../../../src/wire/text-limit.ts'

/** The counter shows from this share of the limit on: below it, it would only be noise. */
const COUNTER_FROM = 0.8

const utf8 = new TextEncoder()

/** `onSend` resolves when the node took the message (the text is then cleared) and throws otherwise.
 * `disabledReason`: why nothing can be sent now (the node is down). */
export function Composer ({ to, disabledReason, onSend, onError }: {
  to: string, disabledReason?: string | undefined, onSend: (text: string) => Promise<void>, onError: (e: unknown) => void
}): React.JSX.Element {
  const [text, setText] = useState('')
  const [busy, setBusy] = useState(false)
  const bytes = utf8.encode(text).length
  const over = bytes > MAX_TEXT_BYTES
  const send = async (e: React.SubmitEvent): Promise<void> => {
    e.preventDefault()
    if (text.trim() === '' || over || disabledReason !== undefined) return
    setBusy(true)
    try { await onSend(text); setText('') } catch (err) { onError(err) } finally { setBusy(false) }
  }
  const note = disabledReason ?? (over
    ? `Too long to send: ${bytes.toLocaleString()} bytes, and one message holds at most ${MAX_TEXT_BYTES.toLocaleString()}. Shorten it or split it.`
    : bytes >= MAX_TEXT_BYTES * COUNTER_FROM ? `${bytes.toLocaleString()} of ${MAX_TEXT_BYTES.toLocaleString()} bytes` : undefined)
  return (
    <form className='composer' onSubmit={(e) => { void send(e) }}>
      <label className='sr-only' htmlFor='composer'>Message to <bdi>{to}</bdi></label>
      <textarea
        id='composer' data-testid='composer' value={text} rows={2} placeholder='Write a message' dir='auto'
        disabled={disabledReason !== undefined} aria-invalid={over} aria-describedby={note === undefined ? undefined : 'composer-note'}
        onChange={(e) => { setText(e.target.value) }}
        onKeyDown={(e) => { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); e.currentTarget.form?.requestSubmit() } }}
      />
      <button type='submit' className='primary' data-testid='send' disabled={busy || text.trim() === '' || over || disabledReason !== undefined}>Send</button>
      {note !== undefined && <p id='composer-note' className={over || disabledReason !== undefined ? 'note error' : 'note'} data-testid='composer-note' role='status'>{note}</p>}
    </form>
  )
}
