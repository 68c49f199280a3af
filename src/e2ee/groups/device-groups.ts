// The Device's group operations (issue 11), each in the device's queue: what the messenger's group manager
// (src/messenger/groups/) calls. Kept apart from device.ts so that file only gains one property.
import { randomBytes } from 'node:crypto'
import { accountIdFromIdentityKey } from '../../identity/account-id.ts'
import { PAYLOAD_ID_BYTES, type Payload } from '../../wire/payload.ts'
import type { DeviceContext, NetworkCardFields } from '../context.ts'
import { E2eeError } from '../errors.ts'
import { encryptFor } from '../seal.ts'
import {
  askCard, changeGroup, contactForAccount, createGroup, groupBook, groupIds, groupInfo, groupLog, groupNetwork, groupPayload, lastSealedForTest,
  memberContacts, metThrough, sealGroupText, tryGroupDecrypt, type ChangesOutcome, type GroupInfo
} from './groups.ts'
import { SenderKeyDistributionMessage, groupEncrypt } from '@signalapp/libsignal-client'
import { INNER_GROUP, sealEnvelope } from '../../wire/envelope.ts'
import { chunkChanges, encodeGroupInner, encodeGroupText, type ChangeOp, type GroupCard } from '../../wire/group.ts'
import { blob } from '../context.ts'
import { signChange } from './membership.ts'
import type { InboundMailbox } from '../device.ts'

import type { FileDescriptor } from '../../wire/file.ts'
export type { GroupInfo, ChangesOutcome, GroupOpened } from './groups.ts'

export type GroupChangeInput =
  | { readonly kind: 'remove', readonly accountIds: readonly string[] }
  | { readonly kind: 'promote', readonly accountId: string }
  | { readonly kind: 'rename', readonly name: string }
  | { readonly kind: 'leave' }

export interface SealedForMember { readonly contactId: string, readonly accountId: string, readonly envelope: Uint8Array }

export class DeviceGroups {
  constructor (private readonly ctx: DeviceContext) {
    groupBook(ctx)
  }

  /** Where I am now, for the group cards this device answers with. */
  setNetwork (fn: () => NetworkCardFields): void {
    groupNetwork.set(this.ctx, fn)
  }

  async create (name: string, net: NetworkCardFields): Promise<{ groupId: string }> {
    return await this.ctx.serial(async () => {
      const { groupId } = await createGroup(this.ctx, name, net)
      return { groupId }
    })
  }

  /** Signs and applies a change of mine; returns its bytes and what it did. */
  async change (groupId: string, input: GroupChangeInput): Promise<{ change: Uint8Array, outcome: ChangesOutcome, before: string[] }> {
    return await this.ctx.serial(async () => {
      const g = groupBook(this.ctx).get(groupId)
      const key = (accountId: string): Uint8Array => {
        const m = g.state.members.get(accountId)
        if (m === undefined) throw new E2eeError('NOT_MEMBER', 'That account is not a member of this group.')
        return m.card.identityKey
      }
      let op: ChangeOp
      switch (input.kind) {
        case 'remove': op = { kind: 'remove', members: input.accountIds.map(key) }; break
        case 'promote': op = { kind: 'promote', member: key(input.accountId) }; break
        case 'rename': op = { kind: 'rename', name: input.name }; break
        case 'leave': op = { kind: 'leave' }; break
      }
      const before = [...g.state.members.keys()]
      const r = await changeGroup(this.ctx, groupId, op)
      return { change: r.change.bytes, outcome: r.outcome, before }
    })
  }

  log (groupId: string): Uint8Array[] {
    return groupLog(this.ctx, groupId)
  }

  info (groupId: string): GroupInfo {
    return groupInfo(this.ctx, groupId)
  }

  ids (): string[] {
    return groupIds(this.ctx)
  }

  members (groupId: string): Array<{ contactId: string, accountId: string }> {
    return memberContacts(this.ctx, groupId)
  }

  contactFor (accountId: string): string | undefined {
    return contactForAccount(this.ctx, accountId)
  }

  accountOf (identityKey: Uint8Array): string {
    return accountIdFromIdentityKey(identityKey)
  }

  metThrough (contactId: string): string | undefined {
    return metThrough(this.ctx, contactId)
  }

  /**
   * Pairwise payloads: a card request to a contact (recorded until `validMs` from now: only its answer makes
   * me sign an add), signed changes (in version order).
   */
  async cardRequest (groupId: string, contactId: string, validMs: number): Promise<Payload> {
    return await this.ctx.serial(async () => {
      const info = groupInfo(this.ctx, groupId)
      const accountId = this.ctx.contactRow(contactId).accountId
      await this.ctx.stores.atomically(async () => { askCard(this.ctx, groupId, accountId, this.ctx.now() + validMs) })
      return groupPayload({ type: 'card-request', groupId: Buffer.from(groupId, 'hex'), name: info.name })
    })
  }

  changesPayload (groupId: string, changes: readonly Uint8Array[]): Payload {
    return groupPayload({ type: 'changes', groupId: Buffer.from(groupId, 'hex'), changes })
  }

  /** Signed changes as as many payloads as they take (a long log does not fit one body), in order. */
  changesPayloads (groupId: string, changes: readonly Uint8Array[]): Payload[] {
    return chunkChanges(changes).map((run) => this.changesPayload(groupId, run))
  }

  /** A group body already encoded (a card reply made while opening a request). */
  bodyPayload (body: Uint8Array): Payload {
    return { kind: 'group', id: new Uint8Array(randomBytes(PAYLOAD_ID_BYTES)), seq: 0, body }
  }

  /**
   * One group text sealed for every member (one groupEncrypt, per member the envelope layer; the sender key
   * with it for members that lack it). `store` (the outbox rows) commits with the sender-key chain step.
   */
  async sealText (groupId: string, text: { id: Uint8Array, seq: number, sentAt: number, text: string, file?: FileDescriptor }, store: (sealed: SealedForMember[]) => void): Promise<SealedForMember[]> {
    const ctx = this.ctx
    return await ctx.serial(async () => await ctx.stores.atomically(async () => await sealGroupText(ctx, groupId, { groupId: Buffer.from(groupId, 'hex'), ...text },
      async (contact, plaintext) => await encryptFor(ctx, contact, ctx.address(contact), plaintext)), store))
  }

  /** My group mailboxes, to fetch from relays (every group I hold a row for, member or waiting to be added). */
  inboundMailboxes (): InboundMailbox[] {
    const out: InboundMailbox[] = []
    for (const g of groupBook(this.ctx).groups.values()) {
      const r = g.row
      out.push({ contactId: `group:${r.id}`, pending: false, mailboxId: r.myMailboxId, publicKey: r.myMailboxPublicKey, sign: this.ctx.signer(r.myMailboxId, r.myMailboxPrivateKey) })
    }
    return out
  }

  /** For tests: the last sender-key message sealed here, and an attempt to open one with this device's whole store. */
  lastSealedForTest (): Uint8Array | undefined {
    return lastSealedForTest.get(this.ctx)
  }

  /** For tests and benchmarks: an add change of mine carrying cards made elsewhere (at most MAX_CARDS_PER_CHANGE). */
  async addCardsForTest (groupId: string, cards: GroupCard[]): Promise<void> {
    await this.ctx.serial(async () => { await changeGroup(this.ctx, groupId, { kind: 'add', cards }) })
  }

  /** For tests: a change signed by me whatever my role (a non-admin's forgery), not applied here. */
  signForTest (groupId: string, op: ChangeOp, o: { parents?: { parents: Uint8Array[], version: number } } = {}): Uint8Array {
    const g = groupBook(this.ctx).get(groupId)
    return signChange({ groupId: Buffer.from(groupId, 'hex'), ...(o.parents ?? g.log.next()), author: this.ctx.identityKeyBytes, at: this.ctx.now(), op }, this.ctx.identity.privateKey).bytes
  }

  /** For tests: a group envelope sealed with my current sender key for one contact, whatever my membership. */
  async forgeTextForTest (groupId: string, contactId: string, text: string): Promise<Uint8Array> {
    const ctx = this.ctx
    return await ctx.serial(async () => await ctx.stores.atomically(async () => {
      const g = groupBook(ctx).get(groupId)
      await SenderKeyDistributionMessage.create(ctx.localAddress, g.row.distributionId, ctx.stores)
      const plain = encodeGroupText({ groupId: Buffer.from(groupId, 'hex'), id: new Uint8Array(randomBytes(16)), seq: 999, sentAt: ctx.now(), text })
      const message = (await groupEncrypt(ctx.localAddress, g.row.distributionId, ctx.stores, blob(plain))).serialize()
      const c = ctx.contactRow(contactId)
      return sealEnvelope({ mailboxId: c.theirMailboxId, mailboxKey: c.theirMailboxKey, innerType: INNER_GROUP, body: encodeGroupInner(ctx.identityKeyBytes, message) })
    }))
  }

  async tryOpenForTest (senderAccountId: string, message: Uint8Array): Promise<string> {
    return await this.ctx.serial(async () => (await tryGroupDecrypt(this.ctx, senderAccountId, message)).text)
  }
}
