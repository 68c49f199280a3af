// A process whose devices loaded WebRTC and stopped exits on its own: node-datachannel's native threads held the
// event loop open for ever after every device had stopped (the CLI and a test run never ended; run-tests.mjs's
// --test-force-exit hid it). Runs test/net/webrtc-allow.test.ts (whose devices negotiate real WebRTC) in a child WITHOUT
// --test-force-exit: it must end by itself. The bound is a hang guard, not a speed assertion.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))
const HANG_GUARD_MS = 150_000

test('a process whose devices used WebRTC and stopped exits by itself', { timeout: HANG_GUARD_MS + 10_000 }, async () => {
  const env = { ...process.env }
  delete env.NODE_TEST_CONTEXT // the child is its own test run, not a subtest of this one
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', './src/platform/shims.ts', '--test', '--test-reporter=dot', 'test/net/webrtc-allow.test.ts'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { out += d.toString() })
  const code = await new Promise<number | string>((resolve) => {
    const guard = setTimeout(() => { child.kill('SIGKILL'); resolve('still running') }, HANG_GUARD_MS)
    child.on('exit', (c, s) => { clearTimeout(guard); resolve(c ?? s ?? 'unknown') })
  })
  assert.equal(code, 0, `the child run: ${String(code)}\n${out.slice(-2000)}`)
})
