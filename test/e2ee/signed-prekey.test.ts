// Issue 14 item 10: the signed prekey rotates on a schedule (SIGNED_PREKEY_ROTATION_MS); a replaced one
// is kept for SIGNED_PREKEY_GRACE_MS, so an invite that named it still opens its first message (PQXDH
// against the old key), and is deleted after.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { Device, MAX_INVITE_LIFETIME_MS, PENDING_INVITE_GRACE_MS, SIGNED_PREKEY_GRACE_MS, SIGNED_PREKEY_ROTATION_MS } from '../../src/e2ee/device.ts'
import { decodeInvite, linkToInvite } from '../../src/wire/invite.ts'
import { tempDir, text } from './helpers.ts'

const DAY = 24 * 3600_000
const card = { relays: ['/ip4/127.0.0.1/tcp/4001/p2p/relayA'], addresses: [] }
const spkOf = (link: string): number => decodeInvite(linkToInvite(link)).record.signedPreKeyId
const held = (d: Device): number[] => d.db.prepare('SELECT id FROM signal_signed_prekeys ORDER BY id').all().map((r) => r.id as number)

test('the signed prekey rotates weekly; an invite on the old one still opens within the grace; the old one is deleted after', async (t) => {
  const dir = tempDir(t)
  const t0 = 1_760_000_000_000
  let now = t0
  const alice = await Device.create(join(dir, 'alice'), { name: 'Alice', now: () => now })
  const bob = await Device.create(join(dir, 'bob'), { name: 'Bob', now: () => now })
  t.after(() => { alice.close(); bob.close() })

  const first = await alice.createInvite({ ...card, expiresInMs: MAX_INVITE_LIFETIME_MS })
  const old = spkOf(first.link)
  now = t0 + SIGNED_PREKEY_ROTATION_MS - 1
  assert.equal(spkOf((await alice.createInvite(card)).link), old, 'not due yet')
  now = t0 + SIGNED_PREKEY_ROTATION_MS
  const rotated = spkOf((await alice.createInvite(card)).link)
  assert.notEqual(rotated, old, 'a new signed prekey once the old one is a week old')
  assert.deepEqual(held(alice), [old, rotated], 'the replaced one is kept')
  now += 3600_000
  assert.equal(spkOf((await alice.createInvite(card)).link), rotated, 'one rotation per period')

  // Bob answers the first invite (made on the old key) just before it expires; Alice, offline, reads the
  // answer near the end of the invite's grace, after more rotations.
  now = first.expiresAt - 1
  const accepted = await bob.acceptInvite(first.link, { card })
  now = first.expiresAt + PENDING_INVITE_GRACE_MS - DAY
  assert.equal((await alice.maintainKeys()).signedPreKeyRotated, true)
  assert.ok(held(alice).includes(old), 'still within its grace')
  const opened = await alice.openEnvelope(accepted.envelope)
  assert.equal(opened.newContact, true, 'the PQXDH initiation against the old signed prekey opened')
  // And the session works both ways.
  const back = await alice.seal(opened.contact.id, text(1, 'hello Bob'))
  assert.equal((await bob.openEnvelope(back)).payload.kind, 'text')

  // Past the grace after its replacement, the old key is deleted; the current one stays.
  now = t0 + SIGNED_PREKEY_ROTATION_MS + SIGNED_PREKEY_GRACE_MS
  const upkeep = await alice.maintainKeys()
  assert.ok(upkeep.signedPreKeysDeleted >= 1)
  assert.ok(!held(alice).includes(old), 'deleted after its grace')
  const current = spkOf((await alice.createInvite(card)).link)
  assert.ok(held(alice).includes(current))
  assert.ok(held(alice).every((id) => id >= rotated), 'only keys still within their grace remain')
})

test('a device opened after its signed prekey came due rotates at open', async (t) => {
  const dir = join(tempDir(t), 'alice')
  let now = 1_760_000_000_000
  const alice = await Device.create(dir, { name: 'Alice', now: () => now })
  const before = spkOf((await alice.createInvite(card)).link)
  alice.close()
  now += SIGNED_PREKEY_ROTATION_MS + DAY
  const again = await Device.open(dir, { now: () => now })
  t.after(() => { again.close() })
  assert.equal(held(again).length, 2, 'rotated when opened')
  assert.notEqual(spkOf((await again.createInvite(card)).link), before)
})
