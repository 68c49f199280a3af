// Settings: privacy switches and the relays this device uses.
// `void f()` in event handlers and effects: React cannot await them, and every such f catches its
// own errors and shows them (setError / fail / onError), so nothing is left to reject.
import { useState } from 'react'
import type { Api, StatusView } from '../api.ts'
import { explain } from '../errors.ts'
import { RelayChoicePanel } from '../relay-choice.tsx'

/** `children`: the sections kept in this browser rather than on the node (notifications). */
export function SettingsPanel ({ api, status, onChanged, onError, children }: { api: Api, status: StatusView, onChanged: () => Promise<void>, onError: (e: unknown) => void, children?: React.ReactNode }): React.JSX.Element {
  const [address, setAddress] = useState('')
  const [error, setError] = useState<string>()
  const s = status.settings
  const apply = async (f: () => Promise<unknown>): Promise<void> => {
    setError(undefined)
    try { await f(); await onChanged() } catch (err) { setError(explain(err)); onError(err) }
  }
  const stateOf = (a: string): string => status.relays.find((r) => r.address === a)?.state ?? 'not connected'
  return (
    <div className='panel' data-testid='settings'>
      <h2>Settings</h2>
      <h3>Privacy</h3>
      <label className='check'>
        <input type='checkbox' data-testid='relay-only' checked={s.relayOnly} onChange={(e) => { void apply(async () => await api.updateSettings({ relayOnly: e.target.checked })) }} />
        Relay-only mode: all traffic goes through relays, so contacts never learn my IP address (slower)
      </label>
      <label className='check'>
        <input type='checkbox' data-testid='lan-discovery' checked={s.lanDiscovery} onChange={(e) => { void apply(async () => await api.updateSettings({ lanDiscovery: e.target.checked })) }} />
        LAN discovery (off by default): find contacts on this local network. It shows this device's peer id (not your name or account) to everyone on the LAN
      </label>
      <label className='check'>
        <input type='checkbox' data-testid='fetch-isolation' checked={s.fetchIsolation === 'contact'} onChange={(e) => { void apply(async () => await api.updateSettings({ fetchIsolation: e.target.checked ? 'contact' : 'device' })) }} />
        Fetch each contact's mailbox over its own connection, so a relay cannot tell which mailboxes belong to one device by peer id (one more connection per contact and relay; it still sees the IP address)
      </label>
      <h3>Notifications</h3>
      {children}
      <h3>Relays</h3>
      <p className='muted'>Relays carry sealed envelopes when a contact cannot be reached directly. They cannot read them or tell who sent them.</p>
      <ul className='relays' data-testid='relay-list'>
        {s.relays.length === 0 && <li className='muted'>No relays: messages wait until the contact is reachable directly.</li>}
        {s.relays.map((r) => (
          <li key={r}>
            <span className='mono addr'>{r}</span>
            <span className={`state ${stateOf(r)}`}>{stateOf(r)}</span>
            <button type='button' onClick={() => { void apply(async () => await api.removeRelay(r)) }}>Remove</button>
          </li>
        ))}
      </ul>
      <form className='inline' onSubmit={(e) => { e.preventDefault(); void apply(async () => { await api.addRelay(address.trim()); setAddress('') }) }}>
        <input className='mono' aria-label='Relay address' placeholder='/ip4/203.0.113.5/tcp/4001/p2p/12D3Koo…' value={address} onChange={(e) => { setAddress(e.target.value) }} data-testid='relay-address' />
        <button type='submit' disabled={address.trim() === ''}>Add relay</button>
      </form>
      <RelayChoicePanel api={api} />
      {error !== undefined && <p className='error' role='alert'>{error}</p>}
    </div>
  )
}
