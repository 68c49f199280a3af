// The membership of a group as a function of the SET of signed changes a device holds (issue 11).
// Merge rule (docs/protocol.md §10.3): sort the changes by (version, SHA-256 of their bytes); fold them
// from an empty state; a change takes effect only if, at its turn, its author may make it (create: the
// first; leave: any member, for itself; everything else: a current admin). Since the state depends only
// on the set, every member holding the same changes has the same membership, whatever order they came in.
// Known gap (docs/protocol.md §10.3, docs/threat-model.md): versions carry no causality, so a removed admin can
// sign a new change with a version <= its removal's and undo it; a receiver-side refusal would depend on arrival
// order and make members diverge, so none is applied here.
import { createHash } from 'node:crypto'
import { PrivateKey, PublicKey } from '@signalapp/libsignal-client'
import { accountIdFromIdentityKey } from '../../identity/account-id.ts'
import { WireError } from '../../wire/errors.ts'
import {
  CHANGE_SIGNATURE_CONTEXT, GROUP_ID_BYTES, decodeChange, encodeChangeBody, signedChangeBytes, type ChangeBody, type GroupCard, type SignedChange
} from '../../wire/group.ts'
import { E2eeError } from '../errors.ts'

export interface Member {
  readonly accountId: string
  readonly card: GroupCard
  readonly admin: boolean
}

export interface GroupState {
  readonly name: string
  /** By account id. */
  readonly members: ReadonlyMap<string, Member>
  /** The highest version among effective changes (the next change takes this + 1). */
  readonly version: number
  /** Hex hashes of the changes that took effect. */
  readonly effective: ReadonlySet<string>
}

export const EMPTY_STATE: GroupState = { name: '', members: new Map(), version: 0, effective: new Set() }

export type ChangeRefusal = 'bad-signature' | 'malformed' | 'not-admin' | 'replayed' | 'unknown-group' | 'other-group' | 'second-create'

const enc = new TextEncoder()
const b = (x: Uint8Array): Uint8Array<ArrayBuffer> => x as Uint8Array<ArrayBuffer>

export function changeHash (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

function signedMessage (body: Uint8Array): Uint8Array<ArrayBuffer> {
  const ctx = enc.encode(CHANGE_SIGNATURE_CONTEXT)
  const out = new Uint8Array(ctx.length + body.length)
  out.set(ctx)
  out.set(body, ctx.length)
  return out
}

/**
 * The group id a create binds itself to: the first 16 bytes of SHA-256 of the create's body encoded with an
 * all-zero group id (docs/protocol.md §10.3). One group id then has exactly one possible create: nobody (a member
 * or any contact who knows the id) can sign a second create for it and take the group over.
 */
export function groupIdFor (create: Omit<ChangeBody, 'groupId'>): Uint8Array {
  const raw = encodeChangeBody({ ...create, groupId: new Uint8Array(GROUP_ID_BYTES) })
  return new Uint8Array(createHash('sha256').update(raw).digest().subarray(0, GROUP_ID_BYTES))
}

/** Signs a change with the author's identity key (XEdDSA, libsignal). */
export function signChange (body: ChangeBody, identity: PrivateKey): SignedChange {
  const raw = encodeChangeBody(body)
  const signature = identity.sign(signedMessage(raw))
  return { ...body, signature, bytes: signedChangeBytes(raw, signature) }
}

/**
 * Decodes and checks the signature against the change's own author key; throws E2eeError BAD_PAYLOAD.
 * `stored`: a change read back from this device's own log, admitted before; a create there may predate the
 * group id binding (groups made before it kept random ids) and must not stop the device from opening.
 */
export function verifyChange (bytes: Uint8Array, o: { stored?: boolean } = {}): SignedChange {
  let c: ReturnType<typeof decodeChange>
  try {
    c = decodeChange(bytes)
  } catch (err) {
    throw new E2eeError('BAD_PAYLOAD', `The group change is not valid: ${WireError.is(err) ? err.message : 'unreadable'}`, { cause: err })
  }
  let ok = false
  try {
    ok = PublicKey.deserialize(b(c.author)).verify(signedMessage(c.body), b(c.signature))
  } catch {
    ok = false
  }
  if (!ok) throw new E2eeError('BAD_SENDER', 'The group change is not signed by its author.')
  // The creator's card must be its own: a create naming another identity would make a stranger its admin.
  if (c.op.kind === 'create' && !Buffer.from(c.op.card.identityKey).equals(c.author)) {
    throw new E2eeError('BAD_PAYLOAD', 'A group creation must carry its author\'s own card.')
  }
  if (c.op.kind === 'create' && o.stored !== true && !Buffer.from(groupIdFor(c)).equals(c.groupId)) {
    throw new E2eeError('BAD_PAYLOAD', 'A group creation must carry the group id derived from it.')
  }
  return c
}

interface Sortable { readonly version: number, readonly hash: string, readonly change: SignedChange }

/** The deterministic order of the merge: version, then hash. */
export function sortChanges (changes: Iterable<SignedChange>): Sortable[] {
  return [...changes].map((change) => ({ version: change.version, hash: changeHash(change.bytes), change }))
    .sort((x, y) => x.version - y.version || (x.hash < y.hash ? -1 : x.hash > y.hash ? 1 : 0))
}

/** Folds a set of verified changes into the group's state (see the merge rule above). */
export function foldChanges (changes: Iterable<SignedChange>): GroupState {
  const members = new Map<string, Member>()
  const effective = new Set<string>()
  let name = ''
  let version = 0
  let created = false
  for (const { hash, change } of sortChanges(changes)) {
    const author = accountIdFromIdentityKey(change.author)
    const me = members.get(author)
    const op = change.op
    let applies: boolean
    if (op.kind === 'create') applies = !created && change.version === 1
    else if (!created) applies = false
    else if (op.kind === 'leave') applies = me !== undefined
    else applies = me?.admin === true
    if (!applies) continue
    switch (op.kind) {
      case 'create':
        created = true
        name = op.name
        members.set(author, { accountId: author, card: op.card, admin: true })
        break
      case 'add':
        for (const card of op.cards) {
          const id = accountIdFromIdentityKey(card.identityKey)
          const prior = members.get(id)
          members.set(id, { accountId: id, card, admin: prior?.admin ?? false })
        }
        break
      case 'remove':
        for (const m of op.members) members.delete(accountIdFromIdentityKey(m))
        break
      case 'promote': {
        const id = accountIdFromIdentityKey(op.member)
        const m = members.get(id)
        if (m !== undefined) members.set(id, { ...m, admin: true })
        break
      }
      case 'rename':
        name = op.name
        break
      case 'leave':
        members.delete(author)
        break
    }
    effective.add(hash)
    version = Math.max(version, change.version)
  }
  return { name, members, version, effective }
}

/**
 * Whether a verified change may join a log: not held already (replayed), and taking effect once merged
 * (its author an admin at its place in the order). Returns the state after it, or the refusal.
 */
export function admit (held: readonly SignedChange[], change: SignedChange): { state: GroupState } | { refused: ChangeRefusal } {
  const hash = changeHash(change.bytes)
  if (held.some((c) => changeHash(c.bytes) === hash)) return { refused: 'replayed' }
  if (held.length === 0 && change.op.kind !== 'create') return { refused: 'unknown-group' }
  // One create per group, ever (the group id is also bound to it, see groupIdFor): a second one could sort first.
  if (change.op.kind === 'create' && held.some((c) => c.op.kind === 'create')) return { refused: 'second-create' }
  if (held.length > 0 && !Buffer.from(held[0]?.groupId ?? []).equals(change.groupId)) return { refused: 'other-group' }
  const state = foldChanges([...held, change])
  if (!state.effective.has(hash)) return { refused: 'not-admin' }
  return { state }
}
