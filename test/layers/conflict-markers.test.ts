// No merge-conflict markers in any tracked text file: a merge that left one in docs once landed unnoticed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))
const TEXT = /\.(ts|tsx|mjs|js|json|md|html|css|yml|yaml|service|sh)$|^\.ci\/run$/

test('no tracked file holds a merge-conflict marker', () => {
  const files = execFileSync('git', ['ls-files'], { cwd: root, encoding: 'utf8' }).split('\n')
    .filter((f) => TEXT.test(f) && !f.startsWith('test/vectors/') && f !== 'package-lock.json')
  assert.ok(files.length > 50, 'the file list is read')
  const marker = /^(<{7} |>{7} |={7}$)/m
  const found = files.filter((f) => marker.test(readFileSync(new URL(f, `file://${root}/`), 'utf8')))
  assert.deepEqual(found, [])
})
