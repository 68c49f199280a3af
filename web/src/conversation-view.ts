// The open conversation's marks (web/src/screens/Conversation.tsx), kept apart from React to be tested alone. The
// list is in the node's display order (message-list.ts displayOrder), so a live message can land anywhere in it,
// not only at the end, and `at` (when a message came here) does not grow along it: its day lines go by writtenAt.
import type { MessageView } from './api.ts'
import { writtenAt } from './message-list.ts'

/** A message's name in its conversation (ids are unique per direction only). */
export const messageKey = (m: MessageView): string => `${m.direction}-${m.id}`

/** The messages of `messages` not in `seen` (the keys of the list shown before), in display order: whether I sent
 * one (the view follows it) and the incoming ones (counted, the first marked, while the reader is scrolled up). */
export function newMessages (seen: ReadonlySet<string>, messages: readonly MessageView[]): { mine: boolean, incoming: MessageView[] } {
  const fresh = messages.filter((m) => !seen.has(messageKey(m)))
  return { mine: fresh.some((m) => m.direction === 'out'), incoming: fresh.filter((m) => m.direction === 'in') }
}

/** Where the messages shown when an older page was asked now begin: the index of the first of them (`shown`, their
 * keys in order) still in the list; -1 if none is. Not only the first one shown: it may be removed (deleted here or
 * for everyone) while the page loads, and then the page's messages above the next one are still the older page's,
 * not new ones, and the view stays on what the reader saw. */
export function shownStart (shown: readonly string[], messages: readonly MessageView[]): number {
  const at = new Map(messages.map((m, i) => [messageKey(m), i]))
  for (const k of shown) {
    const i = at.get(k)
    if (i !== undefined) return i
  }
  return -1
}

/** Where the line of a changed safety number goes: before the first message that came after the change, or at the
 * end (-1) if none did. One place, so the line shows once however the times of the messages around it fall. */
export function keyChangeIndex (messages: readonly MessageView[], changedAt: number): number {
  return messages.findIndex((m) => m.at > changedAt)
}

/**
 * Where a day line goes: the indexes of the messages that open a day, by the time the list is ordered by (writtenAt),
 * not `at` (a message written late one evening and fetched the next morning stands among the evening's and took a
 * second line for that evening after it). Only a day later than every one before opens one, so no day shows twice
 * even where a sender's clock went back. `day` names a time's day (the local date).
 */
export function dayLines (messages: readonly MessageView[], day: (ms: number) => string = (ms) => new Date(ms).toDateString()): Map<number, number> {
  const lines = new Map<number, number>()
  let latest = -Infinity
  let latestDay: string | undefined
  messages.forEach((m, i) => {
    const t = writtenAt(m)
    if (t <= latest) return
    latest = t
    const d = day(t)
    if (d !== latestDay) { lines.set(i, t); latestDay = d }
  })
  return lines
}
