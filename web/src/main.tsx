// Entry of the web UI: takes the token from the address, then renders the app. A new address pasted
// into this tab (after the node restarted with a new token) changes only the fragment, which loads
// nothing: the app starts afresh with the new token.
import { StrictMode, useEffect, useState } from 'react'
import { createRoot } from 'react-dom/client'
import { App } from './App.tsx'
import { takeToken, type TokenFromAddress } from './api.ts'
import './styles.css'

function Root ({ initial }: { initial: TokenFromAddress }): React.JSX.Element {
  const [address, setAddress] = useState(initial)
  const [generation, setGeneration] = useState(0)
  useEffect(() => {
    const onHash = (): void => {
      if (!/(?:^#|&)token=/.test(window.location.hash)) return
      setAddress(takeToken())
      setGeneration((g) => g + 1)
    }
    window.addEventListener('hashchange', onHash)
    return () => { window.removeEventListener('hashchange', onHash) }
  }, [])
  return <App key={generation} address={address} />
}

const root = document.getElementById('root')
if (root !== null) {
  createRoot(root).render(
    <StrictMode>
      <Root initial={takeToken()} />
    </StrictMode>
  )
}
