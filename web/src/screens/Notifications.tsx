// The notification settings (a section of Settings): off by default, text hidden by default.
import { useState } from 'react'
import { askPermission, notificationsSupported, type NotifyChoice } from '../notifications.ts'

export function NotificationSettings ({ choice, onChange }: { choice: NotifyChoice, onChange: (c: NotifyChoice) => void }): React.JSX.Element {
  const [refused, setRefused] = useState(false)
  if (!notificationsSupported()) return <p className='muted'>This browser cannot show notifications.</p>
  const toggle = async (on: boolean): Promise<void> => {
    if (!on) { onChange({ ...choice, on: false }); return }
    const granted = await askPermission()
    setRefused(!granted)
    onChange({ ...choice, on: granted })
  }
  return (
    <>
      <label className='check'>
        <input type='checkbox' data-testid='notify' checked={choice.on} onChange={(e) => { void toggle(e.target.checked) }} />
        Show a desktop notification when a message arrives (off by default; the browser asks you once)
      </label>
      <label className='check'>
        <input type='checkbox' data-testid='notify-text' checked={choice.showText} disabled={!choice.on} onChange={(e) => { onChange({ ...choice, showText: e.target.checked }) }} />
        Include the sender's name and the message text (anyone who sees your screen can read them)
      </label>
      {refused && <p className='error' role='alert' data-testid='notify-refused'>Your browser blocks notifications for this page. Allow them in the browser's site settings, then turn this on again.</p>}
    </>
  )
}
