// Issue 13: search across every conversation (the node's full-text index inside its encrypted store).
// The node marks matched words with U+0002 and U+0003; they become <mark> elements here, never HTML.
import { useState } from 'react'
import type { Api, ContactView } from '../api.ts'
import { time } from '../format.ts'
import { chatApi, type SearchHit } from './chat-api.ts'

const OPEN = String.fromCharCode(2)
const CLOSE = String.fromCharCode(3)

function Snippet ({ text }: { text: string }): React.JSX.Element {
  // "a OPEN b CLOSE c": every odd piece after splitting on both markers is a match.
  const parts = text.split(OPEN).flatMap((p, i) => i === 0 ? [p] : p.split(CLOSE)).map((p, i) => ({ p, hit: i % 2 === 1 }))
  return <span dir='auto'>{parts.map(({ p, hit }, i) => hit ? <mark key={i}>{p}</mark> : <span key={i}>{p}</span>)}</span>
}

export function SearchPanel ({ api, contacts, onOpen, onError }: { api: Api, contacts: ContactView[], onOpen: (id: string) => void, onError: (e: unknown) => void }): React.JSX.Element {
  const [q, setQ] = useState('')
  const [hits, setHits] = useState<SearchHit[]>()
  const submit = async (e: React.SubmitEvent): Promise<void> => {
    e.preventDefault()
    if (q.trim() === '') return
    try { setHits(await chatApi.search(api, q.trim())) } catch (err) { onError(err) }
  }
  const name = (id: string): string => contacts.find((c) => c.id === id)?.name ?? 'a deleted contact'
  return (
    <div className='panel'>
      <h2>Search</h2>
      <form onSubmit={(e) => { void submit(e) }} className='search'>
        <label htmlFor='search-q' className='sr-only'>Words to search for</label>
        <input id='search-q' data-testid='search-q' type='search' value={q} maxLength={200} placeholder='Words in any conversation' onChange={(e) => { setQ(e.target.value) }} />
        <button type='submit' className='primary' data-testid='search-go'>Search</button>
      </form>
      {hits !== undefined && hits.length === 0 && <p className='muted' data-testid='search-none'>No message matches.</p>}
      {hits !== undefined && hits.length > 0 && (
        <ul className='hits'>
          {hits.map((h) => (
            <li key={`${h.contactId}-${h.direction}-${h.messageId}`}>
              <button type='button' className='hit' data-testid='search-hit' onClick={() => { onOpen(h.contactId) }}>
                <strong><bdi>{h.direction === 'out' ? 'You' : name(h.contactId)}</bdi></strong> <span className='muted'>{time(h.at)}</span><br />
                <Snippet text={h.snippet} />
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  )
}
