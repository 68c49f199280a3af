// Shared wording and formatting of the screens: message states, times, how a contact is reached.
import type { ContactView, MessageView } from './api.ts'
import { writtenAt } from './message-list.ts'

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

/** A message's date and time in full (a bubble's title). */
const fullTime = (ms: number): string => new Date(ms).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' })

/**
 * A message's time on its bubble: when it was written (writtenAt: its sentAt, never after it came here), the time the day lines group it by,
 * so a message written at 23:50 and fetched the next morning shows 23:50 under its own day. The title gives it in
 * full and, when the message came here a minute or more later (held in a mailbox while this device was off), when.
 */
export function bubbleTime (m: { readonly sentAt?: number, readonly at: number }): { label: string, title: string } {
  const written = writtenAt(m)
  const title = `Sent ${fullTime(written)}`
  return { label: time(written), title: m.at - written >= 60_000 ? `${title} · received ${fullTime(m.at)}` : title }
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
