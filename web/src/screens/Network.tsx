// The network panel: this node's real state (peer id, NAT, relays, addresses) and the paths of recent messages.
import { useEffect, useState } from 'react'
import type { Api, ContactView, MessageView, StatusView } from '../api.ts'
import { STATE_LABEL, time } from '../format.ts'

export function NetworkPanel ({ api, status, contacts, onRefresh }: { api: Api, status: StatusView, contacts: ContactView[], onRefresh: () => Promise<void> }): React.JSX.Element {
  const [recent, setRecent] = useState<Array<MessageView & { contactName: string }>>([])
  useEffect(() => {
    let cancelled = false
    void Promise.all(contacts.map(async (c) => (await api.messages(c.id, { limit: 20 })).map((m) => ({ ...m, contactName: c.name }))))
      .then((lists) => { if (!cancelled) setRecent(lists.flat().sort((a, b) => b.at - a.at).slice(0, 30)) })
      .catch(() => {})
    return () => { cancelled = true }
  }, [api, contacts])
  return (
    <div className='panel' data-testid='network'>
      <div className='conv-head'><h2>Network</h2><button type='button' onClick={() => { void onRefresh() }}>Refresh</button></div>
      <dl className='facts'>
        <dt>Peer id</dt><dd className='mono' data-testid='peer-id'>{status.peerId}</dd>
        <dt>Account id</dt><dd className='mono'>{status.accountId}</dd>
        <dt>NAT status</dt><dd data-testid='nat'>{status.nat}</dd>
        <dt>Connections</dt><dd>{status.connections}</dd>
        <dt>Contacts connected</dt><dd data-testid='links'>{status.links.direct + status.links.holePunched} direct ({status.links.holePunched} hole-punched), {status.links.relayed} relayed</dd>
        <dt>Waiting to deliver</dt><dd>{status.outbox}</dd>
        <dt>Relay-only</dt><dd>{status.settings.relayOnly ? 'on' : 'off'}</dd>
        <dt>Fetch isolation</dt><dd data-testid='fetch-isolation-state'>{status.settings.fetchIsolation}</dd>
      </dl>
      <h3>Relays</h3>
      <table>
        <thead><tr><th>Address</th><th>State</th><th>Reservation</th></tr></thead>
        <tbody>
          {status.relays.length === 0 && <tr><td colSpan={3} className='muted'>none</td></tr>}
          {status.relays.map((r) => <tr key={r.address}><td className='mono addr'>{r.address}</td><td className={`state ${r.state}`}>{r.state}</td><td>{r.reservation ? 'yes' : 'no'}</td></tr>)}
        </tbody>
      </table>
      <h3>My addresses</h3>
      <ul className='mono small'>{status.addresses.map((a) => <li key={a}>{a}</li>)}</ul>
      <h3>Paths of recent messages</h3>
      <table data-testid='paths'>
        <thead><tr><th>Time</th><th>Contact</th><th>Direction</th><th>State</th><th>Path</th></tr></thead>
        <tbody>
          {recent.length === 0 && <tr><td colSpan={5} className='muted'>no messages yet</td></tr>}
          {recent.map((m) => (
            <tr key={`${m.contactId}-${m.direction}-${m.id}`}>
              <td>{time(m.at)}</td><td><bdi>{m.contactName}</bdi></td><td>{m.direction === 'out' ? 'sent' : 'received'}</td>
              <td className={`state ${m.state}`}>{STATE_LABEL[m.state]}</td><td>{m.path ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}
