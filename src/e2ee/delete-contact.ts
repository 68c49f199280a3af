// Issue 13: deleting a contact. Its row goes (with its conversation, messages, outbox and key changes, by
// ON DELETE CASCADE), its libsignal session and pinned identity go, and its mailboxes (current and retired)
// are no longer listed: the messenger closes their relay sessions, nothing fetches them again, and what the
// relays still hold for them expires there (MAILBOX_RETENTION_MS). An envelope that arrives later is for a
// mailbox this device does not own (UNKNOWN_MAILBOX) and is dropped.
import { toHex } from '../wire/bytes.ts'
import type { DeviceContext } from './context.ts'

/** Run inside ctx.serial: an envelope being opened must not lose its session mid-way. */
export function deleteContact (ctx: DeviceContext, id: string): void {
  const c = ctx.contactRow(id)
  ctx.db.transaction(() => {
    ctx.db.prepare('DELETE FROM contacts WHERE id = ?').run([id])
    ctx.db.prepare('DELETE FROM signal_sessions WHERE address = ?').run([c.address])
    ctx.db.prepare('DELETE FROM signal_identities WHERE address = ?').run([c.address])
  })()
  ctx.stores.forgetAddress(c.address)
  ctx.contactCache.delete(id)
  ctx.forgetMailbox(toHex(c.myMailboxId))
  if (c.retired !== undefined) ctx.forgetMailbox(toHex(c.retired.mailboxId))
  ctx.logger.info('contact.deleted')
}
