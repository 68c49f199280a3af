import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  finalizeRows, formatMarkdown, formatTable, goalMet, latencyStats, machine, ratioOf, runBenchmark, writeResults,
  type Benchmark, type RowInput
} from '../../bench/harness.ts'

const meta = { mode: 'quick' as const, machine: machine(), node: process.version, date: '2025-01-01T00:00:00.000Z' }
const KEYS = ['name', 'unit', 'value', 'baseline', 'baseline_value', 'ratio', 'better', 'goal']

const rows: RowInput[] = [
  { name: 'a.throughput', unit: 'msg/s', value: 1500, better: 'higher', baseline: 'raw', baselineKey: 'raw', goal: { text: 'ratio >= 0.7', on: 'ratio', op: '>=', target: 0.7 } },
  { name: 'b.hops', unit: 'hops', value: 3, better: 'lower', baseline: 'log2(N)', baselineValue: Math.log2(100), goal: { text: '<= log2(N)', on: 'ratio', op: '<=', target: 1 } },
  { name: 'c.memory', unit: 'KB', value: null, better: 'lower', baseline: null, goal: { text: '<= 200 KB', on: 'value', op: '<=', target: 200 }, note: 'module missing' },
  { name: 'd.latency', unit: 'ms', value: 4, better: 'lower', baseline: 'central', baselineKey: 'never-recorded', goal: null }
]

test('ratio is value / baseline_value from the same run; missing or zero baseline gives null', () => {
  assert.equal(ratioOf(10, 4), 2.5)
  assert.equal(ratioOf(null, 4), null)
  assert.equal(ratioOf(10, null), null)
  assert.equal(ratioOf(10, 0), null)
  const out = finalizeRows(rows, new Map([['raw', 2000]]), meta)
  assert.equal(out[0]?.baseline_value, 2000)
  assert.equal(out[0]?.ratio, 0.75)
  assert.equal(out[0]?.goal_met, true)
  assert.equal(out[1]?.ratio, 3 / Math.log2(100))
  assert.equal(out[1]?.goal_met, true)
  assert.equal(out[2]?.value, null)
  assert.equal(out[2]?.goal_met, null)
  assert.equal(out[3]?.baseline_value, null)
  assert.equal(out[3]?.ratio, null)
  assert.match(out[3]?.note ?? '', /never-recorded not measured/)
})

test('a floor is resolved from the same run and printed beside the goal; a row without one has null', () => {
  const withFloor: RowInput[] = [
    { name: 'e.rate', unit: 'msg/s', value: 300, better: 'higher', baseline: null, goal: { text: '>= 2,000', on: 'value', op: '>=', target: 2000 }, floor: 'raw + one commit', floorKey: 'floor.e' },
    { name: 'f.rate', unit: 'msg/s', value: 300, better: 'higher', baseline: null, goal: null, floor: 'never measured', floorKey: 'missing' }
  ]
  const out = finalizeRows([...withFloor, ...rows], new Map([['floor.e', 1234], ['raw', 2000]]), meta)
  assert.equal(out[0]?.floor_value, 1234)
  assert.equal(out[0]?.floor, 'raw + one commit')
  assert.equal(out[0]?.goal_met, false)
  assert.equal(out[1]?.floor_value, null)
  assert.equal(out[2]?.floor, null)
  const table = formatTable(out)
  assert.match(table.split('\n')[0] ?? '', / floor$/)
  assert.match(table, /e\.rate +300 .* NO +1,234/)
  assert.match(table, /e\.rate: floor: raw \+ one commit/)
})

test('goals check the value or the ratio in the stated direction', () => {
  const g = { text: '>= 2000', on: 'value' as const, op: '>=' as const, target: 2000 }
  assert.equal(goalMet(g, 2000, null), true)
  assert.equal(goalMet(g, 1999, null), false)
  assert.equal(goalMet({ ...g, on: 'ratio', op: '<=', target: 1.5 }, 1, 1.6), false)
  assert.equal(goalMet(null, 1, 1), null)
})

test('latest.json is an array of rows with the issue keys, machine and Node version on every row', (t) => {
  const dir = mkdtempSync(join(tmpdir(), '0m1-bench-test-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const path = join(dir, 'results', 'latest.json')
  writeResults(path, finalizeRows(rows, new Map([['raw', 2000]]), meta))
  const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'))
  assert.ok(Array.isArray(parsed))
  assert.equal(parsed.length, rows.length)
  for (const r of parsed as Array<Record<string, unknown>>) {
    for (const k of KEYS) assert.ok(k in r, `row ${String(r.name)} has ${k}`)
    assert.ok(r.better === 'higher' || r.better === 'lower')
    assert.equal(r.node, process.version)
    assert.equal(typeof (r.machine as { cpu: unknown }).cpu, 'string')
    assert.equal(typeof (r.machine as { cores: unknown }).cores, 'number')
  }
})

test('table and markdown have one line per row plus headers; missing values print as a dash', () => {
  const out = finalizeRows(rows, new Map([['raw', 2000]]), meta)
  const md = formatMarkdown(out).split('\n')
  assert.equal(md.length, rows.length + 2)
  assert.match(md[0] ?? '', /^\| name \| value \| unit \| baseline \|/)
  assert.ok(md.every((l) => l.startsWith('|') && l.endsWith('|')))
  assert.match(md[4] ?? '', /\| c\.memory \| — \|/)
  const table = formatTable(out)
  assert.match(table, /a\.throughput +1,500 +msg\/s/)
  assert.match(table, /notes:\n {2}c\.memory: module missing/)
})

test('a failing or overdue benchmark still yields its rows (value null, with the reason) and runs its cleanups', async () => {
  let cleaned = 0
  let dir = ''
  const failing: Benchmark = {
    name: 'fails',
    timeoutMs: 1000,
    quickTimeoutMs: 1000,
    rows: [{ name: 'fails.x', unit: 'ms', better: 'lower', baseline: null, goal: null }],
    run: async (ctx) => { dir = ctx.tmpDir('t'); ctx.defer(() => { cleaned++ }); throw new Error('boom') }
  }
  const r1 = await runBenchmark(failing, { quick: true, record: () => {}, progress: () => {} })
  assert.deepEqual(r1.map((r) => [r.name, r.value]), [['fails.x', null]])
  assert.match(r1[0]?.note ?? '', /boom/)
  assert.equal(cleaned, 1)
  assert.equal(existsSync(dir), false)

  const slow: Benchmark = {
    ...failing,
    name: 'slow',
    quickTimeoutMs: 50,
    run: async (ctx) => {
      ctx.defer(() => { cleaned++ })
      await new Promise((resolve) => { ctx.signal.addEventListener('abort', resolve) })
      return []
    }
  }
  const r2 = await runBenchmark(slow, { quick: true, record: () => {}, progress: () => {} })
  assert.match(r2[0]?.note ?? '', /did not finish within 50 ms/)
  assert.equal(cleaned, 2)
})

test('latency percentiles', () => {
  const s = latencyStats(Array.from({ length: 100 }, (_, i) => 100 - i))
  assert.equal(s.p50, 50)
  assert.equal(s.p99, 99)
  assert.equal(s.mean, 50.5)
})
