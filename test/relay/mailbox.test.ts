import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createTestnet } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'
import { makeMailboxKey } from '../helpers/mailbox-key.ts'
import { NetError } from '../../src/net/errors.ts'

const env = (n: number): Uint8Array => new Uint8Array(randomBytes(n))

test('deposit, fetch (paged), ack; live push while the owner has a session open', async (t) => {
  const net = await createTestnet(t, { relays: 1, devices: 2, waitForReservations: false })
  const [sender, owner] = net.devices
  const relay = net.relays[0]
  assert.ok(sender !== undefined && owner !== undefined && relay !== undefined)
  const box = makeMailboxKey()
  const sent = [env(1024), env(4096), env(16384)]
  for (const e of sent) await sender.deposit(relay.addr, box.mailboxId, e)
  const s = await owner.openMailbox(relay.addr, box)
  const first = await s.fetch({ limit: 2 })
  assert.equal(first.length, 2)
  const rest = await s.fetch()
  assert.equal(rest.length, 1)
  assert.deepEqual(await s.fetch(), [])
  assert.deepEqual([...first, ...rest].map((i) => i.envelope), sent)

  const pushed: Uint8Array[] = []
  s.onPush((item) => { pushed.push(item.envelope) })
  const live = env(1024)
  await sender.deposit(relay.addr, box.mailboxId, live)
  await waitFor(() => pushed.length === 1, 'push', 5000)
  assert.deepEqual(pushed[0], live)

  assert.equal(await s.ack([...first, ...rest].map((i) => i.id)), 3)
  await s.close()
  const again = await owner.openMailbox(relay.addr, box)
  const left = await again.fetchAll()
  assert.deepEqual(left.map((i) => i.envelope), [live], 'acked items are gone, the unacked pushed one is still there')
  assert.equal(await again.ack(left.map((i) => i.id)), 1)
  assert.equal(relay.handle.store.usage(box.mailboxId).count, 0)
})

test('a stranger cannot fetch or delete a mailbox', async (t) => {
  const net = await createTestnet(t, { relays: 1, devices: 2, waitForReservations: false })
  const [sender, stranger] = net.devices
  const relay = net.relays[0]
  assert.ok(sender !== undefined && stranger !== undefined && relay !== undefined)
  const box = makeMailboxKey()
  const other = makeMailboxKey()
  await sender.deposit(relay.addr, box.mailboxId, env(1024))
  // the stranger's own key does not hash to the victim's mailbox id
  await assert.rejects(stranger.openMailbox(relay.addr, { mailboxId: box.mailboxId, publicKey: other.publicKey, sign: other.sign }),
    (err) => NetError.is(err, 'AUTH_FAILED'))
  // the right public key, but a signature made without its private key
  await assert.rejects(stranger.openMailbox(relay.addr, { mailboxId: box.mailboxId, publicKey: box.publicKey, sign: other.sign }),
    (err) => NetError.is(err, 'AUTH_FAILED'))
  // a session on its own mailbox cannot touch another mailbox's items
  const own = await stranger.openMailbox(relay.addr, other)
  assert.deepEqual(await own.fetch(), [])
  const ids = relay.handle.db.prepare('SELECT id FROM envelopes').all() as Array<{ id: Uint8Array }>
  assert.equal(await own.ack(ids.map((r) => new Uint8Array(r.id))), 0)
  assert.equal(relay.handle.store.usage(box.mailboxId).count, 1)
})

test('WebSockets: a device deposits and fetches over the relay\'s /ws address', async (t) => {
  const { mkdtempSync, rmSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path') // eslint-disable-line @typescript-eslint/unbound-method -- a plain function
  const { startRelay } = await import('../../src/relay/service.ts')
  const net = await createTestnet(t, { relays: 0, devices: 1 })
  const dir = mkdtempSync(join(tmpdir(), '0m1-relayws-'))
  const seen: string[] = []
  const relay = await startRelay({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0/ws'], logger: net.logger, observe: (o) => { seen.push(o.remoteAddr) } })
  t.after(async () => { await relay.stop(); rmSync(dir, { recursive: true, force: true }) })
  const ws = relay.addresses.find((a) => a.includes('/ws/'))
  const [d] = net.devices
  assert.ok(ws !== undefined && d !== undefined)
  const box = makeMailboxKey()
  const e = env(16384)
  await d.deposit(ws, box.mailboxId, e)
  const s = await d.openMailbox(ws, box)
  assert.deepEqual((await s.fetchAll()).map((i) => i.envelope), [e])
  // The deposit and the session ran over WebSockets (from the device's short-lived identities).
  assert.equal(seen.length, 2)
  assert.ok(seen.every((a) => a.includes('/ws')), seen.join(' '))
})
