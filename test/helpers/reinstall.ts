// A contact who "reinstalls": a new account (new identity key) that writes to the mailbox the old
// install used. It needs a session start for the other side, so it answers one of that side's
// unanswered invites (the only place its prekeys are published), and every envelope it seals for
// the invite's mailbox is moved, unchanged inside, into the old contact mailbox.
import { join } from 'node:path'
import { Device } from '../../src/e2ee/device.ts'
import type { Database } from '../../src/store/db.ts'
import { openEnvelope, sealEnvelope } from '../../src/wire/envelope.ts'
import { decodeInvite, linkToInvite } from '../../src/wire/invite.ts'
import type { Payload } from '../../src/wire/payload.ts'

export interface Mailbox { readonly mailboxId: Uint8Array, readonly mailboxKey: Uint8Array }

/** A contact's mailbox as a store holds it: mine (they write there) or theirs (I write there). */
export function mailboxOf (db: Database, contactId: string, side: 'my' | 'their'): Mailbox {
  const r = db.prepare(`SELECT ${side}_mailbox_id AS id, ${side}_mailbox_key AS key FROM contacts WHERE id = ?`).get([contactId])
  if (r === undefined) throw new Error('no such contact')
  return { mailboxId: r.id as Uint8Array, mailboxKey: r.key as Uint8Array }
}

/** The same sealed content, moved from the mailbox `fromKey` opens to `to`. */
export function rewrap (envelope: Uint8Array, fromKey: Uint8Array, to: Mailbox): Uint8Array {
  const inner = openEnvelope(envelope, fromKey)
  return sealEnvelope({ mailboxId: to.mailboxId, mailboxKey: to.mailboxKey, innerType: inner.innerType, body: inner.body })
}

export interface Reinstalled {
  readonly device: Device
  /** Its contact card, the first envelope of the new install, in the old mailbox. */
  readonly first: Uint8Array
  /** Seals a payload in the new session and puts it in the old mailbox. */
  readonly seal: (payload: Payload) => Promise<Uint8Array>
}

/** A new account in `dir`/`name` answering `invite` (the other side's, unanswered) and writing to `into`. */
export async function reinstall (dir: string, name: string, invite: string, into: Mailbox, card: { relays: string[], addresses: string[] } = { relays: [], addresses: [] }): Promise<Reinstalled> {
  const device = await Device.create(join(dir, name), { name: 'Reinstalled' })
  const inviteKey = decodeInvite(linkToInvite(invite)).record.mailboxKey
  const accepted = await device.acceptInvite(invite, { card })
  return {
    device,
    first: rewrap(accepted.envelope, inviteKey, into),
    seal: async (payload) => rewrap(await device.seal(accepted.contact.id, payload), inviteKey, into)
  }
}
