// A relay alone in its process (`0message1 relay`, ownProcess) runs the idle heap trimmer a started device runs
// (src/platform/heap-trim.ts), whoever starts it: the CLI and the relay.memory bench's relay child go through
// startRelay alone. A relay beside devices (tests, demo) leaves the process's heap to them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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
