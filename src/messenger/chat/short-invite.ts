// Issue 13: short invite links. The full invite link is sealed (AES-128-GCM, a random key; the parked id as
// associated data) and parked on one of my relays (src/relay/parked-invites.ts); the short link names that
// relay, the id and the key (src/wire/parked-invite.ts). Expanding it fetches and opens the sealed link, which
// is then accepted as any invite: its signature is verified, so the relay can withhold it, never change it.
// What was parked for a pending invite is kept in the settings (inside the encrypted store), so the same
// short link is handed out again, and a revoke removes the parked copy from the relay.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { decodeInvite, linkToInvite } from '../../wire/invite.ts'
import {
  decodeShortLink, encodeShortLink, MAX_SHORT_LINK_CHARS, PARK_ID_BYTES, PARK_KEY_BYTES, PARK_REMOVE_TOKEN_BYTES,
  type ParkAnswer, type ParkRequest
} from '../../wire/parked-invite.ts'
import { WireError } from '../../wire/errors.ts'
import { MessengerError } from '../errors.ts'

const NONCE_BYTES = 12
const TAG_BYTES = 16
const SETTING = (inviteId: string): string => `short-invite:${inviteId}`

export type Park = (relayAddr: string, req: ParkRequest, o?: { signal?: AbortSignal }) => Promise<ParkAnswer>

export interface ShortInviteView { readonly short: string, readonly link: string, readonly expiresAt: number }

interface Parked { readonly short: string, readonly relay: string, readonly id: string, readonly removeToken: string, readonly link: string }

export interface ShortInviteDeps {
  readonly park: Park | undefined
  readonly relays: () => readonly string[]
  readonly setting: (key: string) => string | undefined
  readonly setSetting: (key: string, value: string) => void
}

/** The pending invite's id (its mailbox id, hex), as src/e2ee/pending-invites.ts names it. */
export function inviteIdOf (link: string): string {
  return Buffer.from(decodeInvite(linkToInvite(link)).record.mailboxId).toString('hex')
}

function seal (key: Uint8Array, id: Uint8Array, link: string): Uint8Array {
  const nonce = randomBytes(NONCE_BYTES)
  const c = createCipheriv('aes-128-gcm', key, nonce)
  c.setAAD(id)
  const body = Buffer.concat([c.update(link, 'utf8'), c.final()])
  return Buffer.concat([nonce, body, c.getAuthTag()])
}

function open (key: Uint8Array, id: Uint8Array, sealed: Uint8Array): string {
  const bad = (): MessengerError => new MessengerError('SHORT_INVITE_KEY', 'This short invite link does not open: it was copied wrong or cut short (its key does not match). Copy the whole link again.')
  if (sealed.length < NONCE_BYTES + TAG_BYTES) throw bad()
  try {
    const d = createDecipheriv('aes-128-gcm', key, sealed.subarray(0, NONCE_BYTES))
    d.setAAD(id)
    d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES))
    return Buffer.concat([d.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES)), d.final()]).toString('utf8')
  } catch {
    throw bad()
  }
}

function needPark (park: Park | undefined): Park {
  if (park === undefined) throw new MessengerError('UNSUPPORTED', 'This node cannot reach relays for short invite links.')
  return park
}

/** A short link for a pending invite: the one parked already, else parked now on the first relay that takes it. */
export async function shortInvite (d: ShortInviteDeps, invite: { link: string, expiresAt: number }): Promise<ShortInviteView> {
  const inviteId = inviteIdOf(invite.link)
  const known = d.setting(SETTING(inviteId))
  if (known !== undefined && known !== '') {
    const p = JSON.parse(known) as Parked
    if (p.link === invite.link) return { short: p.short, link: invite.link, expiresAt: invite.expiresAt }
  }
  const park = needPark(d.park)
  const key = randomBytes(PARK_KEY_BYTES)
  const id = randomBytes(PARK_ID_BYTES)
  const removeToken = randomBytes(PARK_REMOVE_TOKEN_BYTES)
  const sealed = seal(key, id, invite.link)
  let refused = false
  for (const relay of d.relays()) {
    let short: string
    try { short = encodeShortLink({ relay, id, key }) } catch { continue }
    if (short.length > MAX_SHORT_LINK_CHARS) continue
    try {
      const a = await park(relay, { op: 'park', id, expiresAt: invite.expiresAt, removeToken, sealed })
      if (a.status !== 'ok') { refused = true; continue }
    } catch {
      continue
    }
    const parked: Parked = { short, relay, id: id.toString('hex'), removeToken: removeToken.toString('hex'), link: invite.link }
    d.setSetting(SETTING(inviteId), JSON.stringify(parked))
    return { short, link: invite.link, expiresAt: invite.expiresAt }
  }
  throw new MessengerError('NO_RELAY', refused
    ? 'None of your relays would keep the short invite; share the full invite link instead.'
    : 'None of your relays could be reached (or their addresses make the link too long); share the full invite link instead.')
}

/** The full invite link behind a short one (then accepted and verified as any invite). */
export async function expandShortInvite (park: Park | undefined, short: string): Promise<string> {
  let ref
  try {
    ref = decodeShortLink(short)
  } catch (err) {
    throw new MessengerError('SHORT_INVITE_KEY', WireError.is(err) ? `${err.message} Copy the whole link again.` : 'This short invite link could not be read.', { cause: err })
  }
  let a: ParkAnswer
  try {
    a = await needPark(park)(ref.relay, { op: 'fetch', id: ref.id })
  } catch (err) {
    if (MessengerError.is(err)) throw err
    throw new MessengerError('NO_RELAY', 'The relay that keeps this short invite could not be reached; try again later, or ask for the full invite link.', { cause: err })
  }
  if (a.status !== 'ok' || a.sealed === undefined) {
    throw new MessengerError('SHORT_INVITE_GONE', 'This short invite link has expired or was revoked; ask for a new invite.')
  }
  return open(ref.key, ref.id, a.sealed)
}

/** A revoked (or answered) invite's parked copy is removed from its relay (best effort: it expires anyway). */
export async function unparkInvite (d: ShortInviteDeps, inviteId: string): Promise<void> {
  const known = d.setting(SETTING(inviteId))
  if (known === undefined || known === '' || d.park === undefined) return
  d.setSetting(SETTING(inviteId), '')
  const p = JSON.parse(known) as Parked
  await d.park(p.relay, { op: 'remove', id: Buffer.from(p.id, 'hex'), removeToken: Buffer.from(p.removeToken, 'hex') }).catch(() => undefined)
}
