// The membership of a group as a function of the SET of signed changes a device holds (issue 11).
// Each change names its parents (the log heads its author had applied), so the changes form a DAG.
// Merge rule (docs/protocol.md §10.3):
//  1. A change is admitted only once its parents are held (until then the device holds it aside), and only if its
//     author may make it in the state at its parents (create: none before it; leave: a member; else an admin).
//     That state is fixed once the parents are, so the refusal is the same on every member.
//  2. A removal wins over its target's concurrent changes (neither an ancestor of the other): they take no effect.
//     Removals that remove each other's authors concurrently both stand when each removes exactly the other
//     (both admins are out); otherwise the removals that win are the grounded set of the "removes the author of"
//     relation, and only those that take effect in step 3 count.
//  3. The rest fold from an empty state in (version, hash) order, each taking effect only if its author may make
//     it at its turn. Since all this depends only on the set, members holding the same changes agree.
// A removed admin's key can still sign: with parents after its removal it is no admin there (1); with parents
// before it, the change is concurrent with the removal and has no effect (2). That closes the backdating gap.
import { createHash } from 'node:crypto'
import { PrivateKey, PublicKey } from '@signalapp/libsignal-client'
import { accountIdFromIdentityKey } from '../../identity/account-id.ts'
import { WireError } from '../../wire/errors.ts'
import {
  CHANGE_SIGNATURE_CONTEXT, GROUP_ID_BYTES, MAX_PARENTS, decodeChange, encodeChangeBody, signedChangeBytes, type ChangeBody, type GroupCard, type SignedChange
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

/** superseded: admitted (other changes may name it as a parent) but without effect, its author removed concurrently. */
export type ChangeRefusal = 'bad-signature' | 'malformed' | 'not-admin' | 'replayed' | 'unknown-group' | 'other-group' | 'second-create' | 'superseded'

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

/** The order of the Ed25519 group (RFC 8032 §5.1): a canonical signature's S is below it. */
const ED25519_L = 2n ** 252n + 27742317777372353535851937790883648493n

/**
 * Whether the signature's S (its second half, little-endian, with the top bit cleared: XEdDSA keeps the sign of
 * the author's Edwards key there) is below L. libsignal also accepts S + L (the same point equation), which would
 * give one change several encodings and so several hashes: the replay check and the DAG both go by the hash, so
 * only the canonical form is admitted (each change has exactly one valid encoding).
 */
export function canonicalSignature (signature: Uint8Array): boolean {
  let sv = 0n
  for (let i = 63; i >= 32; i--) sv = (sv << 8n) | BigInt(i === 63 ? (signature[i] as number) & 0x7f : signature[i] as number)
  return sv < ED25519_L
}

/**
 * Decodes and checks the signature against the change's own author key (in its canonical form only); throws E2eeError BAD_PAYLOAD.
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
    ok = canonicalSignature(c.signature) && PublicKey.deserialize(b(c.author)).verify(signedMessage(c.body), b(c.signature))
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

/** The deterministic order of the merge: version (depth), then hash; parents always come before children. */
export function sortChanges (changes: Iterable<SignedChange>): Array<{ version: number, hash: string, change: SignedChange }> {
  return [...changes].map((change) => ({ version: change.version, hash: changeHash(change.bytes), change }))
    .sort((x, y) => x.version - y.version || (x.hash < y.hash ? -1 : x.hash > y.hash ? 1 : 0))
}

export interface LogNode {
  readonly hash: string
  readonly change: SignedChange
  readonly author: string
  readonly parents: readonly string[]
  /** Every ancestor's hash. */
  readonly ancestors: ReadonlySet<string>
  /** Account ids of the keys the op names (add: its cards; remove: its members; promote: the member), computed once. */
  readonly named: readonly string[]
  /** Account ids this change removes (a remove's members; a leave's author). */
  readonly removed: ReadonlySet<string>
}

const isRemoval = (n: LogNode): boolean => n.change.op.kind === 'remove' || n.change.op.kind === 'leave'
const concurrent = (a: LogNode, b: LogNode): boolean => a !== b && !a.ancestors.has(b.hash) && !b.ancestors.has(a.hash)
/** `n` removes exactly the author of `r` (a mutual removal: both stand). */
function mutual (n: LogNode, r: LogNode): boolean {
  return n.change.op.kind === 'remove' && n.change.op.members.length === 1 && n.removed.has(r.author)
}

/** The removals of each account, so a change's removals are found without comparing it with every removal. */
function byTarget (removals: readonly LogNode[]): Map<string, LogNode[]> {
  const out = new Map<string, LogNode[]>()
  for (const r of removals) {
    for (const a of r.removed) {
      let list = out.get(a)
      if (list === undefined) out.set(a, list = [])
      list.push(r)
    }
  }
  return out
}

/** Whether the author may make this change in `state` (the state at its parents, or its turn in the fold). */
function mayMake (state: { created: boolean, members: ReadonlyMap<string, Member> }, n: LogNode): boolean {
  const op = n.change.op
  if (op.kind === 'create') return !state.created
  if (!state.created) return false
  const me = state.members.get(n.author)
  return op.kind === 'leave' ? me !== undefined : me?.admin === true
}

/** The removals that win (step 2): the grounded set of the attack relation; those left undecided (cycles) win too. */
function winningRemovals (removals: readonly LogNode[]): LogNode[] {
  const targets = byTarget(removals)
  // Only a removal of another removal's author, concurrent with it, attacks it: most removals have no attacker.
  const attackers = new Map<LogNode, LogNode[]>()
  for (const r of removals) {
    const a = (targets.get(r.author) ?? []).filter((x) => concurrent(x, r) && !mutual(r, x))
    if (a.length > 0) attackers.set(r, a)
  }
  if (attackers.size === 0) return [...removals]
  const label = new Map<LogNode, 'in' | 'out'>()
  for (let changed = true; changed;) {
    changed = false
    for (const r of removals) {
      if (label.has(r)) continue
      const a = attackers.get(r) ?? []
      if (a.some((x) => label.get(x) === 'in')) { label.set(r, 'out'); changed = true } else if (a.every((x) => label.get(x) === 'out')) { label.set(r, 'in'); changed = true }
    }
  }
  return removals.filter((r) => label.get(r) !== 'out')
}

interface Folding { name: string, created: boolean, members: Map<string, Member> }

/** Applies one change that takes effect (step 3) to the state being folded. */
function apply (s: Folding, n: LogNode, removedBy?: Map<string, { by: LogNode, wasAdmin: boolean }>): void {
  const op = n.change.op
  switch (op.kind) {
    case 'create':
      s.created = true
      s.name = op.name
      s.members.set(n.author, { accountId: n.author, card: op.card, admin: true })
      break
    case 'add':
      op.cards.forEach((card, i) => {
        const id = n.named[i] as string
        s.members.set(id, { accountId: id, card, admin: s.members.get(id)?.admin ?? false })
      })
      break
    case 'remove':
      for (const id of n.named) {
        const was = s.members.get(id)
        if (was !== undefined) removedBy?.set(id, { by: n, wasAdmin: was.admin })
        s.members.delete(id)
      }
      break
    case 'promote': {
      const id = n.named[0] as string
      const m = s.members.get(id)
      if (m !== undefined) s.members.set(id, { ...m, admin: true })
      break
    }
    case 'rename':
      s.name = op.name
      break
    case 'leave':
      s.members.delete(n.author)
      break
  }
}

function run (sorted: readonly LogNode[], voiders: readonly LogNode[]): GroupState & { applied: Set<string> } {
  const s: Folding = { name: '', created: false, members: new Map() }
  const removedBy = new Map<string, { by: LogNode, wasAdmin: boolean }>()
  const effective = new Set<string>()
  const voidersOf = byTarget(voiders)
  for (const n of sorted) {
    const op = n.change.op
    if (op.kind !== 'create' && !s.created) continue
    if ((voidersOf.get(n.author) ?? []).some((r) => concurrent(r, n) && !mutual(n, r))) continue
    let ok = mayMake(s, n)
    if (!ok && op.kind === 'remove') {
      // A mutual removal sorted after its partner: its author was an admin until the partner removed it.
      const r = removedBy.get(n.author)
      ok = r !== undefined && r.wasAdmin && concurrent(r.by, n) && mutual(n, r.by) && mutual(r.by, n)
    }
    if (!ok) continue
    apply(s, n, removedBy)
    effective.add(n.hash)
  }
  const version = sorted.reduce((v, n) => Math.max(v, n.change.version), 0)
  return { name: s.name, members: s.members, version, effective, applied: effective }
}

/** Folds a set of nodes closed under ancestry (steps 2 and 3 of the merge rule). */
function foldNodes (nodes: Iterable<LogNode>): GroupState {
  const sorted = [...nodes].sort((x, y) => x.change.version - y.change.version || (x.hash < y.hash ? -1 : x.hash > y.hash ? 1 : 0))
  let voiders = winningRemovals(sorted.filter(isRemoval))
  // Only removals that take effect count: a removal by an author who is no admin at its turn (made in a branch
  // that itself has no effect) must not void anyone. Voiders only shrink, so this ends.
  for (;;) {
    const r = run(sorted, voiders)
    const next = voiders.filter((v) => r.applied.has(v.hash))
    if (next.length === voiders.length) return { name: r.name, members: r.members, version: r.version, effective: r.effective }
    voiders = next
  }
}

/**
 * The state after `n` when every other node is its ancestor (the usual case: a change made on the whole log).
 * Then `n` is concurrent with nothing, so it neither voids nor is voided (step 2), and it comes last in the fold
 * (step 3): the state is the previous one with `n` applied, which admission allowed (rule 1, same state).
 */
function extend (state: GroupState, n: LogNode): GroupState {
  const s: Folding = { name: state.name, created: true, members: new Map(state.members) }
  apply(s, n)
  return { name: s.name, members: s.members, version: Math.max(state.version, n.change.version), effective: new Set([...state.effective, n.hash]) }
}

function namedKeys (c: SignedChange): Uint8Array[] {
  const op = c.op
  switch (op.kind) {
    case 'add': return op.cards.map((x) => x.identityKey)
    case 'remove': return [...op.members]
    case 'promote': return [op.member]
    default: return []
  }
}

export type Admission =
  | { readonly node: LogNode }
  | { readonly missing: readonly string[] }
  | { readonly refused: ChangeRefusal }

/** A group's log as a DAG of admitted changes (every one's parents held, its author allowed at its parents). */
export class ChangeLog {
  readonly nodes = new Map<string, LogNode>()
  #state: GroupState | undefined
  /** Account ids that appear in the log (authors, added, promoted, removed): whose early changes may be held. */
  readonly #known = new Set<string>()

  /** Admits what it can of `changes` (any order; what cannot be admitted is left out). */
  constructor (changes: Iterable<SignedChange> = []) {
    const pending = sortChanges(changes).map((x) => x.change)
    for (let progress = true; progress && pending.length > 0;) {
      progress = false
      for (const c of [...pending]) {
        const r = this.admit(c)
        if ('missing' in r) continue
        pending.splice(pending.indexOf(c), 1)
        progress = true
      }
    }
  }

  get size (): number { return this.nodes.size }

  /** Whether this account appears anywhere in the log (as an author or named by a change). */
  knows (accountId: string): boolean { return this.#known.has(accountId) }

  get changes (): SignedChange[] { return [...this.nodes.values()].map((n) => n.change) }

  state (): GroupState {
    this.#state ??= foldNodes(this.nodes.values())
    return this.#state
  }

  /** The log's heads (no held change names them as a parent): the parents of my next change, and its version. */
  next (): { parents: Uint8Array[], version: number } {
    const named = new Set<string>()
    for (const n of this.nodes.values()) for (const p of n.parents) named.add(p)
    const heads = [...this.nodes.values()].filter((n) => !named.has(n.hash))
      .sort((x, y) => y.change.version - x.change.version || (x.hash < y.hash ? -1 : 1)).slice(0, MAX_PARENTS)
    const parents = heads.map((n) => Buffer.from(n.hash, 'hex')).sort((x, y) => Buffer.compare(x, y)).map((b) => new Uint8Array(b))
    return { parents, version: 1 + heads.reduce((v, n) => Math.max(v, n.change.version), 0) }
  }

  /** Admits a verified change of this group (rule 1), or says why not; missing: parents not held yet. */
  admit (c: SignedChange): Admission {
    const hash = changeHash(c.bytes)
    if (this.nodes.has(hash)) return { refused: 'replayed' }
    const first = this.nodes.values().next().value
    if (first !== undefined && !Buffer.from(first.change.groupId).equals(c.groupId)) return { refused: 'other-group' }
    // One create per group, ever (the group id is also bound to it, see groupIdFor).
    if (c.op.kind === 'create' && [...this.nodes.values()].some((n) => n.change.op.kind === 'create')) return { refused: 'second-create' }
    const parents = c.parents.map((p) => Buffer.from(p).toString('hex'))
    const missing = parents.filter((p) => !this.nodes.has(p))
    if (missing.length > 0) return { missing }
    const ancestors = new Set<string>()
    let depth = 0
    for (const p of parents) {
      const n = this.nodes.get(p) as LogNode
      ancestors.add(p)
      for (const a of n.ancestors) ancestors.add(a)
      depth = Math.max(depth, n.change.version)
    }
    if (c.version !== depth + 1) return { refused: 'malformed' }
    const named = namedKeys(c).map((k) => accountIdFromIdentityKey(k))
    const author = accountIdFromIdentityKey(c.author)
    const removed = new Set(c.op.kind === 'remove' ? named : c.op.kind === 'leave' ? [author] : [])
    const node: LogNode = { hash, change: c, author, parents, ancestors, named, removed }
    // Made on the whole log (the usual case): the state at its parents is the log's state, kept between changes.
    const onWhole = ancestors.size === this.nodes.size
    const at = onWhole ? this.state() : foldNodes([...ancestors].map((a) => this.nodes.get(a) as LogNode))
    if (!mayMake({ created: ancestors.size > 0, members: at.members }, node)) return { refused: 'not-admin' }
    this.nodes.set(hash, node)
    this.#state = onWhole && ancestors.size > 0 ? extend(at, node) : undefined
    this.#known.add(author)
    for (const a of named) this.#known.add(a)
    return { node }
  }

  /** The state folded from scratch, without the kept one (tests compare the two). */
  refold (): GroupState {
    return foldNodes(this.nodes.values())
  }
}

/** Folds a set of verified changes into the group's state (those whose parents are missing are left out). */
export function foldChanges (changes: Iterable<SignedChange>): GroupState {
  return new ChangeLog(changes).state()
}

/**
 * Whether a verified change may join a log held as a list (tests; the device keeps a ChangeLog): the state after
 * it, the refusal, or the parents it waits for. `superseded`: admitted, but without effect (rule 2 or 3).
 */
export function admit (held: readonly SignedChange[], change: SignedChange): { state: GroupState, superseded: boolean } | { refused: ChangeRefusal } | { missing: readonly string[] } {
  const log = new ChangeLog(held)
  if (log.size === 0 && change.op.kind !== 'create') return { refused: 'unknown-group' }
  const r = log.admit(change)
  if (!('node' in r)) return r
  const state = log.state()
  return { state, superseded: !state.effective.has(r.node.hash) }
}
