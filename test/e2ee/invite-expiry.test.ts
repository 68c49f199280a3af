// Issue 14 item 9: an invite nobody answers ends. Past its deadline (expiry + PENDING_INVITE_GRACE_MS,
// after which its first message is refused anyway) its one-time EC and Kyber prekeys, pending row and
// mailbox keys are deleted, its mailbox is no longer listed, and the messenger closes its relay sessions.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { Device, MIN_INVITE_LIFETIME_MS, PENDING_INVITE_GRACE_MS } from '../../src/e2ee/device.ts'
import { E2eeError } from '../../src/e2ee/errors.ts'
import { decodeInvite, linkToInvite } from '../../src/wire/invite.ts'
import { MessengerCore, MAILBOX_REFETCH_MS } from '../../src/messenger/messenger.ts'
import type { MailboxSessionPort, NetworkPort } from '../../src/messenger/ports.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { MemoryHistory } from '../twins/memory-history.ts'
import { SimClock } from '../helpers/sim-clock.ts'
import { tempDir } from './helpers.ts'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const card = { relays: ['/ip4/127.0.0.1/tcp/4001/p2p/relayA'], addresses: [] }

function keysOf (d: Device, invite: { preKeyId: number, kyberPreKeyId: number }): { pending: number, preKey: boolean, kyber: boolean, lastResort: number } {
  return {
    pending: Number(d.db.prepare('SELECT count(*) AS n FROM pending_invites').get()?.n),
    preKey: d.db.prepare('SELECT 1 AS x FROM signal_prekeys WHERE id = ?').get([invite.preKeyId]) !== undefined,
    kyber: d.db.prepare('SELECT 1 AS x FROM signal_kyber_prekeys WHERE id = ?').get([invite.kyberPreKeyId]) !== undefined,
    lastResort: Number(d.db.prepare('SELECT count(*) AS n FROM signal_kyber_prekeys WHERE last_resort = 1').get()?.n)
  }
}

test('an unanswered invite is purged at its deadline: prekeys, pending row, mailbox; an answer after it opens nothing', async (t) => {
  const dir = tempDir(t)
  let now = 1_760_000_000_000
  const alice = await Device.create(join(dir, 'alice'), { name: 'Alice', now: () => now })
  const bob = await Device.create(join(dir, 'bob'), { name: 'Bob', now: () => now })
  t.after(() => { alice.close(); bob.close() })
  const made = await alice.createInvite({ ...card, expiresInMs: MIN_INVITE_LIFETIME_MS })
  const kept = await alice.createInvite(card) // a week: outlives the first one's deadline
  const r = decodeInvite(linkToInvite(made.link)).record
  const listed = (): string[] => alice.inboundMailboxes().map((b) => hex(b.mailboxId))
  assert.ok(listed().includes(hex(r.mailboxId)))
  assert.deepEqual(keysOf(alice, r), { pending: 2, preKey: true, kyber: true, lastResort: 1 })

  // Within the grace the invite still works (an answer may wait on a relay while the inviter is offline).
  now = made.expiresAt + PENDING_INVITE_GRACE_MS
  assert.ok(listed().includes(hex(r.mailboxId)))
  assert.equal(await alice.purgeExpiredInvites(), 0)

  // Bob answers in time, but his first message reaches Alice only after the deadline.
  now = made.expiresAt - 1
  const { envelope } = await bob.acceptInvite(made.link, { card })
  now = made.expiresAt + PENDING_INVITE_GRACE_MS + 1
  assert.ok(!listed().includes(hex(r.mailboxId)), 'no longer listed, so no relay session is kept for it')
  assert.ok(listed().includes(hex(decodeInvite(linkToInvite(kept.link)).record.mailboxId)), 'a live invite stays')
  assert.equal(await alice.purgeExpiredInvites(), 0, 'listing already purged it (in the queue)')
  assert.deepEqual(keysOf(alice, r), { pending: 1, preKey: false, kyber: false, lastResort: 1 }, 'its one-time keys are gone, the last-resort key stays')
  await assert.rejects(alice.openEnvelope(envelope), (err: unknown) => E2eeError.is(err, 'UNKNOWN_MAILBOX'))
})

test('an invite that ended while the device was off is purged when it opens', async (t) => {
  const dir = join(tempDir(t), 'alice')
  let now = 1_760_000_000_000
  const alice = await Device.create(dir, { name: 'Alice', now: () => now })
  const made = await alice.createInvite({ ...card, expiresInMs: MIN_INVITE_LIFETIME_MS })
  alice.close()
  now = made.expiresAt + PENDING_INVITE_GRACE_MS + 1
  const again = await Device.open(dir, { now: () => now })
  t.after(() => { again.close() })
  assert.deepEqual(keysOf(again, decodeInvite(linkToInvite(made.link)).record), { pending: 0, preKey: false, kyber: false, lastResort: 1 })
})

test('the messenger closes the relay session of an invite that ended and does not reopen it', async (t) => {
  const dir = tempDir(t)
  let deviceNow = 1_760_000_000_000
  const device = await Device.create(join(dir, 'alice'), { name: 'Alice', now: () => deviceNow })
  const clock = new SimClock(deviceNow)
  const sessions: Array<{ mailbox: string, closed: boolean }> = []
  const net: NetworkPort = {
    peerId: 'me',
    addresses: () => [],
    onEnvelope: () => {},
    deliver: async () => { throw new Error('no network') },
    deposit: async () => { throw new Error('no network') },
    openMailbox: async (_relay, box) => {
      const s = { mailbox: hex(box.mailboxId), closed: false }
      sessions.push(s)
      const port: MailboxSessionPort = {
        fetch: async () => await Promise.resolve([]),
        ack: async () => { await Promise.resolve() },
        onPush: () => {},
        close: async () => { s.closed = true; await Promise.resolve() }
      }
      return port
    }
  }
  const m = new MessengerCore({ device, history: new MemoryHistory(), net, logger: silentLogger, clock, settings: () => ({ relays: ['/r1'], relayOnly: false, lanDiscovery: false, fetchIsolation: 'device' }) })
  t.after(async () => { await m.stop(); device.close() })
  await m.start()
  const invite = await m.createInvite({ expiresInMs: MIN_INVITE_LIFETIME_MS })
  const box = hex(decodeInvite(linkToInvite(invite.link)).record.mailboxId)
  const open = (): number => sessions.filter((s) => s.mailbox === box && !s.closed).length
  assert.ok(await clock.run(() => open() === 1, clock.now() + MAILBOX_REFETCH_MS), 'a session is kept open for the invite')

  deviceNow = invite.expiresAt + PENDING_INVITE_GRACE_MS + 1
  assert.ok(await clock.run(() => open() === 0, clock.now() + 2 * MAILBOX_REFETCH_MS), 'the next sync closes it')
  const count = sessions.filter((s) => s.mailbox === box).length
  await clock.run(() => false, clock.now() + 5 * MAILBOX_REFETCH_MS)
  assert.equal(sessions.filter((s) => s.mailbox === box).length, count, 'never reopened')
})
