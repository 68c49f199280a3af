// Mailbox sessions under churn: an identity rotation closes every session at once, and a relay may drop a session
// right after opening it. Each mailbox keeps one session; reopens are coalesced and back off when sessions die young.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MessengerCore } from '../../src/messenger/messenger.ts'
import type { MailboxSessionPort, NetworkPort } from '../../src/messenger/ports.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { FakeDevice } from '../twins/fake-device.ts'
import { MemoryHistory } from '../twins/memory-history.ts'
import { waitFor } from '../helpers/wait.ts'

interface FakeSession extends MailboxSessionPort { closed: boolean, fire: () => void }

function fakeNet (o: { openMs: number, closeAfterMs?: number }): { net: NetworkPort, sessions: FakeSession[], opens: () => number } {
  const sessions: FakeSession[] = []
  let opens = 0
  const net: NetworkPort = {
    peerId: 'me',
    addresses: () => [],
    onEnvelope: () => {},
    deliver: async () => { throw new Error('no network') },
    deposit: async () => { throw new Error('no network') },
    openMailbox: async () => {
      opens++
      await new Promise((resolve) => setTimeout(resolve, o.openMs)) // a network round trip
      let onClose: (() => void) | undefined
      const s: FakeSession = {
        closed: false,
        fetch: async () => await Promise.resolve([]),
        ack: async () => { await Promise.resolve() },
        onPush: () => {},
        onClose: (cb) => {
          onClose = cb
          if (o.closeAfterMs !== undefined) setTimeout(() => { s.fire() }, o.closeAfterMs)
        },
        fire: () => { if (!s.closed) { s.closed = true; onClose?.() } },
        close: async () => { s.fire(); await Promise.resolve() }
      }
      sessions.push(s)
      return s
    }
  }
  return { net, sessions, opens: () => opens }
}

function messenger (contacts: number, net: NetworkPort): MessengerCore {
  const me = new FakeDevice('me')
  for (let i = 0; i < contacts; i++) {
    FakeDevice.introduce(me, new FakeDevice(`c${i}`), { aRelays: ['/r1'], bRelays: ['/r1'], aPeerId: 'me', bPeerId: `c${i}` })
  }
  return new MessengerCore({
    device: me,
    history: new MemoryHistory(),
    net,
    logger: silentLogger,
    settings: () => ({ relays: ['/r1'], relayOnly: false, lanDiscovery: false, fetchIsolation: 'device' })
  })
}

test('a rotation that closes every session reopens each mailbox once; stop closes them all', async () => {
  const N = 10
  const { net, sessions, opens } = fakeNet({ openMs: 20 })
  const m = messenger(N, net)
  await m.start()
  assert.equal(opens(), N)
  for (const s of [...sessions]) s.fire()
  await waitFor(() => sessions.filter((s) => !s.closed).length === N, 'every mailbox reopened')
  // Let any extra reopen that was scheduled run and settle.
  await new Promise((resolve) => setTimeout(resolve, 300))
  assert.equal(opens(), 2 * N, 'one reopen per mailbox, not one per mailbox per closed session')
  assert.equal(sessions.filter((s) => !s.closed).length, N, 'one live session per mailbox')
  await m.stop()
  assert.equal(sessions.filter((s) => !s.closed).length, 0, 'stop closes every session it opened')
})

test('a relay that drops each session right after opening it is retried with backoff, not in a loop', async () => {
  const { net, opens } = fakeNet({ openMs: 2, closeAfterMs: 1 })
  const m = messenger(1, net)
  await m.start()
  await new Promise((resolve) => setTimeout(resolve, 1000))
  await m.stop()
  // First open at start; the early close backs off MAILBOX_RETRY_MS (2 s) before the next.
  assert.ok(opens() <= 2, `${opens()} opens in one second`)
})

test('two mailboxes failing at different times are both retried (the shared reopen timer swallows neither)', async () => {
  const opensBy = new Map<string, number>()
  const net: NetworkPort = {
    ...fakeNet({ openMs: 1 }).net,
    openMailbox: async (_relay, box) => {
      const k = Buffer.from(box.mailboxId).toString('hex')
      const n = (opensBy.get(k) ?? 0) + 1
      opensBy.set(k, n)
      // Each first open fails, the first box's at once, the second's after 500 ms: two retries due 0.5 s apart.
      if (n === 1) {
        await new Promise((resolve) => setTimeout(resolve, opensBy.size === 1 ? 1 : 500))
        throw new Error('relay unreachable')
      }
      return { fetch: async () => await Promise.resolve([]), ack: async () => { await Promise.resolve() }, onPush: () => {}, onClose: () => {}, close: async () => { await Promise.resolve() } }
    }
  }
  const m = messenger(2, net)
  await m.start()
  await waitFor(() => [...opensBy.values()].filter((n) => n >= 2).length === 2, 'both mailboxes retried well before the 30 s refetch', 10_000)
  await m.stop()
})
