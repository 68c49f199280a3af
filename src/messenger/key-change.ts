// The messenger's side of a contact's identity key change (issue 14 item 8; the store and the checks
// are src/e2ee/key-change.ts): tell the UI when an envelope under a new key was held, and, once the
// user accepts, open the held envelopes as if they had just arrived. Never accepts by itself.
import { isPermanent } from '../e2ee/errors.ts'
import { IdentityChangedError } from '../e2ee/key-change.ts'
import type { Logger } from '../platform/logger.ts'
import type { Payload } from '../wire/payload.ts'
import type { DevicePort } from './ports.ts'
import type { MessengerEvent } from './types.ts'

export interface KeyChangeHooks {
  readonly device: DevicePort<Payload>
  readonly log: Logger
  /** Opens one envelope as the receive path does (stores it, sends receipts, emits events); the
   * messenger passes path 'mailbox': a held envelope waited in this device's store, whatever brought it. */
  readonly receive: (envelope: Uint8Array) => Promise<void>
  /** Emits a `contact` event with the contact's current view. */
  readonly contactChanged: (contactId: string) => void
  readonly emit: (event: MessengerEvent) => void
}

export class KeyChanges {
  readonly #o: KeyChangeHooks
  /** Contacts whose held envelopes are being opened (one run per contact at a time). */
  readonly #opening = new Set<string>()

  constructor (o: KeyChangeHooks) {
    this.#o = o
  }

  /** Called with every error of the receive path: an envelope held under a new key updates the contact. */
  refused (err: unknown): void {
    if (!(err instanceof IdentityChangedError)) return
    const c = this.#o.device.contact(err.contactId)
    if (c === undefined) return
    this.#o.contactChanged(c.id)
    if (err.fresh) {
      this.#o.emit({
        type: 'warning',
        contactId: c.id,
        text: `${c.name}'s safety number changed: they reinstalled, or someone else is writing as them. Their messages are held until you compare the new safety number and accept or block it.`
      })
    }
  }

  /** `expected`: the pending safety number the user compared; the device refuses (KEY_CHANGE_MOVED) if the key moved since. */
  async accept (contactId: string, expected: string): Promise<void> {
    await this.#o.device.acceptKeyChange(contactId, expected)
    this.#o.log.info('key-change-accepted')
    await this.openHeld(contactId)
  }

  async block (contactId: string, expected: string): Promise<void> {
    await this.#o.device.blockKeyChange(contactId, expected)
    this.#o.log.info('key-change-blocked')
  }

  /** At start: held envelopes of a key accepted just before a crash or stop are opened now. */
  async resume (): Promise<void> {
    for (const c of this.#o.device.contacts()) {
      if (c.keyChange?.state === 'accepted' && c.keyChange.held > 0) await this.openHeld(c.id)
    }
  }

  /** Opens what was held under the accepted key, oldest first; forgets them once each is stored or can never open. */
  async openHeld (contactId: string): Promise<void> {
    if (this.#opening.has(contactId)) return
    this.#opening.add(contactId)
    try {
      const held = this.#o.device.acceptedHeld(contactId)
      for (const envelope of held) {
        try {
          await this.#o.receive(envelope)
        } catch (err) {
          // A store failure keeps them all for the next start; a message that can never open is dropped.
          if (!isPermanent(err)) {
            this.#o.log.warn('held-envelope-kept', { error: err instanceof Error ? err.name : typeof err })
            return
          }
        }
      }
      if (held.length > 0) this.#o.device.releaseHeld(contactId)
    } finally {
      this.#opening.delete(contactId)
      this.#o.contactChanged(contactId)
    }
  }
}
