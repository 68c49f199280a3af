// Short-invite parking on a real relay (issue 13 review): the global cap of 10,000 alone let one sender with fresh
// peer ids take every slot in seconds, so parks are also bounded per network prefix and window. The relay stores
// nothing about who parked: the counts live in memory only.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { ParkedInvites } from '../../src/relay/parked-invites.ts'
import type { ParkRequest } from '../../src/wire/parked-invite.ts'
import { createTestnet } from '../helpers/testnet.ts'

const HOUR = 3600_000
type Park = Extract<ParkRequest, { op: 'park' }>
const park = (now: number): Park => ({ op: 'park', id: randomBytes(8), expiresAt: now + HOUR, removeToken: randomBytes(16), sealed: randomBytes(200) })

test('parks per network prefix are bounded even across fresh peer ids; a refused park stores nothing; fetch and remove are not counted', { timeout: 60_000 }, async (t) => {
  const net = await createTestnet(t, { relays: 1, devices: 1, relayLimits: { parkedInvitesPerPrefixWindow: 3 } })
  const [relay] = net.relays
  const [dev] = net.devices
  assert.ok(relay !== undefined && dev !== undefined)
  const parked: Park[] = []
  for (let i = 0; i < 3; i++) {
    const req = park(Date.now())
    assert.equal((await dev.park(relay.addr, req)).status, 'ok')
    parked.push(req)
    dev.rotateIdentities()
  }
  // A fresh peer id from the same network: refused, and nothing of it is kept.
  const over = park(Date.now())
  assert.equal((await dev.park(relay.addr, over)).status, 'refused')
  assert.equal((await dev.park(relay.addr, { op: 'fetch', id: over.id })).status, 'not-found')
  assert.equal(relay.handle.db.prepare('SELECT count(*) AS n FROM parked_invites').get()?.n, 3)
  // Fetches and removes of the parked ones still work at the bound.
  const first = parked[0] as Park
  for (let i = 0; i < 5; i++) assert.equal((await dev.park(relay.addr, { op: 'fetch', id: first.id })).status, 'ok')
  assert.equal((await dev.park(relay.addr, { op: 'remove', id: first.id, removeToken: first.removeToken })).status, 'ok')
  // A removal does not give the window's budget back (else park-remove loops would be free).
  assert.equal((await dev.park(relay.addr, park(Date.now()))).status, 'refused')
})

test('the per-prefix budget: another prefix parks meanwhile, a duplicate id costs nothing, and the next window starts afresh', { timeout: 30_000 }, async (t) => {
  const net = await createTestnet(t, { relays: 1, devices: 0, waitForReservations: false })
  const [relay] = net.relays
  assert.ok(relay !== undefined)
  let now = 1_000_000
  // The relay's real SQLCipher database, a second handler on it with a clock of its own.
  relay.handle.db.prepare('DELETE FROM parked_invites').run()
  const p = new ParkedInvites(relay.handle.db, { now: () => now, perPrefix: { bytesPerWindow: 2, windowMs: HOUR } })
  const a = park(now)
  assert.equal(p.answer(a, 'ip4:203.0.113').status, 'ok')
  // The same id again is refused, and the refusal gives its count back.
  assert.equal(p.answer({ ...a, removeToken: randomBytes(16) }, 'ip4:203.0.113').status, 'refused')
  assert.equal(p.answer(park(now), 'ip4:203.0.113').status, 'ok')
  assert.equal(p.answer(park(now), 'ip4:203.0.113').status, 'refused', 'the third park in the window')
  assert.equal(p.answer(park(now), 'ip4:198.51.100').status, 'ok', 'another network has its own budget')
  now += HOUR
  assert.equal(p.answer(park(now), 'ip4:203.0.113').status, 'ok', 'a new window')
  assert.equal(p.count(), 4)
})
