// The relay's smaller Buffer slab (src/platform/buffer-pool.ts): a small Buffer is then a slice of a slab no
// larger than RELAY_BUFFER_POOL_BYTES (so a kept one pins at most that), the pool never grows back, and a relay
// sets it at start.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RELAY_BUFFER_POOL_BYTES, shrinkBufferPool } from '../../src/platform/buffer-pool.ts'
import { startRelay } from '../../src/relay/service.ts'
import { silentLogger } from '../../src/platform/logger.ts'

test('buffer pool: after shrinking, a small Buffer pins a slab of the smaller size; it never grows back', () => {
  const was = Buffer.poolSize
  try {
    Buffer.poolSize = 8 * 1024
    const before = Buffer.allocUnsafe(16)
    assert.equal(before.buffer.byteLength, 8 * 1024, 'the default: a 16-byte Buffer keeps an 8 KB slab alive')
    shrinkBufferPool(RELAY_BUFFER_POOL_BYTES)
    assert.equal(Buffer.poolSize, RELAY_BUFFER_POOL_BYTES)
    // Exhaust the current 8 KB slab so the next slice comes from a new, smaller one.
    for (let i = 0; i < 8 * 1024 / 16; i++) Buffer.allocUnsafe(16)
    const after = Buffer.allocUnsafe(16)
    assert.ok(after.buffer.byteLength <= RELAY_BUFFER_POOL_BYTES, `slab ${after.buffer.byteLength} bytes`)
    shrinkBufferPool(64 * 1024)
    assert.equal(Buffer.poolSize, RELAY_BUFFER_POOL_BYTES, 'a larger size is ignored')
  } finally {
    Buffer.poolSize = was
  }
})

test('buffer pool: a relay alone in its process shrinks it; one beside devices (tests, demo) leaves it alone', async () => {
  const was = Buffer.poolSize
  const dir = mkdtempSync(join(tmpdir(), 'bufpool-'))
  try {
    Buffer.poolSize = 8 * 1024
    const beside = await startRelay({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], logger: silentLogger, stun: 'off', advertise: false })
    await beside.stop()
    assert.equal(Buffer.poolSize, 8 * 1024)
    const relay = await startRelay({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], logger: silentLogger, stun: 'off', advertise: false, ownProcess: true })
    try {
      assert.equal(Buffer.poolSize, RELAY_BUFFER_POOL_BYTES)
    } finally {
      await relay.stop()
    }
  } finally {
    Buffer.poolSize = was
    rmSync(dir, { recursive: true, force: true })
  }
})
