// What the messenger needs from the layers below it, as narrow interfaces: the real Device (e2ee)
// and DeviceNode (net) satisfy them structurally, and unit tests can pass doubles.
import type { DeliveryPath } from './types.ts'
import type { GroupOpened } from '../e2ee/groups/device-groups.ts'

export interface ContactLocation {
  readonly peerId?: string | undefined
  readonly addresses: readonly string[]
  readonly relays: readonly string[]
}

export interface InboundMailbox {
  readonly contactId: string
  readonly mailboxId: Uint8Array
  readonly publicKey: Uint8Array
  readonly sign: (challenge: Uint8Array) => Uint8Array
  /** An answered invite's mailbox being retired: once a drain finds it empty on every relay, tell the device. */
  readonly stopWhenEmpty?: boolean
}

export interface MailboxSessionPort {
  fetch: () => Promise<Array<{ id: Uint8Array, envelope: Uint8Array }>>
  ack: (ids: Uint8Array[]) => Promise<unknown>
  /** The callback's promise, if any, is awaited before the session fetches its next page of new items. */
  /** Fetches start again from the oldest item still on the relay (items kept after a failure come back). */
  rewind?: () => void
  onPush: (cb: (item: { id: Uint8Array, envelope: Uint8Array }) => unknown) => void
  /** Called once when the session ends (relay gone, or its short-lived identity was replaced). */
  onClose?: (cb: (err?: Error) => void) => void
  close: () => Promise<void>
}

export interface NetworkPort {
  readonly peerId: string
  addresses: () => string[]
  /**
   * `info.ackReceipt`: the envelope came on a stream whose ack can be its delivered receipt (/0m1/deliver/2.1.0). The
   * handler resolves true when the envelope counts as delivered and the ack is to say so (then no sealed receipt).
   * `info.remotePeer`: the authenticated peer id of the connection it came on (who sent these bytes).
   */
  onEnvelope: (h: (envelope: Uint8Array, info: { path: 'direct' | 'relayed', ackReceipt: boolean, remotePeer: string }) => Promise<boolean>) => void
  /**
   * `onSent` is called with the path the envelope is going out on, before its bytes are written: the receiver's
   * receipt can come back before the ack that resolves this promise, and then it is the only way to know the path.
   * `delivered`: the ack was the receiver's delivered receipt (end-to-end authenticated by the connection's Noise
   * session with the peer id the contact's own card gave).
   */
  deliver: (to: { peerId: string, addresses: string[] }, envelope: Uint8Array, o: { signal?: AbortSignal, onSent?: (path: 'direct' | 'relayed') => void }) => Promise<DeliverOutcome>
  deposit: (relayAddr: string, mailboxId: Uint8Array, envelope: Uint8Array, o?: { signal?: AbortSignal }) => Promise<void>
  openMailbox: (relayAddr: string, box: InboundMailbox) => Promise<MailboxSessionPort>
  publishPresence?: (key: Uint8Array, value: Uint8Array, o?: { signal?: AbortSignal }) => Promise<void>
  lookupPresence?: (key: Uint8Array, o?: { signal?: AbortSignal }) => Promise<Uint8Array | undefined>
}

export type { DeliveryPath }

/** What a network delivery came to: its path, and whether the ack was the delivered receipt. */
export interface DeliverOutcome { readonly path: 'direct' | 'relayed', readonly delivered: boolean }

/** The contact as the e2ee layer keeps it (src/e2ee/device.ts ContactRecord). */
export interface ContactPort {
  readonly id: string
  readonly name: string
  readonly accountId: string
  readonly verified: boolean
  readonly theirMailboxId: Uint8Array
  readonly theirRelays: readonly string[]
  readonly theirPeerId?: string | undefined
  readonly theirAddresses: readonly string[]
  readonly theirPresenceSecret?: Uint8Array | undefined
  readonly myPresenceSecret: Uint8Array
  readonly keyChange?: { readonly at: number, readonly state: 'pending' | 'accepted' | 'blocked', readonly held: number, readonly decidedAt?: number } | undefined
}

export interface CardInput {
  readonly relays: string[]
  readonly addresses: string[]
  readonly peerId?: string
}

/** `group`: what a group body or group envelope did (issue 11, src/e2ee/groups/). */
export interface OpenedPort<P> { contact: ContactPort, payload: P, newContact: boolean, group?: GroupOpened }

export interface DeviceBatchPort<P> {
  open: (envelope: Uint8Array, o?: { store?: (opened: { contactId: string, payload: P, group?: GroupOpened }) => void }) => Promise<OpenedPort<P>>
  seal: (contactId: string, payload: P, o?: { store?: (envelope: Uint8Array) => void }) => Promise<Uint8Array>
}

/** What the messenger needs of the account (src/e2ee/device.ts Device). */
export interface DevicePort<P = unknown> {
  readonly accountId: string
  displayName: () => string
  createInvite: (o: { relays: string[], addresses: string[], peerId?: string, expiresInMs?: number }) => Promise<{ link: string, expiresAt: number }>
  acceptInvite: (link: string, o: { name?: string, card: CardInput }) => Promise<{ contact: ContactPort, envelope: Uint8Array }>
  /** `o.store` runs inside the transaction that commits the ratchet step (see Device.seal). */
  seal: (contactId: string, payload: P, o?: { store?: (envelope: Uint8Array) => void }) => Promise<Uint8Array>
  /** `o.store` runs inside the transaction that commits the session change (see Device.openEnvelope). */
  openEnvelope: (envelope: Uint8Array, o?: { store?: (opened: { contactId: string, payload: P }) => void }) => Promise<OpenedPort<P>>
  /** Opens and seals in one commit, each operation a savepoint (see Device.batch). */
  batch: <T>(fn: (b: DeviceBatchPort<P>) => Promise<T>, extra?: (result: T) => void) => Promise<T>
  /** The envelope would create a contact (first message of an answered invite): batch it alone. */
  startsContact: (envelope: Uint8Array) => boolean
  myCard: (contactId: string, o: CardInput) => P
  safetyNumber: (contactId: string) => { digits: string, scannable: string }
  contacts: () => ContactPort[]
  contact: (id: string) => ContactPort | undefined
  setVerified: (contactId: string, v: boolean) => void
  renameContact: (id: string, name: string) => void
  /** Identity key changes (src/e2ee/key-change.ts): compare, accept, block, and the held envelopes of an accepted key. */
  pendingSafetyNumber: (contactId: string) => { digits: string, scannable: string, at: number, held: number }
  /** `expected`: the pending safety number's digits the user compared (E2eeError KEY_CHANGE_MOVED when it is not the pending one). */
  acceptKeyChange: (contactId: string, expected: string) => Promise<void>
  blockKeyChange: (contactId: string, expected: string) => Promise<void>
  acceptedHeld: (contactId: string) => Uint8Array[]
  releaseHeld: (contactId: string) => void
  inboundMailboxes: () => InboundMailbox[]
  /** The retired mailbox of a contact was found empty on every relay: stop listing it. */
  retiredDrained: (contactId: string) => void
  /** My presence record for a contact (sealed and signed with my per-contact keys). */
  sealPresence: (contactId: string, day: number, p: { peerId: string, addresses: readonly string[], updatedAt: number }) => Uint8Array
  /** A contact's presence record, checked (their keys, clock skew, their known peer id); throws when refused. */
  openPresence: (contactId: string, day: number, sealed: Uint8Array) => { peerId: string, addresses: readonly string[], updatedAt: number }
  close: () => void
  // Issue 13 (src/e2ee/delete-contact.ts, pending-invites.ts); optional so unit-test doubles need not have them.
  deleteContact?: (id: string) => Promise<void>
  pendingInvites?: () => Array<{ id: string, createdAt: number, expiresAt: number, link?: string }>
  reusableInvite?: () => { link: string, expiresAt: number } | undefined
  revokeInvite?: (id: string) => Promise<void>
}
