// The chaos run at its CI size (test/chaos/run.ts --ci): 3 relays and 10 devices in separate processes,
// 600 messages while relays are SIGKILLed and devices go away and come back; a tenth of them go to a group of 6 of
// the devices (issue 11), each held to the same bar at every member. CHAOS_SEED replays a run.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { CI, lateLine, resultOk, runChaos, summaryLine } from './run.ts'

test('chaos (CI size): every message delivered exactly once, in order, acknowledged, despite faults', { timeout: 300_000 }, async () => {
  const seed = process.env.CHAOS_SEED !== undefined ? Number(process.env.CHAOS_SEED) : Date.now() % 1_000_000
  const r = await runChaos({ ...CI, seed, log: (line) => { console.log(line) } })
  console.log(`chaos: ${r.ms} ms; faults ${JSON.stringify(r.faults)}; paths ${JSON.stringify(r.paths)}; not acknowledged ${r.notAcknowledged}; device crashes ${r.crashes}; arrival inversions ${r.arrivalInversions}`)
  console.log(lateLine(r))
  console.log(summaryLine(r))
  assert.ok(r.faults.relayKills + r.faults.deviceKills + r.faults.deviceStops > 0, 'faults were injected')
  assert.ok(r.group !== undefined && r.group.size === 6 && r.group.sent > 0, 'the group of 6 sent messages through the faults')
  assert.ok(resultOk(r), `${summaryLine(r)}; not acknowledged ${r.notAcknowledged}; device crashes ${r.crashes} (seed ${seed})`)
})
