// api.json, which CLI commands read to find a data directory's running node: checked by hand (no zod at start,
// issue 10), so every condition is pinned here. A damaged, hostile or odd file reads as "no node", never a crash.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { API_INFO_FILE, readApiInfo, removeApiInfo, writeApiInfo } from '../../src/api/discovery.ts'

function dir (t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), '0m1-apiinfo-'))
  t.after(() => { rmSync(d, { recursive: true, force: true }) })
  return d
}

test('api.json: a written file reads back; each malformed field, type or size reads as none', (t) => {
  const d = dir(t)
  writeApiInfo(d, { url: 'http://127.0.0.1:7412', pid: 4242 })
  assert.deepEqual(readApiInfo(d), { version: 1, url: 'http://127.0.0.1:7412', pid: 4242 })
  const good = { version: 1, url: 'http://[::1]:7412', pid: 7 }
  const cases: Array<[string, string]> = [
    ['valid IPv6', JSON.stringify(good)],
    ['wrong version', JSON.stringify({ ...good, version: 2 })],
    ['pid 0', JSON.stringify({ ...good, pid: 0 })],
    ['pid 1.5', JSON.stringify({ ...good, pid: 1.5 })],
    ['pid as a string', JSON.stringify({ ...good, pid: '7' })],
    ['pid 1e300', '{"version":1,"url":"http://127.0.0.1:1","pid":1e300}'],
    ['a url with a path', JSON.stringify({ ...good, url: 'http://127.0.0.1:1/x' })],
    ['a url with a newline', JSON.stringify({ ...good, url: 'http://127.0.0.1:1\nX' })],
    ['https', JSON.stringify({ ...good, url: 'https://127.0.0.1:1' })],
    ['an array', JSON.stringify([good])],
    ['null', 'null'],
    ['not JSON', '{"version":1,'],
    ['over the size bound', JSON.stringify({ ...good, pad: 'x'.repeat(5000) })]
  ]
  for (const [what, text] of cases) {
    writeFileSync(join(d, API_INFO_FILE), text)
    const got = readApiInfo(d)
    if (what === 'valid IPv6') assert.deepEqual(got, good, what)
    else assert.equal(got, undefined, what)
  }
  rmSync(join(d, API_INFO_FILE))
  assert.equal(readApiInfo(d), undefined, 'no file')
})

test('api.json: a FIFO or a link to an endless device reads as none at once (no hang, no flood)', (t) => {
  const d = dir(t)
  symlinkSync('/dev/zero', join(d, API_INFO_FILE))
  assert.equal(readApiInfo(d), undefined, 'a symbolic link')
  rmSync(join(d, API_INFO_FILE))
  execFileSync('mkfifo', [join(d, API_INFO_FILE)])
  assert.equal(readApiInfo(d), undefined, 'a FIFO')
  // removeApiInfo on a file naming another process leaves it.
  rmSync(join(d, API_INFO_FILE))
  writeApiInfo(d, { url: 'http://127.0.0.1:1', pid: 99 })
  removeApiInfo(d, 98)
  assert.equal(readApiInfo(d)?.pid, 99)
  removeApiInfo(d, 99)
  assert.equal(readApiInfo(d), undefined)
})
