// A long log loads and takes new changes without refolding it all per change (review: the merge was cubic in the
// log length; 400 alternating add/remove changes took 82 s to load). The state is kept between changes made on
// the whole log; it must equal the state folded from scratch. No timing is asserted (speed is benchmarked, not
// tested); the test only has to finish.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { IdentityKeyPair } from '@signalapp/libsignal-client'
import { accountIdFromIdentityKey } from '../../src/identity/account-id.ts'
import { ChangeLog, changeHash, groupIdFor, signChange, verifyChange, type GroupState } from '../../src/e2ee/groups/membership.ts'
import type { ChangeOp, GroupCard, SignedChange } from '../../src/wire/group.ts'

const people = Array.from({ length: 3 }, () => IdentityKeyPair.generate())
const key = (i: number): Uint8Array => (people[i] as IdentityKeyPair).publicKey.serialize()
const card = (i: number): GroupCard => ({
  identityKey: key(i), registrationId: 1, signedPreKeyId: 1, signedPreKey: key(i), signedPreKeySignature: new Uint8Array(64),
  kyberPreKeyId: 1, kyberPreKey: new Uint8Array(1569), kyberPreKeySignature: new Uint8Array(64), mailboxId: new Uint8Array(32), mailboxKey: new Uint8Array(32),
  displayName: `p${i}`, relays: [], addresses: []
})
const summary = (s: GroupState): string => [...s.members.values()].map((m) => `${m.card.displayName}${m.admin ? '*' : ''}`).sort().join(',') + ` "${s.name}" v${s.version} e${s.effective.size}`

const CHAIN = 400

test(`a chain of ${CHAIN} alternating add/remove changes loads, and its state equals the one folded from scratch`, { timeout: 60_000 }, () => {
  const createBody = { version: 1, parents: [], author: key(0), at: 1, op: { kind: 'create', name: 'g', card: card(0) } } as const
  const groupId = groupIdFor(createBody)
  const chain: SignedChange[] = [verifyChange(signChange({ groupId, ...createBody }, (people[0] as IdentityKeyPair).privateKey).bytes)]
  const on = (prev: SignedChange, author: number, op: ChangeOp): SignedChange => verifyChange(signChange({
    groupId, version: prev.version + 1, parents: [new Uint8Array(Buffer.from(changeHash(prev.bytes), 'hex'))], author: key(author), at: prev.version + 1, op
  }, (people[author] as IdentityKeyPair).privateKey).bytes)
  for (let i = 0; i < CHAIN; i++) {
    const prev = chain[chain.length - 1] as SignedChange
    chain.push(on(prev, 0, i % 2 === 0 ? { kind: 'add', cards: [card(1)] } : { kind: 'remove', members: [key(1)] }))
  }
  const started = performance.now()
  const log = new ChangeLog([...chain].reverse())
  const loadMs = performance.now() - started
  assert.equal(log.size, CHAIN + 1)
  assert.equal(summary(log.state()), `p0* "g" v${CHAIN + 1} e${CHAIN + 1}`, 'p1 added and removed 200 times: out')
  assert.equal(summary(log.refold()), summary(log.state()))

  // One more change on the whole log (kept state), then a concurrent one (refolded): both agree with scratch.
  const add = on(chain[chain.length - 1] as SignedChange, 0, { kind: 'add', cards: [card(1), card(2)] })
  assert.ok('node' in log.admit(add))
  assert.equal(summary(log.state()), `p0*,p1,p2 "g" v${CHAIN + 2} e${CHAIN + 2}`)
  const promote = on(add, 0, { kind: 'promote', member: key(1) })
  assert.ok('node' in log.admit(promote))
  const byP1 = on(promote, 1, { kind: 'rename', name: 'p1 was here' })
  // p0 removes p1 concurrently with p1's rename: the rename has no effect.
  const removeP1 = on(promote, 0, { kind: 'remove', members: [key(1)] })
  assert.ok('node' in log.admit(byP1))
  assert.ok('node' in log.admit(removeP1))
  assert.equal(summary(log.state()), `p0*,p2 "g" v${CHAIN + 4} e${CHAIN + 4}`)
  assert.equal(summary(log.refold()), summary(log.state()))
  assert.equal(accountIdFromIdentityKey(key(2)), [...log.state().members.keys()].sort().find((a) => a === accountIdFromIdentityKey(key(2))))
  console.log(`# chain of ${CHAIN + 1} changes loaded in ${loadMs.toFixed(0)} ms`)
})
