// The delivery properties as a function: the schedules fast-check draws, the world they run in
// (two FakeDevices on MemoryHistory twins, two relays) and the checks of the outcome. Run by
// test/messenger/delivery-property.test.ts in a worker thread, away from the test runner's
// per-promise bookkeeping, which would otherwise double the time of each schedule.
// Each check was seen to fail (1,000 schedules) when the thing it guards was broken on purpose:
// the messenger skipping its seen-envelope check (a lost receipt is never sent again: 'not shown
// delivered'); that check, the device's replay refusal and the history's id key all removed ('a
// text stored twice'); incoming texts shown in arrival order ('texts in the sender's order'); a text
// leaving the outbox once stored on relays ('received exactly the texts sent'); a receipt not
// clearing the outbox ('outbox not empty'); sequence numbers reused ('sequence numbers in send order').
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { Device } from '../../src/e2ee/device.ts'
import { History } from '../../src/messenger/history.ts'
import { runSchedule, type Action, type Outcome, type Schedule, type World } from './delivery-sim.ts'
import { MemoryHistory } from '../twins/memory-history.ts'
import { FakeDevice } from '../twins/fake-device.ts'

export const RELAYS = ['/sim/relay0', '/sim/relay1']

export function fakeWorld (): World {
  const alice = new FakeDevice('alice')
  const bob = new FakeDevice('bob')
  const ids = FakeDevice.introduce(alice, bob, { aRelays: RELAYS, bRelays: RELAYS, aPeerId: 'alice', bPeerId: 'bob' })
  return {
    relays: RELAYS,
    parties: [
      { name: 'alice', peerId: 'alice', device: alice, history: new MemoryHistory(), contactId: ids.aToB },
      { name: 'bob', peerId: 'bob', device: bob, history: new MemoryHistory(), contactId: ids.bToA }
    ]
  }
}

/**
 * The real thing: two e2ee Devices (libsignal sessions, SQLCipher stores) introduced through an
 * invite, each with the real History on its store. About 40 ms to set up, so far fewer runs.
 */
export async function realWorld (): Promise<World & { close: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), '0m1-delivery-'))
  // NORMAL: no fsync per commit; durability across power loss is test/crash's business, not this one's.
  const alice = await Device.create(join(dir, 'alice'), { name: 'alice', synchronous: 'NORMAL' })
  const bob = await Device.create(join(dir, 'bob'), { name: 'bob', synchronous: 'NORMAL' })
  const invite = await alice.createInvite({ relays: [...RELAYS], addresses: [], peerId: 'alice' })
  const accepted = await bob.acceptInvite(invite.link, { card: { relays: [...RELAYS], addresses: [], peerId: 'bob' } })
  const opened = await alice.openEnvelope(accepted.envelope)
  return {
    relays: RELAYS,
    parties: [
      { name: 'alice', peerId: 'alice', device: alice, history: new History(alice.db), contactId: opened.contact.id },
      { name: 'bob', peerId: 'bob', device: bob, history: new History(bob.db), contactId: accepted.contact.id }
    ],
    close: () => {
      alice.close()
      bob.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

export const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('send' as const), at: fc.integer({ min: 0, max: 120_000 }), who: fc.integer({ min: 0, max: 1 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('restart' as const), at: fc.integer({ min: 0, max: 120_000 }), who: fc.integer({ min: 0, max: 1 }), downMs: fc.integer({ min: 0, max: 90_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('relay-down' as const), at: fc.integer({ min: 0, max: 120_000 }), relay: fc.integer({ min: 0, max: 2 }), downMs: fc.integer({ min: 0, max: 600_000 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('relay-loss' as const), at: fc.integer({ min: 0, max: 120_000 }), relay: fc.integer({ min: 0, max: 2 }) }) }
)

// The seed and fault rates do not shrink: a new seed is a new schedule, not a simpler one, and
// shrinking doubles takes tens of thousands of runs. fast-check shrinks the list of actions.
export const scheduleArb: fc.Arbitrary<Schedule> = fc.record({
  seed: fc.noShrink(fc.integer()),
  faults: fc.noShrink(fc.record({
    drop: fc.double({ min: 0, max: 0.6, noNaN: true }),
    dropAnswer: fc.double({ min: 0, max: 0.4, noNaN: true }),
    duplicate: fc.double({ min: 0, max: 0.4, noNaN: true }),
    // Up to past DELIVER_DEADLINE_MS (4 s): some attempts time out while their copy still arrives.
    maxDelayMs: fc.integer({ min: 1, max: 6_000 })
  })),
  actions: fc.array(actionArb, { minLength: 1, maxLength: 12 })
})

/** The three properties; throws (with the party's name) on the first one broken. */
export function checkOutcome (o: Outcome): void {
  const names = ['alice', 'bob']
  for (const [i, me] of o.parties.entries()) {
    const other = o.parties[1 - i]
    assert.ok(other !== undefined)
    const who = names[i] ?? '?'
    // The sender numbers its texts 1, 2, 3... in the order they were accepted.
    assert.deepEqual(me.sent.map((s) => s.seq), me.sent.map((_, k) => k + 1), `${who}: sequence numbers in send order`)
    // Exactly once: every text the other side sent, no text twice, nothing else.
    const ids = me.received.map((m) => m.id)
    assert.equal(new Set(ids).size, ids.length, `${who}: a text stored twice`)
    assert.deepEqual([...ids].sort(), other.sent.map((s) => s.id).sort(), `${who}: received exactly the texts sent to it`)
    // Per-sender order: in display order the texts follow their sequence numbers, with no gap left.
    assert.deepEqual(me.received.map((m) => m.seq), other.sent.map((s) => s.seq), `${who}: texts in the sender's order`)
    assert.deepEqual(me.received.map((m) => m.text), other.sent.map((s) => s.text), `${who}: each text under its sequence number`)
    assert.ok(me.received.every((m) => m.gapBefore === undefined), `${who}: a gap is left`)
    // Eventually delivered at the sender, nothing left to send.
    for (const s of me.sent) assert.equal(me.states.get(s.id), 'delivered', `${who}: text ${s.seq} not shown delivered`)
    assert.equal(me.outbox, 0, `${who}: outbox not empty`)
  }
  assert.ok(o.converged, 'did not settle within two simulated hours after the network healed')
}

export interface PropertyRun {
  readonly runs: number
  readonly ms: number
  readonly steps: number
  readonly simulatedMs: number
}

/** Runs the properties on `runs` schedules (fast-check's seed and path reproduce a failure). */
export async function runDeliveryProperty (o: { runs: number, world?: 'fake' | 'real', seed?: number, path?: string }): Promise<PropertyRun> {
  let runs = 0
  let steps = 0
  let simulatedMs = 0
  const started = performance.now()
  await fc.assert(fc.asyncProperty(scheduleArb, async (s) => {
    runs++
    let out: Outcome
    if (o.world === 'real') {
      const world = await realWorld()
      try { out = await runSchedule(world, s) } finally { world.close() }
    } else {
      out = await runSchedule(fakeWorld(), s)
    }
    steps += out.steps
    simulatedMs += out.simulatedMs
    checkOutcome(out)
  }), { numRuns: o.runs, ...(o.seed !== undefined ? { seed: o.seed } : {}), ...(o.path !== undefined ? { path: o.path } : {}) })
  return { runs, ms: performance.now() - started, steps, simulatedMs }
}
