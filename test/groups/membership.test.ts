// The membership log merge (src/e2ee/groups/membership.ts): each change names its parents; the state is a
// function of the set of changes, so any delivery order gives the same membership; non-admin, replayed and
// foreign changes are refused; a removed admin cannot backdate a change before its removal.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { IdentityKeyPair } from '@signalapp/libsignal-client'
import { accountIdFromIdentityKey } from '../../src/identity/account-id.ts'
import { ChangeLog, admit, changeHash, foldChanges, groupIdFor, signChange, verifyChange, type GroupState } from '../../src/e2ee/groups/membership.ts'
import type { ChangeOp, GroupCard, SignedChange } from '../../src/wire/group.ts'

const people = Array.from({ length: 7 }, () => IdentityKeyPair.generate())
const key = (i: number): Uint8Array => (people[i] as IdentityKeyPair).publicKey.serialize()
function card (i: number): GroupCard {
  return {
    identityKey: key(i), registrationId: 1, signedPreKeyId: 1, signedPreKey: key(i), signedPreKeySignature: new Uint8Array(64),
    kyberPreKeyId: 1, kyberPreKey: new Uint8Array(1569), kyberPreKeySignature: new Uint8Array(64), mailboxId: new Uint8Array(32), mailboxKey: new Uint8Array(32),
    displayName: `p${i}`, relays: [], addresses: []
  }
}

// Every test's create is person 0's 'g' at version 1 (at 1001): the group id is the one derived from it.
const groupId = groupIdFor({ version: 1, parents: [], author: key(0), at: 1001, op: { kind: 'create', name: 'g', card: card(0) } })
const create = verifyChange(signChange({ groupId, version: 1, parents: [], author: key(0), at: 1001, op: { kind: 'create', name: 'g', card: card(0) } }, (people[0] as IdentityKeyPair).privateKey).bytes)

/** A change by `author` on top of `parents` (the heads it had applied). */
function sign (author: number, parents: readonly SignedChange[], op: ChangeOp, at = 2000): SignedChange {
  const hashes = parents.map((p) => Buffer.from(changeHash(p.bytes), 'hex')).sort((x, y) => Buffer.compare(x, y)).map((b) => new Uint8Array(b))
  const version = 1 + Math.max(...parents.map((p) => p.version))
  return verifyChange(signChange({ groupId, version, parents: hashes, author: key(author), at, op }, (people[author] as IdentityKeyPair).privateKey).bytes)
}

const summary = (s: GroupState): string => [...s.members.values()].map((m) => `${m.card.displayName}${m.admin ? '*' : ''}`).sort().join(',') + ` "${s.name}"`

/** Deterministic pseudo-random permutations (a seeded LCG), so a failure is reproducible. */
function shuffle<T> (list: readonly T[], seed: number): T[] {
  const out = [...list]
  let x = seed
  for (let i = out.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) % 2 ** 31
    const j = x % (i + 1)
    ;[out[i], out[j]] = [out[j] as T, out[i] as T]
  }
  return out
}

/** Delivers changes one at a time in the given order, holding those whose parents have not arrived (as the device does). */
function deliver (changes: readonly SignedChange[]): ChangeLog {
  const log = new ChangeLog()
  let held: SignedChange[] = []
  for (const c of changes) {
    held.push(c)
    for (let progress = true; progress;) {
      progress = false
      for (const h of [...held]) {
        if ('missing' in log.admit(h)) continue
        held = held.filter((x) => x !== h)
        progress = true
      }
    }
  }
  assert.equal(held.length, 0, 'nothing left held')
  return log
}

test('any delivery order gives the same state (concurrent add, remove, promote, rename by two admins)', () => {
  const add = sign(0, [create], { kind: 'add', cards: [card(1), card(2), card(3)] })
  const promote = sign(0, [add], { kind: 'promote', member: key(1) })
  // Concurrent: admin 0 removes 2 then removes 1; admin 1 adds 4 and renames, then adds 5 (concurrent with its removal).
  const rm2 = sign(0, [promote], { kind: 'remove', members: [key(2)] })
  const add4 = sign(1, [promote], { kind: 'add', cards: [card(4)] })
  const rename = sign(1, [add4], { kind: 'rename', name: 'renamed' })
  const rm1 = sign(0, [rm2], { kind: 'remove', members: [key(1)] })
  const add5 = sign(1, [rename], { kind: 'add', cards: [card(5)] })
  const leave3 = sign(3, [rm2, rename], { kind: 'leave' })
  const log = [create, add, promote, rm2, add4, rename, rm1, add5, leave3]
  const expected = summary(foldChanges(log))
  // Removal wins: 1's changes concurrent with its removal (add 4, rename, add 5) have no effect.
  assert.equal(expected, 'p0* "g"')
  for (let seed = 1; seed <= 200; seed++) {
    assert.equal(summary(deliver(shuffle(log, seed)).state()), expected, `seed ${seed}`)
    assert.equal(summary(foldChanges(shuffle(log, seed * 7))), expected)
  }
  // Without the removal of 1, its changes stand.
  assert.equal(summary(foldChanges([create, add, promote, rm2, add4, rename, add5])), 'p0*,p1*,p3,p4,p5 "renamed"')
})

test('concurrent add and remove by two admins converge in every order', () => {
  const add = sign(0, [create], { kind: 'add', cards: [card(1), card(2), card(3)] })
  const promote = sign(0, [add], { kind: 'promote', member: key(1) })
  const rm3 = sign(0, [promote], { kind: 'remove', members: [key(3)] })
  const rm2 = sign(1, [promote], { kind: 'remove', members: [key(2)] })
  const add4 = sign(1, [promote], { kind: 'add', cards: [card(4)] })
  const log = [create, add, promote, rm3, rm2, add4]
  for (let seed = 1; seed <= 50; seed++) assert.equal(summary(deliver(shuffle(log, seed)).state()), 'p0*,p1*,p4 "g"', `seed ${seed}`)
  // The next change merges the heads.
  const l = deliver(log)
  const next = l.next()
  assert.equal(next.parents.length, 3)
  assert.equal(next.version, 5)
})

test('backdating: a removed admin\'s change signed on parents before its removal has no effect, in every order', () => {
  const add = sign(0, [create], { kind: 'add', cards: [card(1), card(2)] })
  const promote = sign(0, [add], { kind: 'promote', member: key(1) })
  const removal = sign(0, [promote], { kind: 'remove', members: [key(1)] })
  const after = sign(0, [removal], { kind: 'rename', name: 'after' })
  const honest = [create, add, promote, removal, after]
  const expected = summary(foldChanges(honest))
  assert.equal(expected, 'p0*,p2 "after"')
  // 1 still holds its identity key; it signs on the parents it had before its removal (a lower version than it).
  const readd = sign(1, [promote], { kind: 'add', cards: [card(1), card(5)] })
  const rename = sign(1, [promote], { kind: 'rename', name: 'mine' })
  const promote5 = sign(1, [readd], { kind: 'promote', member: key(5) })
  const rename2 = sign(1, [promote5, rename], { kind: 'rename', name: 'mine again' })
  const forged = [readd, rename, promote5, rename2]
  for (let seed = 1; seed <= 100; seed++) {
    const log = deliver(shuffle([...honest, ...forged], seed))
    assert.equal(summary(log.state()), expected, `seed ${seed}`)
  }
  // Signed on parents after its removal: refused outright (no admin there).
  const log = new ChangeLog(honest)
  assert.deepEqual(log.admit(sign(1, [after], { kind: 'rename', name: 'x' })), { refused: 'not-admin' })
  // Admitted into the DAG (honest members may have built on it) but superseded.
  const r = admit(honest, readd)
  assert.ok('state' in r && r.superseded)
  // A backdated removal of its remover (exactly it): both admins are out, the removed one never stays.
  const counter = sign(1, [promote], { kind: 'remove', members: [key(0)] })
  const both = summary(foldChanges([...honest, counter]))
  assert.equal(both, 'p2 "g"', 'and the remover\'s changes concurrent with its own removal have no effect')
  // A backdated removal of its remover and of others: it has no effect at all.
  const wide = sign(1, [promote], { kind: 'remove', members: [key(0), key(2)] })
  assert.equal(summary(foldChanges([...honest, wide])), expected)
})

test('non-admin, replayed, foreign, orphaned and forged changes are refused or held', () => {
  const add = sign(0, [create], { kind: 'add', cards: [card(1)] })
  const held = [create, add]
  assert.deepEqual(admit(held, sign(1, [add], { kind: 'rename', name: 'x' })), { refused: 'not-admin' })
  assert.deepEqual(admit(held, add), { refused: 'replayed' })
  assert.deepEqual(admit([], add), { refused: 'unknown-group' })
  const other = verifyChange(signChange({ groupId: new Uint8Array(16), version: 3, parents: [new Uint8Array(32)], author: key(0), at: 1, op: { kind: 'rename', name: 'y' } }, (people[0] as IdentityKeyPair).privateKey).bytes)
  assert.deepEqual(admit(held, other), { refused: 'other-group' })
  // Its parent is not held: it waits (missing), it is not refused.
  const promote = sign(0, [add], { kind: 'promote', member: key(1) })
  const byNewAdmin = sign(1, [promote], { kind: 'rename', name: 'y' })
  assert.deepEqual(admit(held, byNewAdmin), { missing: [changeHash(promote.bytes)] })
  // A version that is not 1 + its parents' highest is malformed.
  const wrong = verifyChange(signChange({ groupId, version: 7, parents: [Buffer.from(changeHash(add.bytes), 'hex')], author: key(0), at: 1, op: { kind: 'rename', name: 'y' } }, (people[0] as IdentityKeyPair).privateKey).bytes)
  assert.deepEqual(admit(held, wrong), { refused: 'malformed' })
  // A flipped bit anywhere breaks the signature.
  const bytes = Uint8Array.from(sign(0, [add], { kind: 'rename', name: 'z' }).bytes)
  bytes[60] = (bytes[60] as number) ^ 1
  assert.throws(() => verifyChange(bytes), /not signed/)
  // A non-member may leave only itself; a member's leave takes effect.
  const leave = admit(held, sign(1, [add], { kind: 'leave' }))
  assert.ok('state' in leave && !leave.state.members.has(accountIdFromIdentityKey(key(1))))
  assert.deepEqual(admit(held, sign(2, [add], { kind: 'leave' })), { refused: 'not-admin' })
})
