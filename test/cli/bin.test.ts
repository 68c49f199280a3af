// The bin runs only the compiled build: a copy without dist/ must say how to build, not crash or fall
// back to a TypeScript loader.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const BIN = fileURLToPath(new URL('../../bin/0message1.js', import.meta.url))

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
