// Entry of the web UI: takes the token from the address, then renders the app.
import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { App } from './App.tsx'
import { takeToken } from './api.ts'
import './styles.css'

const root = document.getElementById('root')
if (root !== null) {
  createRoot(root).render(
    <StrictMode>
      <App address={takeToken()} />
    </StrictMode>
  )
}
