// Settings > Relays: the relays this device keeps by itself (issue 16), found in the DHT and replaced when
// they fail, with how many to keep and a way to exclude one. Only contacts ever learn this list (in cards).
import { useEffect, useState } from 'react'
import type { Api } from './api.ts'

interface KeptRelay { address: string, state: 'ok' | 'failing' | 'retiring' | 'unknown', rttMs?: number, operator: string, pinned: boolean, source: 'configured' | 'discovered' }
interface RelayChoice { target: number, excluded: string[], relays: KeptRelay[], known: number, rejected: Record<string, number> }

export function RelayChoicePanel ({ api }: { api: Api }): React.JSX.Element | null {
  const [choice, setChoice] = useState<RelayChoice | undefined>()
  const [error, setError] = useState<string | undefined>()
  const load = async (): Promise<void> => {
    try { setChoice(await api.call<RelayChoice>('GET', '/api/relays/choice')) } catch { setChoice(undefined) }
  }
  useEffect(() => {
    void load()
    const t = setInterval(() => { void load() }, 10_000)
    return () => { clearInterval(t) }
  }, [])
  if (choice === undefined) return null
  const patch = async (body: Record<string, unknown>): Promise<void> => {
    try { setChoice(await api.call<RelayChoice>('PATCH', '/api/relays/choice', body)); setError(undefined) } catch (e) { setError(e instanceof Error ? e.message : String(e)) }
  }
  return (
    <div className='relay-choice' data-testid='relay-choice'>
      <label>
        Keep at least{' '}
        <select value={choice.target} onChange={(e) => { void patch({ target: Number(e.target.value) }) }} data-testid='relay-target'>
          {[1, 2, 3, 4, 5, 6, 7, 8].map((n) => <option key={n} value={n}>{n}</option>)}
        </select>{' '}
        working relays, found through the network ({choice.known} seen)
      </label>
      <ul className='relays'>
        {choice.relays.map((r) => (
          <li key={r.address}>
            <span className='mono addr'>{r.address}</span>
            <span className={`state ${r.state}`}>{r.state}{r.rttMs !== undefined ? ` · ${Math.round(r.rttMs)} ms` : ''}{r.operator !== '' ? ` · ${r.operator}` : ''} · {r.source}</span>
            <button type='button' onClick={() => { void patch({ excluded: [...choice.excluded, r.address] }) }}>Exclude</button>
          </li>
        ))}
      </ul>
      {error !== undefined && <p className='error' role='alert'>{error}</p>}
    </div>
  )
}
