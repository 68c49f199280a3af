// The first screens: making the account on this device, and unlocking it with its passphrase.
// `void f()` in event handlers and effects: React cannot await them, and every such f catches its
// own errors and shows them (setError / fail / onError), so nothing is left to reject.
import { useState } from 'react'
import type { Api } from '../api.ts'
import { explain } from '../errors.ts'

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
    } catch (err) { setError(explain(err)) } finally { setBusy(false) }
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
    try { await api.unlock(passphrase); await onDone() } catch (err) { setError(explain(err)) } finally { setBusy(false) }
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
