// The screens of the UI. Text from contacts is only ever rendered as React text nodes, never as HTML.
// `void f()` in event handlers and effects: React cannot await them, and every such f catches its
// own errors and shows them (setError / fail / onError), so nothing is left to reject.
import { useEffect, useRef, useState } from 'react'
import QRCode from 'qrcode'
import { RelayChoicePanel } from './relay-choice.tsx'
import { ApiFailure, type Api, type ContactView, type InviteView, type MessageView, type PendingSafetyNumberView, type SafetyNumberView, type StatusView } from './api.ts'

const STATE_LABEL: Record<MessageView['state'], string> = {
  queued: 'queued',
  sent: 'sent',
  stored: 'on relay',
  delivered: 'delivered',
  read: 'read',
  failed: 'failed'
}

function time (ms: number): string {
  const d = new Date(ms)
  const today = new Date()
  const sameDay = d.toDateString() === today.toDateString()
  return sameDay ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : d.toLocaleString([], { dateStyle: 'short', timeStyle: 'short' })
}

function errorText (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

export function Onboarding ({ api, onDone }: { api: Api, onDone: () => Promise<void> }): React.JSX.Element {
  const [name, setName] = useState('')
  const [passphrase, setPassphrase] = useState('')
  const [usePassphrase, setUsePassphrase] = useState(false)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string>()
  const submit = async (e: React.SubmitEvent): Promise<void> => {
    e.preventDefault()
    setBusy(true)
    setError(undefined)
    try {
      await api.createAccount(name.trim(), usePassphrase ? passphrase : undefined)
      await onDone()
    } catch (err) { setError(errorText(err)) } finally { setBusy(false) }
  }
  return (
    <main className='center narrow'>
      <h1>Welcome to 0message1</h1>
      <p>Your account is made on this device. No phone number, no email: contacts find you only through an invite you give them.</p>
      <form onSubmit={(e) => { void submit(e) }} data-testid='onboarding'>
        <label>Display name (only your contacts see it)
          <input data-testid='name' value={name} maxLength={64} required autoFocus onChange={(e) => { setName(e.target.value) }} />
        </label>
        <label className='check'>
          <input type='checkbox' checked={usePassphrase} onChange={(e) => { setUsePassphrase(e.target.checked) }} />
          Protect this device's data with a passphrase (asked at every start)
        </label>
        {usePassphrase && (
          <label>Passphrase
            <input type='password' data-testid='passphrase' value={passphrase} minLength={8} required onChange={(e) => { setPassphrase(e.target.value) }} autoComplete='new-password' />
          </label>
        )}
        {error !== undefined && <p className='error' role='alert'>{error}</p>}
        <button type='submit' className='primary' data-testid='create-account' disabled={busy || name.trim() === ''}>{busy ? 'Creating…' : 'Create my account'}</button>
      </form>
    </main>
  )
}

export function Unlock ({ api, onDone }: { api: Api, onDone: () => Promise<void> }): React.JSX.Element {
  const [passphrase, setPassphrase] = useState('')
  const [error, setError] = useState<string>()
  const [busy, setBusy] = useState(false)
  const submit = async (e: React.SubmitEvent): Promise<void> => {
    e.preventDefault()
    setBusy(true)
    try { await api.unlock(passphrase); await onDone() } catch (err) { setError(errorText(err)) } finally { setBusy(false) }
  }
  return (
    <main className='center narrow'>
      <h1>Unlock 0message1</h1>
      <form onSubmit={(e) => { void submit(e) }}>
        <label>Passphrase<input type='password' value={passphrase} autoFocus required onChange={(e) => { setPassphrase(e.target.value) }} autoComplete='current-password' /></label>
        {error !== undefined && <p className='error' role='alert'>{error}</p>}
        <button type='submit' className='primary' disabled={busy}>Unlock</button>
      </form>
    </main>
  )
}

export function InvitePanel ({ api, onError }: { api: Api, onError: (e: unknown) => void }): React.JSX.Element {
  const [invite, setInvite] = useState<InviteView>()
  const [qr, setQr] = useState<string>()
  const [qrError, setQrError] = useState<string>()
  const [copied, setCopied] = useState(false)
  const make = async (): Promise<void> => {
    try {
      const inv = await api.invite()
      setInvite(inv)
      setCopied(false)
      try {
        // Version 40 is 177 modules wide: at 3 px per module a phone camera can still read it.
        setQr(await QRCode.toDataURL([{ data: inv.qr, mode: 'alphanumeric' }], { errorCorrectionLevel: 'L', margin: 4, scale: 3 }))
        setQrError(undefined)
      } catch {
        setQr(undefined)
        setQrError('This invite is too long for a QR code; share the link instead.')
      }
    } catch (err) { onError(err) }
  }
  useEffect(() => { void make() }, [])
  const copy = async (): Promise<void> => {
    if (invite === undefined) return
    try { await navigator.clipboard.writeText(invite.link); setCopied(true) } catch { setCopied(false) }
  }
  return (
    <div className='panel'>
      <h2>My invite</h2>
      <p>Give this to one person, face to face or over a channel you trust. Whoever has it can write to you.</p>
      {invite === undefined
        ? <p className='muted'>Making an invite…</p>
        : (
          <>
            {qr !== undefined && <img className='qr' src={qr} alt='Invite QR code' data-testid='invite-qr' />}
            {qrError !== undefined && <p className='muted'>{qrError}</p>}
            <textarea className='link' readOnly value={invite.link} data-testid='invite-link' rows={4} onFocus={(e) => { e.target.select() }} />
            <div className='actions'>
              <button type='button' onClick={() => { void copy() }}>{copied ? 'Copied' : 'Copy link'}</button>
              <button type='button' onClick={() => { void make() }}>New invite</button>
              <span className='muted'>Valid until {new Date(invite.expiresAt).toLocaleString()}</span>
            </div>
          </>
          )}
    </div>
  )
}

export function AddContact ({ api, onAdded }: { api: Api, onAdded: (c: ContactView) => void }): React.JSX.Element {
  const [link, setLink] = useState('')
  const [name, setName] = useState('')
  const [error, setError] = useState<string>()
  const [busy, setBusy] = useState(false)
  const submit = async (e: React.SubmitEvent): Promise<void> => {
    e.preventDefault()
    setBusy(true)
    setError(undefined)
    try {
      const c = await api.addContact(link.trim(), name.trim())
      setLink('')
      setName('')
      onAdded(c)
    } catch (err) { setError(errorText(err)) } finally { setBusy(false) }
  }
  return (
    <div className='panel'>
      <h2>Add a contact</h2>
      <form onSubmit={(e) => { void submit(e) }} data-testid='add-contact'>
        <label>Their invite link (starts with 0m1:, or 0M1: when read from a QR code)
          <textarea data-testid='add-link' value={link} rows={4} required onChange={(e) => { setLink(e.target.value) }} spellCheck={false} />
        </label>
        <label>Name for them (optional; otherwise the name they chose)
          <input data-testid='add-name' value={name} maxLength={64} onChange={(e) => { setName(e.target.value) }} />
        </label>
        {error !== undefined && <p className='error' role='alert' data-testid='add-error'>{error}</p>}
        <button type='submit' className='primary' data-testid='add-submit' disabled={busy || link.trim() === ''}>{busy ? 'Adding…' : 'Add contact'}</button>
      </form>
    </div>
  )
}

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

export function SafetyNumberPanel ({ api, contact, onBack, onError }: { api: Api, contact: ContactView, onBack: () => void, onError: (e: unknown) => void }): React.JSX.Element {
  const [sn, setSn] = useState<SafetyNumberView>()
  useEffect(() => { api.safetyNumber(contact.id).then(setSn, onError) }, [api, contact.id, onError])
  const toggle = async (verified: boolean): Promise<void> => {
    try { setSn(await api.setVerified(contact.id, verified)) } catch (err) { onError(err) }
  }
  const groups = sn?.digits.match(/.{1,5}/g) ?? []
  return (
    <div className='panel' data-testid='safety'>
      <button type='button' onClick={onBack}>← Back</button>
      <h2>Safety number with {contact.name}</h2>
      <p>Compare these numbers with the ones on {contact.name}'s device, in person or on a call. If they match, nobody is in the middle.</p>
      {sn === undefined
        ? <p className='muted'>Loading…</p>
        : (
          <>
            <div className='digits mono' data-testid='safety-digits'>{groups.map((g, i) => <span key={i}>{g}</span>)}</div>
            <label className='check'>
              <input type='checkbox' data-testid='verified-toggle' checked={sn.verified} onChange={(e) => { void toggle(e.target.checked) }} />
              I compared the numbers and they match: mark {contact.name} as verified
            </label>
          </>
          )}
    </div>
  )
}

/** A contact's new safety number: compare it, then accept (their held messages open) or block. Never automatic. */
export function KeyChangePanel ({ api, contact, onDone, onError }: { api: Api, contact: ContactView, onDone: (c: ContactView) => void, onError: (e: unknown) => void }): React.JSX.Element {
  const [sn, setSn] = useState<PendingSafetyNumberView>()
  const [busy, setBusy] = useState(false)
  const [moved, setMoved] = useState(false)
  useEffect(() => { api.pendingSafetyNumber(contact.id).then(setSn, onError) }, [api, contact.id, onError])
  // The decision names the digits shown, so a newer key that replaced them (someone else's, maybe) is
  // refused by the node instead of accepted unseen; then its number is shown to compare afresh.
  const decide = async (f: (id: string, digits: string) => Promise<ContactView>, digits: string): Promise<void> => {
    setBusy(true)
    try {
      onDone(await f(contact.id, digits))
    } catch (err) {
      if (!(err instanceof ApiFailure && err.code === 'KEY_CHANGE_MOVED')) { onError(err); return }
      setMoved(true)
      setSn(undefined)
      await api.pendingSafetyNumber(contact.id).then(setSn, onError)
    } finally { setBusy(false) }
  }
  const groups = sn?.digits.match(/.{1,5}/g) ?? []
  return (
    <div className='panel' data-testid='key-change-panel'>
      <button type='button' onClick={() => { onDone(contact) }}>← Back</button>
      <h2>{contact.name}'s safety number changed</h2>
      <p>Either {contact.name} reinstalled the app (or moved to a new device), or someone else is writing as {contact.name}. Compare the new number below with the one on {contact.name}'s device, in person or on a call, before you accept.</p>
      {sn === undefined
        ? <p className='muted'>Loading…</p>
        : (
          <>
            {moved && <p className='error' role='alert' data-testid='key-change-moved'>Nothing was accepted or blocked: another new key arrived while you were comparing, so the number changed. Compare this new number before you decide.</p>}
            <div className='digits mono' data-testid='key-change-digits'>{groups.map((g, i) => <span key={i}>{g}</span>)}</div>
            <p className='muted'>{sn.held} message(s) held under the new key.</p>
            <div className='actions'>
              <button type='button' className='primary' data-testid='accept-key' disabled={busy} onClick={() => { void decide(api.acceptKeyChange, sn.digits) }}>The numbers match: accept</button>
              <button type='button' data-testid='block-key' disabled={busy} onClick={() => { void decide(api.blockKeyChange, sn.digits) }}>Block the new key</button>
            </div>
          </>
          )}
    </div>
  )
}

export function SettingsPanel ({ api, status, onChanged, onError }: { api: Api, status: StatusView, onChanged: () => Promise<void>, onError: (e: unknown) => void }): React.JSX.Element {
  const [address, setAddress] = useState('')
  const [error, setError] = useState<string>()
  const s = status.settings
  const apply = async (f: () => Promise<unknown>): Promise<void> => {
    setError(undefined)
    try { await f(); await onChanged() } catch (err) { setError(errorText(err)); onError(err) }
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
      <h3>Relays</h3>
      <p className='muted'>Relays carry sealed envelopes when a contact cannot be reached directly. They cannot read them or tell who sent them.</p>
      <ul className='relays'>
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
        <input className='mono' placeholder='/ip4/203.0.113.5/tcp/4001/p2p/12D3Koo…' value={address} onChange={(e) => { setAddress(e.target.value) }} data-testid='relay-address' />
        <button type='submit' disabled={address.trim() === ''}>Add relay</button>
      </form>
      <RelayChoicePanel api={api} />
      {error !== undefined && <p className='error' role='alert'>{error}</p>}
    </div>
  )
}

/** How a contact is reached right now; without a connection, messages wait in the contact's mailbox. */
function linkLabel (link: ContactView['link']): string {
  if (link === 'hole-punched') return 'direct (hole-punched)'
  if (link === 'direct') return 'direct'
  if (link === 'relayed') return 'relayed'
  return 'not connected (mailbox)'
}

export function NetworkPanel ({ api, status, contacts, onRefresh }: { api: Api, status: StatusView, contacts: ContactView[], onRefresh: () => Promise<void> }): React.JSX.Element {
  const [recent, setRecent] = useState<Array<MessageView & { contactName: string }>>([])
  useEffect(() => {
    let cancelled = false
    void Promise.all(contacts.map(async (c) => (await api.messages(c.id, 20)).map((m) => ({ ...m, contactName: c.name }))))
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
              <td>{time(m.at)}</td><td>{m.contactName}</td><td>{m.direction === 'out' ? 'sent' : 'received'}</td>
              <td className={`state ${m.state}`}>{STATE_LABEL[m.state]}</td><td>{m.path ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}
