// An envelope held under a contact's new identity key tells the UI: a `contact` event (the contact now
// carries keyChange) and, for the envelope that started the change only, a warning naming the contact.
// Unit test: the e2ee layer is a double that refuses, the store is real; the real flow on libsignal is
// test/messenger/key-change.test.ts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { E2eeError } from '../../src/e2ee/errors.ts'
import { IdentityChangedError } from '../../src/e2ee/key-change.ts'
import { History } from '../../src/messenger/history.ts'
import { MessengerCore } from '../../src/messenger/messenger.ts'
import type { ContactPort, DevicePort, NetworkPort } from '../../src/messenger/ports.ts'
import type { MessengerEvent } from '../../src/messenger/types.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { openDatabase, resolveDatabaseKey } from '../../src/store/db.ts'
import { MIGRATIONS } from '../../src/store/schema.ts'
import type { Payload } from '../../src/wire/payload.ts'
import { tempDir } from '../helpers/testnet.ts'

test('an envelope held under a new identity key emits the contact (with keyChange) and one warning naming it; other refusals emit nothing', async (t) => {
  const dir = tempDir(t, '0m1-warning-')
  const db = openDatabase({ path: join(dir, 'store.db'), key: resolveDatabaseKey(dir, { create: true }), migrations: MIGRATIONS })
  t.after(() => { db.close() })
  const bob: ContactPort = {
    id: 'c1', name: 'Bob', accountId: 'a', verified: true, theirMailboxId: new Uint8Array(32), theirRelays: [], theirAddresses: [],
    myPresenceSecret: new Uint8Array(32), keyChange: { at: 1, state: 'pending', held: 1 }
  }
  let next: Error = new IdentityChangedError('c1', { fresh: true, held: true })
  const refuse = async (): Promise<never> => { throw next }
  // batch/startsContact: the same double also serves a messenger that opens envelopes in batches.
  const batch = async <T>(fn: (b: { open: typeof refuse }) => Promise<T>, extra?: (r: T) => void): Promise<T> => {
    const r = await fn({ open: refuse })
    extra?.(r)
    return r
  }
  const device = { openEnvelope: refuse, batch, startsContact: () => false, contacts: () => [bob], contact: () => bob, inboundMailboxes: () => [] } as unknown as DevicePort<Payload>
  const net = { peerId: 'p', addresses: () => [], onEnvelope: () => {} } as unknown as NetworkPort
  const core = new MessengerCore({ device, history: new History(db), net, logger: silentLogger, settings: () => ({ relayOnly: false, lanDiscovery: false, relays: [], fetchIsolation: 'device' as const }) })
  const events: MessengerEvent[] = []
  core.subscribe((e) => events.push(e))

  await assert.rejects(core.receiveEnvelope(new Uint8Array(1024), 'direct'), (e) => E2eeError.is(e, 'UNTRUSTED_IDENTITY'))
  assert.deepEqual(events.map((e) => e.type), ['contact', 'warning'])
  const [contact, warning] = events
  assert.deepEqual(contact?.type === 'contact' ? contact.contact.keyChange : undefined, { at: 1, state: 'pending', held: 1 })
  assert.equal(warning?.type === 'warning' ? warning.contactId : undefined, 'c1')
  assert.match(warning?.type === 'warning' ? warning.text : '', /Bob's safety number changed/)

  events.length = 0
  next = new IdentityChangedError('c1', { fresh: false, held: true })
  await assert.rejects(core.receiveEnvelope(new Uint8Array(1025), 'direct'), (e) => E2eeError.is(e, 'UNTRUSTED_IDENTITY'))
  assert.deepEqual(events.map((e) => e.type), ['contact'], 'a second held envelope warns no more')

  events.length = 0
  for (const code of ['BLOCKED_IDENTITY', 'BAD_SENDER', 'UNTRUSTED_IDENTITY'] as const) {
    next = new E2eeError(code, 'refused')
    await assert.rejects(core.receiveEnvelope(new Uint8Array(1026), 'direct'), (e) => E2eeError.is(e, code))
  }
  assert.deepEqual(events, [], 'a blocked key, a stranger or a bare refusal raise nothing')
  assert.equal(Number(db.prepare('SELECT count(*) AS n FROM messages').get()?.n), 0)
  await core.stop()
})
