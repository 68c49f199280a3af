// Desktop notifications: off by default; turning them on asks the browser's permission (the only time
// this page asks); the message text is shown only when the person chose that, as a notification can
// be read over their shoulder or on a locked screen. The choice is kept in this browser's storage.
const KEY = '0m1-notifications'

export interface NotifyChoice { on: boolean, showText: boolean }

export function loadNotifyChoice (): NotifyChoice {
  try {
    const v = JSON.parse(localStorage.getItem(KEY) ?? '{}') as Partial<NotifyChoice>
    return { on: v.on === true, showText: v.showText === true }
  } catch { return { on: false, showText: false } }
}

export function saveNotifyChoice (c: NotifyChoice): void { localStorage.setItem(KEY, JSON.stringify(c)) }

export function notificationsSupported (): boolean { return typeof window.Notification === 'function' }

/** Asks the browser for permission when it has not been asked yet; true when notifications may be shown. */
export async function askPermission (): Promise<boolean> {
  if (!notificationsSupported()) return false
  if (Notification.permission === 'default') await Notification.requestPermission()
  return Notification.permission === 'granted'
}

/** One notification for an incoming message; its sender and text only when `showText`. A click
 * brings this tab forward and runs `onClick` (opening the conversation). */
export function notifyMessage (choice: NotifyChoice, from: string, text: string, tag: string, onClick: () => void): void {
  if (!choice.on || !notificationsSupported() || Notification.permission !== 'granted') return
  const n = choice.showText ? new Notification(from, { body: text, tag }) : new Notification('0message1', { body: 'New message', tag })
  n.onclick = () => { window.focus(); onClick(); n.close() }
}

/** "(3) 0message1" while messages are unread. */
export function tabTitle (unread: number): string {
  return unread > 0 ? `(${unread}) 0message1` : '0message1'
}
