#!/usr/bin/env node
// Runs every test file under test/ with Node's test runner. Node 20's runner has no glob and exits 0
// when it finds nothing, so the files are listed here and an empty list is a failure.
// Usage: node scripts/run-tests.mjs [path-prefix ...]   (e.g. test/wire test/e2ee)
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

function walk (dir) {
  const out = []
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...walk(path))
    else if (name.endsWith('.test.ts')) out.push(relative(root, path))
  }
  return out
}

const prefixes = process.argv.slice(2)
const files = walk(join(root, 'test'))
  .filter((f) => prefixes.length === 0 || prefixes.some((p) => f.startsWith(p)))
  .sort()
if (files.length === 0) {
  console.error(`run-tests: no test files found under test/${prefixes.length > 0 ? ` matching ${prefixes.join(', ')}` : ''}`)
  process.exit(1)
}
console.log(`run-tests: ${files.length} test files`)
const child = spawn(process.execPath, [
  '--import', 'tsx', '--import', './src/platform/shims.ts',
  // --test-force-exit: a file whose test failed half-way may still hold a socket or timer open; the
  // run must report and end, not hang until CI's own deadline.
  '--test', '--test-reporter=spec', '--test-concurrency=1', '--test-force-exit',
  '--test-timeout=300000',
  ...files
], { cwd: root, stdio: 'inherit' })
child.on('exit', (code, signal) => process.exit(code ?? (signal !== null ? 1 : 0)))
