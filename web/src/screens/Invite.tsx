// Giving my invite (link and QR code) and adding a contact from theirs.
// `void f()` in event handlers and effects: React cannot await them, and every such f catches its
// own errors and shows them (setError / fail / onError), so nothing is left to reject.
import { useEffect, useState } from 'react'
import QRCode from 'qrcode'
import type { Api, ContactView, InviteView } from '../api.ts'
import { explain } from '../errors.ts'

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
            <textarea className='link' aria-label='Invite link' readOnly value={invite.link} data-testid='invite-link' rows={4} onFocus={(e) => { e.target.select() }} />
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
    } catch (err) { setError(explain(err)) } finally { setBusy(false) }
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
