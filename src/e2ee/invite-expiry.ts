// Unanswered invites end: once an invite's first message would be refused anyway (its expiry plus
// PENDING_INVITE_GRACE_MS), its one-time EC and Kyber prekeys, its pending row and its mailbox keys
// are deleted, and its mailbox is no longer listed, so the messenger closes its relay sessions.
import type { PendingInvite } from '../store/contacts.ts'
import { toHex } from '../wire/bytes.ts'
import type { DeviceContext } from './context.ts'
import { PENDING_INVITE_GRACE_MS } from './seal.ts'

/** The last moment the invite's first message is still accepted (seal.ts); after it the invite is purged. */
export function inviteDeadline (p: PendingInvite): number {
  return p.expiresAt + PENDING_INVITE_GRACE_MS
}

export function inviteOver (p: PendingInvite, now: number): boolean {
  return now > inviteDeadline(p)
}

/** Deletes every pending invite past its deadline; returns how many. Run it inside ctx.serial (or
 * before anything else runs, at open): an envelope being opened must not lose its prekey mid-way. */
export function purgeExpiredInvites (ctx: DeviceContext): number {
  const now = ctx.now()
  const over = ctx.contactRepo.pending().filter((p) => inviteOver(p, now))
  if (over.length === 0) return 0
  ctx.db.transaction(() => {
    for (const p of over) {
      ctx.db.prepare('DELETE FROM signal_prekeys WHERE id = ?').run([p.preKeyId])
      // The account's last-resort Kyber prekey is shared by every invite; only the invite's own one goes.
      ctx.db.prepare('DELETE FROM signal_kyber_prekeys WHERE id = ? AND last_resort = 0').run([p.kyberPreKeyId])
      ctx.contactRepo.deletePending(p.mailboxId)
    }
  })()
  for (const p of over) ctx.forgetMailbox(toHex(p.mailboxId))
  ctx.logger.info('invite.expired', { count: over.length })
  return over.length
}
