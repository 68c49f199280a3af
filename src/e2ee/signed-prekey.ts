// Signed prekey rotation. Invites carry the account's current signed prekey; a new one is made once the
// current one is SIGNED_PREKEY_ROTATION_MS old, and a replaced one is kept until no invite that named it
// can still be answered (libsignal needs it to open that invite's first PreKey message), then deleted.
import { PrivateKey, SignedPreKeyRecord } from '@signalapp/libsignal-client'
import type { AccountRow } from '../store/account.ts'
import { blob, type DeviceContext } from './context.ts'
import { MAX_INVITE_LIFETIME_MS } from './invites.ts'
import { PENDING_INVITE_GRACE_MS } from './seal.ts'

/** Signal rotates its signed prekey every few days to weeks; a week bounds how many invites share one
 * (a leaked signed prekey weakens only the first messages of the invites that named it). */
export const SIGNED_PREKEY_ROTATION_MS = 7 * 24 * 3600_000
/** A replaced signed prekey stays this long: an invite made just before the rotation lives at most
 * MAX_INVITE_LIFETIME_MS, and its first message is accepted PENDING_INVITE_GRACE_MS after that. */
export const SIGNED_PREKEY_GRACE_MS = MAX_INVITE_LIFETIME_MS + PENDING_INVITE_GRACE_MS

interface Held { readonly id: number, readonly timestamp: number }

function held (ctx: DeviceContext): Held[] {
  return ctx.db.prepare('SELECT id, record FROM signal_signed_prekeys ORDER BY id').all()
    .map((r) => ({ id: r.id as number, timestamp: SignedPreKeyRecord.deserialize(blob(r.record as Uint8Array)).timestamp() }))
}

/** Rotates the signed prekey when it is due and deletes replaced ones past their grace. Run inside
 * ctx.serial (or at open, before anything else runs). */
export function maintainSignedPreKeys (ctx: DeviceContext): { rotated: boolean, deleted: number } {
  const now = ctx.now()
  return ctx.db.transaction(() => {
    const account = ctx.accounts.get() as AccountRow
    let keys = held(ctx)
    const current = keys.find((k) => k.id === account.signedPreKeyId)
    let rotated = false
    if (current === undefined || now - current.timestamp >= SIGNED_PREKEY_ROTATION_MS) {
      // Ids only grow (one a week: u32 lasts), so a key's successor is the next id.
      const id = Math.max(0, ...keys.map((k) => k.id)) + 1
      const k = PrivateKey.generate()
      const record = SignedPreKeyRecord.new(id, now, k.getPublicKey(), k, ctx.identity.privateKey.sign(k.getPublicKey().serialize()))
      ctx.db.prepare('INSERT INTO signal_signed_prekeys (id, record) VALUES (?, ?)').run([id, record.serialize()])
      ctx.accounts.setSignedPreKeyId(id)
      keys = [...keys, { id, timestamp: now }]
      rotated = true
    }
    const currentId = rotated ? (keys[keys.length - 1] as Held).id : account.signedPreKeyId
    let deleted = 0
    keys.forEach((k, i) => {
      const successor = keys[i + 1]
      if (k.id === currentId || successor === undefined || now < successor.timestamp + SIGNED_PREKEY_GRACE_MS) return
      ctx.db.prepare('DELETE FROM signal_signed_prekeys WHERE id = ?').run([k.id])
      // The last-resort Kyber replay records name the signed prekey; with it gone they can never match.
      ctx.db.prepare('DELETE FROM signal_kyber_used WHERE signed_prekey_id = ?').run([k.id])
      deleted++
    })
    if (rotated) ctx.logger.info('signed-prekey.rotated')
    if (deleted > 0) ctx.logger.info('signed-prekey.deleted', { count: deleted })
    return { rotated, deleted }
  })()
}
