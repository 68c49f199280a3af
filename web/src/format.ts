// Shared wording and formatting of the screens: message states, times, how a contact is reached.
import type { ContactView, MessageView } from './api.ts'

export const STATE_LABEL: Record<MessageView['state'], string> = {
  queued: 'queued',
  sent: 'sent',
  stored: 'on relay',
  delivered: 'delivered',
  read: 'read',
  failed: 'failed'
}

export function time (ms: number): string {
  const d = new Date(ms)
  const today = new Date()
  const sameDay = d.toDateString() === today.toDateString()
  return sameDay ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : d.toLocaleString([], { dateStyle: 'short', timeStyle: 'short' })
}

/** How a contact is reached right now; without a connection, messages wait in the contact's mailbox. */
export function linkLabel (link: ContactView['link']): string {
  if (link === 'hole-punched') return 'direct (hole-punched)'
  if (link === 'direct') return 'direct'
  if (link === 'relayed') return 'relayed'
  return 'not connected (mailbox)'
}

/** The date separator of a conversation: "Today", "Yesterday", or the date. */
export function dayLabel (ms: number): string {
  const d = new Date(ms)
  const today = new Date()
  if (d.toDateString() === today.toDateString()) return 'Today'
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1)
  if (d.toDateString() === yesterday.toDateString()) return 'Yesterday'
  return d.toLocaleDateString([], { weekday: 'short', year: 'numeric', month: 'long', day: 'numeric' })
}
