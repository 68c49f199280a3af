// The bin runs only the compiled build: a copy without dist/ must say how to build, not crash or fall
// back to a TypeScript loader. Run by its path (npm's bin link, `npm start`), its first line starts Node with
// the launch settings (bin/0message1.js says why), and the benchmarks read them from there.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { BIN, binLaunch } from '../helpers/launch.ts'

const ROOT = dirname(dirname(BIN))

test('bin: without dist/ it exits 1 with one sentence telling to run npm run build', (t) => {
  const root = mkdtempSync(join(tmpdir(), '0m1-bin-'))
  t.after(() => { rmSync(root, { recursive: true, force: true }) })
  mkdirSync(join(root, 'bin'))
  copyFileSync(BIN, join(root, 'bin', '0message1.js'))
  const r = spawnSync(process.execPath, [join(root, 'bin', '0message1.js'), '--help'], { encoding: 'utf8', timeout: 30_000 })
  assert.equal(r.status, 1)
  assert.match(r.stderr, /^0message1: .*not built.*`npm run build`.*\n$/)
  assert.equal(r.stdout, '')
})

test('bin: run by its path, Node starts with one malloc arena, as its first line says and the benchmarks read it', (t) => {
  const launch = binLaunch()
  assert.equal(launch.env.MALLOC_ARENA_MAX, '1')
  // A copy whose dist/ only reports how Node was started.
  const root = mkdtempSync(join(tmpdir(), '0m1-bin-'))
  t.after(() => { rmSync(root, { recursive: true, force: true }) })
  for (const d of ['bin', 'dist/cli', 'dist/platform']) mkdirSync(join(root, d), { recursive: true })
  const bin = join(root, 'bin', '0message1.js')
  copyFileSync(BIN, bin)
  writeFileSync(join(root, 'package.json'), '{ "type": "module" }\n')
  writeFileSync(join(root, 'dist/platform/shims.js'), '')
  writeFileSync(join(root, 'dist/cli/main.js'), 'export async function main () { process.stdout.write(JSON.stringify({ env: process.env.MALLOC_ARENA_MAX, execArgv: process.execArgv })); return 0 }\n')
  // `env` finds this process's Node first, so each Node line of CI checks its own start.
  const r = spawnSync(bin, [], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, MALLOC_ARENA_MAX: '8', PATH: dirname(process.execPath) + delimiter + (process.env.PATH ?? '') } })
  assert.equal(r.status, 0, r.stderr)
  assert.deepEqual(JSON.parse(r.stdout), { env: launch.env.MALLOC_ARENA_MAX, execArgv: launch.execArgv })
})

test('bin: `npm start` runs it by its path, so through its first line', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>, bin: Record<string, string> }
  assert.equal(pkg.bin['0message1'], 'bin/0message1.js')
  assert.match(pkg.scripts.start ?? '', /&& \.\/bin\/0message1\.js start$/)
})
