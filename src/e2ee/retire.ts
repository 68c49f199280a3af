// The invite's mailbox after the handshake (inviter side). Its id and key were in the invite, so the
// contact moves to a fresh mailbox announced in my first card; the old one keeps being drained until the
// contact is seen on the new one plus a grace, is then no longer fetched once empty, and its key still
// opens late copies (sealed before the switch, re-sent until their receipt) for as long as a sender retries.
import type { ContactRow, RetiredMailbox } from '../store/contacts.ts'
import type { DeviceContext } from './context.ts'

/** After the contact was first seen on its fresh mailbox, the invite's one is still fetched this long: copies
 * deposited there before the switch (by a contact offline for a while) are taken in that time. */
export const RETIRED_FETCH_GRACE_MS = 24 * 3600_000
/** The retired key still opens envelopes this long after the switch: a sender re-sends the same sealed bytes
 * until the receipt comes, for up to 30 days (the messenger's MESSAGE_TTL_MS, the relays' expiry). */
export const RETIRED_KEEP_MS = 30 * 24 * 3600_000

/** fetch: keep a session open; fetch-until-empty: stop once a drain comes back empty; open-only: not fetched,
 * key kept; gone: forget it. */
export type RetiredState = 'fetch' | 'fetch-until-empty' | 'open-only' | 'gone'

export function retiredState (r: RetiredMailbox, now: number): RetiredState {
  if (r.switchedAt === undefined) return 'fetch'
  if (now >= r.switchedAt + RETIRED_KEEP_MS) return 'gone'
  if (!r.fetching) return 'open-only'
  return now < r.switchedAt + RETIRED_FETCH_GRACE_MS ? 'fetch' : 'fetch-until-empty'
}

function update (ctx: DeviceContext, c: ContactRow, retired: RetiredMailbox | undefined): void {
  const next: { -readonly [K in keyof ContactRow]: ContactRow[K] } = { ...c }
  if (retired === undefined) delete next.retired
  else next.retired = retired
  ctx.cacheContact(next)
}

/** An envelope opened at the contact's current mailbox: the contact has my card, the switch is done. */
export function noteSwitch (ctx: DeviceContext, contactId: string, mailboxHex: string): void {
  const c = ctx.contactCache.get(contactId)
  if (c?.retired === undefined || c.retired.switchedAt !== undefined) return
  if (Buffer.from(c.myMailboxId).toString('hex') !== mailboxHex) return
  const at = ctx.now()
  const retired = c.retired
  // Joins the batch of envelopes being opened, if one is open (written in its commit, cached after it).
  ctx.stores.defer(() => { ctx.contactRepo.setSwitched(c.id, at) }, () => {
    const now = ctx.contactCache.get(contactId) ?? c
    update(ctx, now, { ...retired, switchedAt: at })
  })
}

/** The messenger found the retired mailbox empty on every relay after the grace: stop fetching it. */
export function retiredDrained (ctx: DeviceContext, contactId: string): void {
  const c = ctx.contactCache.get(contactId)
  if (c?.retired === undefined || retiredState(c.retired, ctx.now()) !== 'fetch-until-empty') return
  ctx.contactRepo.stopFetchingRetired(c.id)
  update(ctx, c, { ...c.retired, fetching: false })
}

/** Forgets retired mailboxes whose keep time is over (at open, and whenever the mailboxes are listed). */
export function dropExpiredRetired (ctx: DeviceContext): void {
  const now = ctx.now()
  for (const c of [...ctx.contactCache.values()]) {
    if (c.retired === undefined || retiredState(c.retired, now) !== 'gone') continue
    ctx.contactRepo.dropRetired(c.id)
    update(ctx, c, undefined)
    ctx.logger.info('mailbox.retired-dropped')
  }
}
