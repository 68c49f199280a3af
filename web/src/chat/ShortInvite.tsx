// Issue 13: a short invite link (at most 120 characters) and its QR code, small enough for any phone camera.
// The node parks the full invite, sealed, on one of its relays; the link carries the relay, the id and the key.
import { useState } from 'react'
import QRCode from 'qrcode'
import type { Api } from '../api.ts'
import { explain } from '../errors.ts'

export function ShortInvite ({ api, onMade }: { api: Api, onMade?: () => void }): React.JSX.Element {
  const [short, setShort] = useState<string>()
  const [qr, setQr] = useState<string>()
  const [error, setError] = useState<string>()
  const [busy, setBusy] = useState(false)
  const make = async (): Promise<void> => {
    setBusy(true)
    setError(undefined)
    try {
      const r = await api.call<{ short: string }>('POST', '/api/invites/short')
      setShort(r.short)
      setQr(await QRCode.toDataURL(r.short, { errorCorrectionLevel: 'M', margin: 4, scale: 6 }))
      onMade?.()
    } catch (err) { setError(explain(err)) } finally { setBusy(false) }
  }
  return (
    <section className='short-invite'>
      <h3>Short link</h3>
      <p className='muted'>A link of at most 120 characters for the same invite, easy to type or scan. One of your relays keeps the invite, sealed with a key that is only in the link.</p>
      {short === undefined
        ? <button type='button' data-testid='short-invite' disabled={busy} onClick={() => { void make() }}>{busy ? 'Making…' : 'Make a short link'}</button>
        : (
          <>
            {qr !== undefined && <img className='qr' src={qr} alt='Short invite QR code' data-testid='short-invite-qr' />}
            <input className='link' aria-label='Short invite link' readOnly value={short} data-testid='short-invite-link' onFocus={(e) => { e.target.select() }} />
          </>
          )}
      {error !== undefined && <p className='error' role='alert' data-testid='short-invite-error'>{error}</p>}
    </section>
  )
}
