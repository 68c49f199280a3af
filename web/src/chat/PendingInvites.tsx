// Issue 13: the invites handed out and not answered yet, each with revoke (its one-time keys and
// mailbox go; an answer to it is refused).
import { useEffect, useState } from 'react'
import type { Api } from '../api.ts'
import { chatApi, type PendingInvite } from './chat-api.ts'

export function PendingInvites ({ api, version, onError }: { api: Api, version: unknown, onError: (e: unknown) => void }): React.JSX.Element | null {
  const [list, setList] = useState<PendingInvite[]>()
  const load = async (): Promise<void> => { try { setList(await chatApi.invites(api)) } catch (err) { onError(err) } }
  useEffect(() => { void load() }, [version])
  if (list === undefined || list.length === 0) return null
  return (
    <section className='pending' data-testid='pending-invites'>
      <h3>Pending invites</h3>
      <ul>
        {list.map((i) => (
          <li key={i.id} data-testid='pending-invite'>
            <span className='muted'>Made {new Date(i.createdAt).toLocaleString()}, valid until {new Date(i.expiresAt).toLocaleString()}</span>
            <button type='button' data-testid='revoke-invite' onClick={() => { void chatApi.revoke(api, i.id).then(load, onError) }}>Revoke</button>
          </li>
        ))}
      </ul>
    </section>
  )
}
