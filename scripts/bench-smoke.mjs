#!/usr/bin/env node
// CI smoke check of the benchmark: runs `npm run bench -- --quick` into a temporary file and fails only
// when the run did not finish or a row has no value. The figures themselves never pass or fail here:
// speed is judged in the benchmark's own table, not in CI.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), '0m1-bench-smoke-'))
const out = join(dir, 'quick.json')
try {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/main.ts', '--quick', '--out', out], { cwd: root, stdio: 'inherit', timeout: 15 * 60_000 })
  if (r.status !== 0) {
    console.error(`bench-smoke: the quick benchmark exited ${String(r.status ?? r.signal)}`)
    process.exit(1)
  }
  const rows = JSON.parse(readFileSync(out, 'utf8'))
  if (!Array.isArray(rows) || rows.length === 0) {
    console.error('bench-smoke: the quick benchmark wrote no rows')
    process.exit(1)
  }
  const missing = rows.filter((row) => typeof row.value !== 'number' || !Number.isFinite(row.value))
  if (missing.length > 0) {
    console.error(`bench-smoke: ${missing.length} of ${rows.length} rows have no value:`)
    for (const row of missing) console.error(`  ${row.name}: ${row.note ?? 'no note'}`)
    process.exit(1)
  }
  console.log(`bench-smoke: all ${rows.length} rows have a value`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
