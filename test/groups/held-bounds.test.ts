// The eviction rule of held changes (src/e2ee/groups/held.ts): at a bound, the oldest change of the contact
// holding the most in that scope makes room (the arriving contact's own on a tie), never the arrival.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MAX_HELD_CHANGES, MAX_HELD_PER_CONTACT, MAX_HELD_PER_GROUP, heldVictim, type HeldEntry } from '../../src/e2ee/groups/held.ts'
import type { SignedChange } from '../../src/wire/group.ts'

const entry = (groupId: string, from: string, i: number): HeldEntry => ({ groupId, hash: `${from}-${groupId}-${i}`, held: { change: {} as SignedChange, heldAt: i, from } })

test('held changes: a contact at its bound replaces its own oldest; at the group and total bounds the biggest holder makes room', () => {
  assert.ok(MAX_HELD_PER_CONTACT < MAX_HELD_PER_GROUP && MAX_HELD_PER_GROUP < MAX_HELD_CHANGES)
  const mine = Array.from({ length: MAX_HELD_PER_CONTACT }, (_, i) => entry('g1', 'mal', i))
  assert.equal(heldVictim(mine.slice(1), 'g1', 'mal'), undefined, 'below every bound')
  assert.equal(heldVictim(mine, 'g2', 'mal')?.hash, 'mal-g1-0', 'her own oldest, in any group')
  assert.equal(heldVictim(mine, 'g1', 'alice'), undefined, 'another contact is not bound by hers')

  // Four contacts fill the total bound: an honest contact with nothing held still gets in, at the cost of the
  // oldest of the biggest holder; one holding as many as the biggest replaces its own.
  const per = MAX_HELD_CHANGES / 4
  const full = ['m1', 'm2', 'm3', 'm4'].flatMap((from, k) => Array.from({ length: per - (k === 2 ? 1 : 0) }, (_, i) => entry(`g-${from}-${i % 4}`, from, 100 + i)))
  full.push(entry('g-honest', 'honest', 50))
  assert.equal(full.length, MAX_HELD_CHANGES)
  const v = heldVictim(full, 'g-honest', 'honest')
  assert.ok(v !== undefined && v.held.from !== 'honest' && v.held.from !== 'm3' && v.held.heldAt === 100, 'the oldest of a biggest holder')
  assert.equal(heldVictim(full, 'g-m1-0', 'm1')?.hash, 'm1-g-m1-0-100', 'a biggest holder replaces its own')

  // The group bound: two contacts fill a group; a third's arrival evicts from the bigger one.
  const group = [...Array.from({ length: MAX_HELD_PER_GROUP - 10 }, (_, i) => entry('g', `a${i % 2}`, i)), ...Array.from({ length: 10 }, (_, i) => entry('g', 'b', 1000 + i))]
  const gv = heldVictim(group, 'g', 'c')
  assert.ok(gv !== undefined && gv.held.from === 'a0' && gv.held.heldAt === 0)
})
