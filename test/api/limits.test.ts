// Each limit at its maximum, set through the local API of a real device (messenger, e2ee, store,
// libp2p on loopback): the most relays, the longest name and text, the longest invite lifetime.
// After that a contact card still reaches the contact and new invites are still made (issue 15:
// the API once took 16 relays while a card holds 8, and every card and invite then failed).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createApiServer } from '../../src/api/server.ts'
import { MAX_INVITE_LIFETIME_MS } from '../../src/e2ee/invites.ts'
import { createDeviceHost } from '../../src/messenger/host.ts'
import type { MessengerEvent } from '../../src/messenger/types.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { ContactRepository } from '../../src/store/contacts.ts'
import { DATABASE_FILE, openDatabase, resolveDatabaseKey } from '../../src/store/db.ts'
import { MIGRATIONS } from '../../src/store/schema.ts'
import { decodeInvite, linkToInvite } from '../../src/wire/invite.ts'
import { MAX_NAME_BYTES, MAX_RELAYS, MAX_TEXT_BYTES } from '../../src/wire/payload.ts'
import { call } from '../helpers/http.ts'
import { waitFor } from '../helpers/wait.ts'

function tempDir (t: { after: (fn: () => void) => void }, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}

/** Relays nobody listens on (port 1 on loopback refuses at once): the settings take them all the same. */
async function unreachableRelays (n: number): Promise<string[]> {
  return await Promise.all(Array.from({ length: n }, async () => `/ip4/127.0.0.1/tcp/1/p2p/${peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()}`))
}

test('limits at their maximum through the API: most relays, longest name, text and invite lifetime; cards and invites still work', { timeout: 120_000 }, async (t) => {
  const aliceDir = tempDir(t, '0m1-limits-a-')
  const bobDir = tempDir(t, '0m1-limits-b-')
  const alice = await createDeviceHost({ dataDir: aliceDir, logger: silentLogger })
  t.after(async () => { await alice.stop() })
  const server = await createApiServer({ host: alice, dataDir: aliceDir, listen: '127.0.0.1:0', logger: silentLogger })
  t.after(async () => { await server.close() })
  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number, body: unknown }> => {
    const r = await call(server.url, method, path, { token: server.token, ...(body === undefined ? {} : { body }) })
    return { status: r.status, body: r.text === '' ? undefined : r.json() }
  }

  // The longest name: MAX_NAME_BYTES of UTF-8 (two bytes a character here); one byte more is refused.
  const longName = 'é'.repeat(MAX_NAME_BYTES / 2)
  assert.equal((await api('POST', '/api/account', { name: longName + 'x' })).status, 400)
  assert.equal((await api('POST', '/api/account', { name: longName })).status, 201)

  const bobHost = await createDeviceHost({ dataDir: bobDir, logger: silentLogger })
  t.after(async () => { await bobHost.stop() })
  const bob = await bobHost.createAccount({ name: 'Bob' })
  const bobEvents: MessengerEvent[] = []
  bob.subscribe((e) => { bobEvents.push(e) })

  // Bob accepts an invite of the longest lifetime; his card reaches Alice directly on loopback.
  const first = await api('POST', '/api/invites', { expiresInMs: MAX_INVITE_LIFETIME_MS })
  assert.equal(first.status, 201)
  assert.equal((await api('POST', '/api/invites', { expiresInMs: MAX_INVITE_LIFETIME_MS + 1 })).status, 400)
  const aliceAtBob = await bob.acceptInvite((first.body as { link: string }).link)
  assert.equal(aliceAtBob.name, longName)
  await waitFor(async () => ((await api('GET', '/api/contacts')).body as unknown[]).length === 1, "Bob's card at Alice", 30_000)

  // The most relays: accepted, one more refused; subscribers get a `status` event with them.
  const aliceEvents: MessengerEvent[] = []
  alice.messenger()?.subscribe((e) => { aliceEvents.push(e) })
  const relays = await unreachableRelays(MAX_RELAYS + 1)
  assert.equal((await api('PATCH', '/api/settings', { relays })).status, 400)
  const patched = await api('PATCH', '/api/settings', { relays: relays.slice(0, MAX_RELAYS) })
  assert.equal(patched.status, 200)
  assert.equal((patched.body as { relays: string[] }).relays.length, MAX_RELAYS)
  await waitFor(() => aliceEvents.some((e) => e.type === 'status' && e.status.settings.relays.length === MAX_RELAYS), 'a status event', 30_000)

  // A new invite carries every relay.
  const second = await api('POST', '/api/invites', { expiresInMs: MAX_INVITE_LIFETIME_MS })
  assert.equal(second.status, 201)
  assert.deepEqual(decodeInvite(linkToInvite((second.body as { link: string }).link)).record.relays, relays.slice(0, MAX_RELAYS))

  // The longest text reaches Bob.
  const bobId = ((await api('GET', '/api/contacts')).body as Array<{ id: string }>)[0]?.id ?? ''
  const text = 'é'.repeat(MAX_TEXT_BYTES / 2)
  assert.equal((await api('POST', `/api/contacts/${bobId}/messages`, { text: text + 'x' })).status, 400)
  assert.equal((await api('POST', `/api/contacts/${bobId}/messages`, { text })).status, 201)
  await waitFor(() => bobEvents.some((e) => e.type === 'message' && e.message.text === text), 'the longest text at Bob', 30_000)

  // Alice's card with all her relays reaches Bob: read from his store while he runs (a second
  // SQLCipher connection; WAL lets it read what his node committed).
  const bobDb = openDatabase({ path: join(bobDir, DATABASE_FILE), key: resolveDatabaseKey(bobDir, { create: false }), migrations: MIGRATIONS })
  t.after(() => { bobDb.close() })
  const stored = await waitFor(() => {
    const row = new ContactRepository(bobDb).all().find((c) => c.id === aliceAtBob.id)
    return row !== undefined && row.theirRelays.length > 0 ? row.theirRelays : undefined
  }, "Alice's card with her relays at Bob", 30_000)
  assert.deepEqual(stored, relays.slice(0, MAX_RELAYS))
  assert.ok(bobEvents.some((e) => e.type === 'contact' && e.contact.id === aliceAtBob.id && e.contact.name === longName))
})
