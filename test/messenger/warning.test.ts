// A message refused for an identity key that is not the pinned one shows the user a warning
// (unit test: the e2ee layer is a double that refuses, the store is real).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { E2eeError } from '../../src/e2ee/errors.ts'
import { History } from '../../src/messenger/history.ts'
import { MessengerCore } from '../../src/messenger/messenger.ts'
import type { DevicePort, NetworkPort } from '../../src/messenger/ports.ts'
import type { MessengerEvent } from '../../src/messenger/types.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { openDatabase, resolveDatabaseKey } from '../../src/store/db.ts'
import { MIGRATIONS } from '../../src/store/schema.ts'
import type { Payload } from '../../src/wire/payload.ts'
import { tempDir } from '../helpers/testnet.ts'

test('an envelope refused as UNTRUSTED_IDENTITY raises a warning event and is not stored', async (t) => {
  const dir = tempDir(t, '0m1-warning-')
  const db = openDatabase({ path: join(dir, 'store.db'), key: resolveDatabaseKey(dir, { create: true }), migrations: MIGRATIONS })
  t.after(() => { db.close() })
  const refuse = async (): Promise<never> => { throw new E2eeError('UNTRUSTED_IDENTITY', 'The sender\'s identity key is not the pinned one.') }
  const batch = async <T>(fn: (b: { open: typeof refuse }) => Promise<T>, extra?: (r: T) => void): Promise<T> => {
    const r = await fn({ open: refuse })
    extra?.(r)
    return r
  }
  const device = { openEnvelope: refuse, batch, startsContact: () => false, contacts: () => [], inboundMailboxes: () => [] } as unknown as DevicePort<Payload>
  const net = { peerId: 'p', addresses: () => [], onEnvelope: () => {} } as unknown as NetworkPort
  const core = new MessengerCore({ device, history: new History(db), net, logger: silentLogger, settings: () => ({ relayOnly: false, lanDiscovery: false, relays: [], fetchIsolation: 'device' as const }) })
  const events: MessengerEvent[] = []
  core.subscribe((e) => events.push(e))
  await assert.rejects(core.receiveEnvelope(new Uint8Array(1024), 'direct'), (e) => E2eeError.is(e, 'UNTRUSTED_IDENTITY'))
  const warnings = events.filter((e) => e.type === 'warning')
  assert.equal(warnings.length, 1)
  assert.match(warnings[0]?.type === 'warning' ? warnings[0].text : '', /safety numbers/)
  assert.equal(Number(db.prepare('SELECT count(*) AS n FROM messages').get()?.n), 0)
  await core.stop()
})
