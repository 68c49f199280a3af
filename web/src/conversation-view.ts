// The open conversation's marks (web/src/screens/Conversation.tsx), kept apart from React to be tested alone. The
// list is in the node's display order (message-list.ts displayOrder), so a live message can land anywhere in it,
// not only at the end, and `at` (when a message came here) does not grow along it.
import type { MessageView } from './api.ts'

/** A message's name in its conversation (ids are unique per direction only). */
export const messageKey = (m: MessageView): string => `${m.direction}-${m.id}`

/** The messages of `messages` not in `seen` (the keys of the list shown before), in display order: whether I sent
 * one (the view follows it) and the incoming ones (counted, the first marked, while the reader is scrolled up). */
export function newMessages (seen: ReadonlySet<string>, messages: readonly MessageView[]): { mine: boolean, incoming: MessageView[] } {
  const fresh = messages.filter((m) => !seen.has(messageKey(m)))
  return { mine: fresh.some((m) => m.direction === 'out'), incoming: fresh.filter((m) => m.direction === 'in') }
}

/** Where the line of a changed safety number goes: before the first message that came after the change, or at the
 * end (-1) if none did. One place, so the line shows once however the times of the messages around it fall. */
export function keyChangeIndex (messages: readonly MessageView[], changedAt: number): number {
  return messages.findIndex((m) => m.at > changedAt)
}
