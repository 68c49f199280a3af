// libp2p's own debug loggers are off unless DEBUG asks for them (src/net/libp2p-logger.ts): one shared quiet
// logger for every component, connection and stream, and libp2p's default logger when DEBUG is set.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { QUIET_LIBP2P_LOGGER, libp2pLoggerOption } from '../../src/net/libp2p-logger.ts'
import { createProfileLibp2p } from '../../src/net/libp2p.ts'

test('libp2p logger: quiet and shared without DEBUG, the default with DEBUG', async () => {
  assert.equal(libp2pLoggerOption({}).logger, QUIET_LIBP2P_LOGGER)
  assert.equal(libp2pLoggerOption({ DEBUG: '' }).logger, QUIET_LIBP2P_LOGGER)
  assert.deepEqual(libp2pLoggerOption({ DEBUG: 'libp2p:dcutr*' }), {})
  const a = QUIET_LIBP2P_LOGGER.forComponent('libp2p:yamux')
  assert.equal(a.enabled, false)
  assert.equal(a.newScope('inbound:1'), a, 'a stream scope is the same object: nothing allocated per stream')
  assert.equal(QUIET_LIBP2P_LOGGER.forComponent('libp2p:tcp'), a)
  a('nothing %s', 'logged')
  a.error('nothing')
  a.trace('nothing')
})

test('libp2p logger: a node is built with the logger the environment calls for', async () => {
  const quiet = libp2pLoggerOption().logger !== undefined
  const node = await createProfileLibp2p({ profile: 'relay', listen: ['/ip4/127.0.0.1/tcp/0'] })
  try {
    assert.equal((node as unknown as { logger: unknown }).logger === QUIET_LIBP2P_LOGGER, quiet)
  } finally {
    await node.stop()
  }
})
