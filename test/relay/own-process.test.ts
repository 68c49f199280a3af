// A relay alone in its process (`0message1 relay`, ownProcess) runs the idle heap trimmer a started device runs
// (src/platform/heap-trim.ts), whoever starts it: the CLI and the relay.memory bench's relay child go through
// startRelay alone. A relay beside devices (tests, demo) leaves the process's heap to them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { startRelay } from '../../src/relay/service.ts'
import { silentLogger } from '../../src/platform/logger.ts'

test('relay: alone in its process it runs the heap trimmer; beside devices it runs none', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-own-'))
  try {
    const beside = await startRelay({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], logger: silentLogger, stun: 'off', advertise: false })
    assert.equal(beside.heapTrimmer, undefined)
    await beside.stop()
    const alone = await startRelay({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], logger: silentLogger, stun: 'off', advertise: false, ownProcess: true })
    try {
      assert.notEqual(alone.heapTrimmer, undefined, 'no heap trimmer in a relay alone in its process')
    } finally {
      await alone.stop()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

// The trimmer's timer is unref'd, so a trimmer left running keeps no process alive: only its count shows it.
test('relay: stop() stops its heap trimmer', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-own-'))
  try {
    // Slack 0: every look at an idle loop trims.
    const relay = await startRelay({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], logger: silentLogger, stun: 'off', advertise: false, ownProcess: true, heapTrim: { earlyIntervalMs: 20, intervalMs: 20, slackBytes: 0 } })
    const trimmer = relay.heapTrimmer
    assert.ok(trimmer !== undefined)
    try {
      for (let i = 0; i < 500 && trimmer.trims() === 0; i++) await sleep(20)
      assert.ok(trimmer.trims() > 0, 'the trimmer never trimmed an idle relay')
    } finally {
      await relay.stop()
    }
    const atStop = trimmer.trims()
    await sleep(300)
    assert.equal(trimmer.trims(), atStop, 'the heap trimmer still runs after stop()')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
