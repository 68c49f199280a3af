// The chaos harness itself must be exact: a read that fails is retried, never taken as absence
// (issue 14.11: a failed `messages` read once counted a whole conversation as lost).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { percentiles, readConversation, type DeviceSlot, type Row } from './run.ts'
import type { Child } from '../helpers/procs.ts'
import { groupDone, groupFigures, groupLine, groupOk, type GroupRow, type GroupSent, type GroupSnapshot } from './group.ts'

function flakyDevice (failures: number, rows: Row[]): { slot: DeviceSlot, calls: () => number } {
  let calls = 0
  const child = {
    request: async () => {
      calls++
      if (calls <= failures) throw new Error('device0: messages took more than 60000 ms')
      return rows
    }
  } as unknown as Child
  const slot = { index: 0, dir: '', child, up: true, draining: false, inFlight: 0, accountId: '', contactOf: new Map(), events: [], groupEvents: [], incarnations: [child] }
  return { slot, calls: () => calls }
}

test('chaos harness: a failed conversation read is retried until it answers, not counted as absent', { timeout: 30_000 }, async () => {
  const rows: Row[] = [{ id: 'aa', seq: 1, direction: 'in', state: 'delivered', at: 1 }]
  const d = flakyDevice(2, rows)
  let healed = 0
  const got = await readConversation(d.slot, 'c1', async () => { healed++ }, { tries: 10, retryMs: 1 })
  assert.deepEqual(got, rows)
  assert.equal(d.calls(), 3)
  assert.equal(healed, 2, 'each failure gives crashed devices a chance to come back first')
})

test('chaos harness: a device that never answers fails the run instead of reporting its messages lost', { timeout: 30_000 }, async () => {
  const d = flakyDevice(Number.POSITIVE_INFINITY, [])
  await assert.rejects(readConversation(d.slot, 'c1', async () => {}, { tries: 3, retryMs: 1 }), /cannot tell lost from unread/)
})

test('chaos harness: delay percentiles', () => {
  assert.deepEqual(percentiles([]), { p50: 0, p99: 0, max: 0 })
  const xs = Array.from({ length: 100 }, (_, i) => i + 1)
  assert.deepEqual(percentiles(xs), { p50: 51, p99: 100, max: 100 })
})

// The group's figures (issue 11) must catch each way a group message can go wrong at one member.
test('chaos harness: group figures count lost, duplicated, out-of-order and unacknowledged group messages per member', () => {
  const slot = (index: number, groupEvents: DeviceSlot['groupEvents'] = []): DeviceSlot =>
    ({ index, dir: '', child: {} as Child, up: true, draining: false, inFlight: 0, accountId: `acct${index}`, contactOf: new Map(), events: [], groupEvents, incarnations: [] })
  const g = { id: 'g1', members: [0, 1, 2] }
  const sent: GroupSent[] = [
    { from: 0, id: 'a', seq: 1, order: 0, total: 2 },
    { from: 0, id: 'b', seq: 2, order: 1, total: 2 },
    { from: 1, id: 'c', seq: 1, order: 0, total: 2 }
  ]
  const row = (id: string, sender: string, seq: number): GroupRow => ({ id, seq, direction: 'in', sender, at: 1, total: 0, delivered: 0 })
  const out = (id: string, seq: number, delivered: number): GroupRow => ({ id, seq, direction: 'out', sender: '', at: 1, total: 2, delivered })
  const perfect: GroupSnapshot = { rows: new Map([
    [0, [out('a', 1, 2), out('b', 2, 2), row('c', 'acct1', 1)]],
    [1, [row('a', 'acct0', 1), row('b', 'acct0', 2), out('c', 1, 2)]],
    [2, [row('a', 'acct0', 1), row('c', 'acct1', 1), row('b', 'acct0', 2)]]
  ]) }
  const devices = [slot(0), slot(1), slot(2)]
  const ok = groupFigures(devices, g, sent, 0, perfect)
  assert.ok(groupOk(ok), groupLine(ok))
  assert.ok(groupDone(g, sent, perfect))
  assert.match(groupLine(ok), /group of 3: sent 3, received per member \[device0 1\/1, device1 2\/2, device2 3\/3\], duplicates 0, out-of-order 0, lost 0/)

  // Member 2 lost 'c', holds 'b' before 'a', and showed 'a' twice; member 1's receipt for 'c' never came back.
  const bad: GroupSnapshot = { rows: new Map([
    [0, [out('a', 1, 2), out('b', 2, 2), row('c', 'acct1', 1)]],
    [1, [row('a', 'acct0', 1), row('b', 'acct0', 2), out('c', 1, 1)]],
    [2, [row('b', 'acct0', 2), row('a', 'acct0', 1)]]
  ]) }
  const shown = [{ event: 'group-message', direction: 'in', groupId: 'g1', sender: 'acct0', id: 'a' }, { event: 'group-message', direction: 'in', groupId: 'g1', sender: 'acct0', id: 'a' }]
  const r = groupFigures([slot(0), slot(1), slot(2, shown)], g, sent, 0, bad)
  assert.equal(r.lost, 1)
  assert.equal(r.outOfOrder, 1)
  assert.equal(r.duplicates, 1)
  assert.equal(r.notAcknowledged, 1)
  assert.ok(!groupOk(r))
  assert.ok(!groupDone(g, sent, bad))
  // A send sealed for fewer members than the group has is a failure on its own.
  assert.equal(groupFigures(devices, g, [...sent.slice(0, 2), { from: 1, id: 'c', seq: 1, order: 0, total: 1 }], 0, perfect).shortSends, 1)
})
