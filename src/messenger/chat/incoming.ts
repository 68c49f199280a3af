// Issue 13: what a reply, an edit or a deletion from a contact does to the history, inside the commit of
// the envelope that carried it (MessengerCore #record). A contact's edit or deletion can only reach that
// contact's own messages: it is looked up among the messages that came from them (direction 'in'), so a
// request naming one of mine, or another conversation's, finds nothing and changes nothing.
import type { Logger } from '../../platform/logger.ts'
import type { Payload } from '../../wire/payload.ts'
import type { HistoryStore } from '../history-store.ts'
import type { DeliveryPath, MessageView } from '../types.ts'
import type { ChatMessageRow, ChatStore } from './chat-store.ts'
import { EDIT_WINDOW_MS } from './rules.ts'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

export interface ChatRecorded {
  /** A reply stored (as a new message). */
  readonly stored?: MessageView | undefined
  /** Messages an edit or a deletion changed. */
  readonly changed: MessageView[]
}

/** Undefined for payloads that are not issue 13 kinds. */
export function recordChatPayload (o: { chat: ChatStore, history: HistoryStore, log: Logger }, contactId: string, payload: Payload,
  now: number, path: DeliveryPath): ChatRecorded | undefined {
  switch (payload.kind) {
    case 'reply': {
      const id = hex(payload.id)
      const view = o.history.receive({ contactId, id, seq: payload.seq, text: payload.text, sentAt: payload.sentAt, at: now, path })
      if (view === undefined) return { changed: [] }
      const replyTo = { id: hex(payload.replyTo), quote: payload.quote }
      o.chat.setReply(contactId, 'in', id, replyTo.id, replyTo.quote)
      const after = applyHeldControls(o, contactId, id)
      return { stored: after ?? { ...view, replyTo }, changed: after?.deleted === true ? [after] : [] }
    }
    case 'edit': {
      const id = hex(payload.target)
      const target = o.chat.row(contactId, 'in', id)
      // Not here yet (it may come by another path): held until it is (held-controls.ts).
      if (target === undefined) { o.chat.held.hold(contactId, id, { kind: 'edit', text: payload.text, at: payload.editedAt }, now); return { changed: [] } }
      if (!applyEdit(o, target, payload.text, payload.editedAt)) return { changed: [] }
      const view = o.history.message(contactId, 'in', id)
      return { changed: view === undefined ? [] : [view] }
    }
    case 'delete': {
      const id = hex(payload.target)
      if (!o.chat.markDeleted(contactId, 'in', id, payload.deletedAt)) {
        if (o.chat.row(contactId, 'in', id) === undefined) o.chat.held.hold(contactId, id, { kind: 'delete', at: payload.deletedAt }, now)
        else o.log.debug('delete-ignored')
        return { changed: [] }
      }
      const view = o.history.message(contactId, 'in', id)
      return { changed: view === undefined ? [] : [view] }
    }
    default:
      return undefined
  }
}

/** The edit of a message that is here, if it is not deleted and within the edit window by the sender's times. */
function applyEdit (o: { chat: ChatStore, log: Logger }, target: ChatMessageRow, text: string, editedAt: number): boolean {
  if (target.deleted) { o.log.debug('edit-ignored', { reason: 'deleted' }); return false }
  // The sender's own times: its device refused the edit past the window too; a late one is not shown.
  if (editedAt < target.sentAt || editedAt - target.sentAt > EDIT_WINDOW_MS) {
    o.log.info('edit-refused', { reason: 'window' })
    return false
  }
  return o.chat.edit(target.contactId, 'in', target.id, text, editedAt)
}

/**
 * Applies the edits and deletions that arrived before this just-stored incoming message, in its commit: a deletion
 * wins over any edit. The message's view after them, or undefined when none waited (the caller's view stands).
 */
export function applyHeldControls (o: { chat: ChatStore, history: HistoryStore, log: Logger }, contactId: string, id: string): MessageView | undefined {
  const held = o.chat.held.take(contactId, id)
  if (held.length === 0) return undefined
  const deletion = held.find((c) => c.kind === 'delete')
  if (deletion !== undefined) {
    o.chat.markDeleted(contactId, 'in', id, deletion.at)
  } else {
    const target = o.chat.row(contactId, 'in', id)
    const edit = held.find((c) => c.kind === 'edit')
    if (target !== undefined && edit !== undefined) applyEdit(o, target, edit.text ?? '', edit.at)
  }
  return o.history.message(contactId, 'in', id)
}
