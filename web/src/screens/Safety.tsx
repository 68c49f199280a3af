// Safety numbers: comparing and verifying, and deciding on a contact's changed key.
// `void f()` in event handlers and effects: React cannot await them, and every such f catches its
// own errors and shows them (setError / fail / onError), so nothing is left to reject.
import { useEffect, useState } from 'react'
import { ApiFailure, type Api, type ContactView, type PendingSafetyNumberView, type SafetyNumberView } from '../api.ts'

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
      <h2>Safety number with <bdi>{contact.name}</bdi></h2>
      <p>Compare these numbers with the ones on <bdi>{contact.name}</bdi>'s device, in person or on a call. If they match, nobody is in the middle.</p>
      {sn === undefined
        ? <p className='muted'>Loading…</p>
        : (
          <>
            <div className='digits mono' data-testid='safety-digits'>{groups.map((g, i) => <span key={i}>{g}</span>)}</div>
            <label className='check'>
              <input type='checkbox' data-testid='verified-toggle' checked={sn.verified} onChange={(e) => { void toggle(e.target.checked) }} />
              I compared the numbers and they match: mark <bdi>{contact.name}</bdi> as verified
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
      <h2><bdi>{contact.name}</bdi>'s safety number changed</h2>
      <p>Either <bdi>{contact.name}</bdi> reinstalled the app (or moved to a new device), or someone else is writing as <bdi>{contact.name}</bdi>. Compare the new number below with the one on <bdi>{contact.name}</bdi>'s device, in person or on a call, before you accept.</p>
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
