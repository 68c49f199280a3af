// Fuzzes every decoder of untrusted bytes (test/fuzz/targets.ts): >= 10,000 cases each (FUZZ_RUNS for
// more, FUZZ_SEED to replay). Each target runs in its own child with a bounded heap and a deadline, so
// a crash, a hang or a memory blow-up fails the test instead of taking the runner down.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { TARGETS } from './targets.ts'
import type { FuzzResult } from './harness.ts'
import { REPO_ROOT, spawnChild } from '../helpers/procs.ts'

/** The issue asks for at least this many cases per decoder in CI. */
const MIN_RUNS = 10_000
const RUNS = Math.max(MIN_RUNS, Number(process.env.FUZZ_RUNS ?? MIN_RUNS))
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED)
/** Heap bound of a fuzz child: a decoder that allocates from an unchecked length blows it. */
const CHILD_HEAP_MB = 256
/** RSS bound: heap plus buffers; decoding <= 64 KiB inputs must never come near it. */
const MAX_RSS_MB = 600
/** A hang bound, not a speed target: 10,000 small decodes take about a second here. */
const deadlineMs = (runs: number): number => 60_000 + runs * 5

TARGETS.forEach((spec, index) => {
  test(`fuzz: ${spec.name} — ${RUNS} cases, only typed errors`, { timeout: deadlineMs(RUNS) + 30_000 }, async (t) => {
    if (!existsSync(join(REPO_ROOT, spec.module))) {
      console.error(`*** SKIPPING FUZZ TARGET: ${spec.module} does not exist yet ***`)
      t.skip(`${spec.module} does not exist yet`)
      return
    }
    const child = spawnChild('test/fuzz/run-target.ts', { name: `fuzz ${spec.name}`, nodeArgs: [`--max-old-space-size=${CHILD_HEAP_MB}`], t })
    const r = await child.request<FuzzResult>('run', { index, runs: RUNS, seed: SEED }, deadlineMs(RUNS))
    await child.stop()
    const rejected = Object.entries(r.rejected).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}=${v}`).join(' ')
    console.log(`fuzz ${spec.name}: ${r.runs} cases in ${r.ms} ms, accepted ${r.accepted}, rejected ${rejected}; slowest case ${r.maxCaseMs.toFixed(1)} ms, peak RSS ${r.peakRssMb} MB`)
    assert.equal(r.runs, RUNS)
    assert.ok(r.peakRssMb < MAX_RSS_MB, `peak RSS ${r.peakRssMb} MB`)
    assert.ok(Object.keys(r.rejected).length > 0, 'mutated inputs must be rejected sometimes')
  })
})
