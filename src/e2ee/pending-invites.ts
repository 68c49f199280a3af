// Issue 13: invites the user has handed out and nobody answered yet. One pending invite is handed out
// again (the same link) until it is answered or about to expire, so asking for "my invite" twice does not
// spend a second one-time prekey and mailbox; each can be listed and revoked. Revoking deletes what
// invite-expiry.ts deletes at the deadline: its one-time EC and Kyber prekeys, its pending row and its
// mailbox keys; its mailbox is then no longer listed, so the messenger closes its relay sessions.
import type { PendingInvite } from '../store/contacts.ts'
import { toHex } from '../wire/bytes.ts'
import type { DeviceContext } from './context.ts'
import { E2eeError } from './errors.ts'
import { inviteOver } from './invite-expiry.ts'

/** A pending invite is handed out again only while it has at least this long to live: a link that expires
 * minutes after it was passed on would reach its reader dead. */
export const INVITE_REUSE_MIN_REMAINING_MS = 24 * 3600_000

export interface PendingInviteView {
  /** The invite's mailbox id (hex): names it for revoke; public only to whoever holds the link. */
  readonly id: string
  readonly createdAt: number
  readonly expiresAt: number
  /** The link, for invites made since it is kept (store migration 8). */
  readonly link?: string
}

function linkOf (ctx: DeviceContext, p: PendingInvite): string | undefined {
  const r = ctx.db.prepare('SELECT link FROM pending_invites WHERE mailbox_id = ?').get([Buffer.from(p.mailboxId)])
  return typeof r?.link === 'string' ? r.link : undefined
}

/** Unanswered invites still open, oldest first. */
export function pendingInvites (ctx: DeviceContext): PendingInviteView[] {
  ctx.alive()
  const now = ctx.now()
  return ctx.contactRepo.pending().filter((p) => !inviteOver(p, now) && p.expiresAt > now).map((p) => {
    const link = linkOf(ctx, p)
    return { id: toHex(p.mailboxId), createdAt: p.createdAt, expiresAt: p.expiresAt, ...(link === undefined ? {} : { link }) }
  })
}

/** The newest pending invite worth handing out again (its link kept, long enough to live), if any. */
export function reusableInvite (ctx: DeviceContext): { link: string, expiresAt: number } | undefined {
  const now = ctx.now()
  const open = pendingInvites(ctx).filter((p) => p.link !== undefined && p.expiresAt - now >= INVITE_REUSE_MIN_REMAINING_MS)
  const newest = open.at(-1)
  return newest?.link === undefined ? undefined : { link: newest.link, expiresAt: newest.expiresAt }
}

/** Deletes one pending invite and its keys; an answer to it is then refused (UNKNOWN_MAILBOX). */
export function revokeInvite (ctx: DeviceContext, id: string): void {
  ctx.alive()
  const p = ctx.contactRepo.pending().find((x) => toHex(x.mailboxId) === id)
  if (p === undefined) throw new E2eeError('UNKNOWN_INVITE', 'There is no pending invite with that id; it may have been answered, revoked or expired.')
  ctx.db.transaction(() => {
    ctx.db.prepare('DELETE FROM signal_prekeys WHERE id = ?').run([p.preKeyId])
    // The account's last-resort Kyber prekey is shared by every invite; only the invite's own one goes.
    ctx.db.prepare('DELETE FROM signal_kyber_prekeys WHERE id = ? AND last_resort = 0').run([p.kyberPreKeyId])
    ctx.contactRepo.deletePending(p.mailboxId)
  })()
  ctx.forgetMailbox(id)
  ctx.logger.info('invite.revoked')
}
