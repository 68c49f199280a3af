// The membership log merge (src/e2ee/groups/membership.ts): the state is a function of the set of changes, so
// any delivery order gives the same membership; non-admin, replayed and foreign changes are refused.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { IdentityKeyPair } from '@signalapp/libsignal-client'
import { accountIdFromIdentityKey } from '../../src/identity/account-id.ts'
import { admit, foldChanges, groupIdFor, signChange, verifyChange, type GroupState } from '../../src/e2ee/groups/membership.ts'
import type { ChangeOp, GroupCard, SignedChange } from '../../src/wire/group.ts'

const people = Array.from({ length: 6 }, () => IdentityKeyPair.generate())
const key = (i: number): Uint8Array => (people[i] as IdentityKeyPair).publicKey.serialize()
function card (i: number): GroupCard {
  return {
    identityKey: key(i), registrationId: 1, signedPreKeyId: 1, signedPreKey: key(i), signedPreKeySignature: new Uint8Array(64),
    kyberPreKeyId: 1, kyberPreKey: new Uint8Array(1569), kyberPreKeySignature: new Uint8Array(64), mailboxId: new Uint8Array(32), mailboxKey: new Uint8Array(32),
    displayName: `p${i}`, relays: [], addresses: []
  }
}

// Every test's create is person 0's 'g' at version 1 (at 1001): the group id is the one derived from it.
const groupId = groupIdFor({ version: 1, author: key(0), at: 1001, op: { kind: 'create', name: 'g', card: card(0) } })

function sign (author: number, version: number, op: ChangeOp): SignedChange {
  return verifyChange(signChange({ groupId, version, author: key(author), at: 1000 + version, op }, (people[author] as IdentityKeyPair).privateKey).bytes)
}

const summary = (s: GroupState): string => [...s.members.values()].map((m) => `${m.card.displayName}${m.admin ? '*' : ''}`).sort().join(',') + ` "${s.name}" v${s.version}`

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

test('any delivery order gives the same state (concurrent add, remove, promote, rename by two admins)', () => {
  const log = [
    sign(0, 1, { kind: 'create', name: 'g', card: card(0) }),
    sign(0, 2, { kind: 'add', cards: [card(1), card(2), card(3)] }),
    sign(0, 3, { kind: 'promote', member: key(1) }),
    // Concurrent at version 4: admin 0 removes 2, admin 1 adds 4 and renames; admin 0 demotes nobody but removes 1.
    sign(0, 4, { kind: 'remove', members: [key(2)] }),
    sign(1, 4, { kind: 'add', cards: [card(4)] }),
    sign(1, 4, { kind: 'rename', name: 'renamed' }),
    sign(0, 5, { kind: 'remove', members: [key(1)] }),
    // Made by 1 at version 5, concurrently with its removal: effective or not depending only on the hash order.
    sign(1, 5, { kind: 'add', cards: [card(5)] }),
    sign(3, 5, { kind: 'leave' })
  ]
  const expected = summary(foldChanges(log))
  for (let seed = 1; seed <= 200; seed++) {
    // Delivered one at a time in a random order, each admitted against what was held so far; a change refused
    // because its prerequisites had not arrived is delivered again later (as the admins' forwarding does).
    const queue = shuffle(log, seed)
    let held: SignedChange[] = []
    for (let round = 0; round < log.length && queue.length > 0; round++) {
      for (const c of [...queue]) {
        const r = admit(held, c)
        if ('state' in r) { held = [...held, c]; queue.splice(queue.indexOf(c), 1) }
      }
    }
    const stateHeld = summary(foldChanges(held))
    assert.equal(stateHeld, expected, `seed ${seed}`)
    assert.equal(summary(foldChanges(shuffle(log, seed * 7))), expected)
  }
  assert.match(expected, /p0\*/)
})

test('non-admin, replayed, foreign and forged changes are refused', () => {
  const create = sign(0, 1, { kind: 'create', name: 'g', card: card(0) })
  const add = sign(0, 2, { kind: 'add', cards: [card(1)] })
  const held = [create, add]
  assert.deepEqual(admit(held, sign(1, 3, { kind: 'rename', name: 'x' })), { refused: 'not-admin' })
  assert.deepEqual(admit(held, add), { refused: 'replayed' })
  assert.deepEqual(admit([], add), { refused: 'unknown-group' })
  const other = verifyChange(signChange({ groupId: new Uint8Array(16), version: 3, author: key(0), at: 1, op: { kind: 'rename', name: 'y' } }, (people[0] as IdentityKeyPair).privateKey).bytes)
  assert.deepEqual(admit(held, other), { refused: 'other-group' })
  // A flipped bit anywhere breaks the signature.
  const bytes = Uint8Array.from(sign(0, 3, { kind: 'rename', name: 'z' }).bytes)
  bytes[20] = (bytes[20] as number) ^ 1
  assert.throws(() => verifyChange(bytes), /not signed/)
  // A non-member may leave only itself; a member's leave takes effect.
  const leave = admit(held, sign(1, 3, { kind: 'leave' }))
  assert.ok('state' in leave && !leave.state.members.has(accountIdFromIdentityKey(key(1))))
  assert.deepEqual(admit(held, sign(2, 3, { kind: 'leave' })), { refused: 'not-admin' })
})
