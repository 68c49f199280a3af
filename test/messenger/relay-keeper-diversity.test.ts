// Issue 16 (unit, beside test/messenger/relay-keeper.test.ts which runs real relays): a keeper that filled its list
// while discovery knew only one operator's relays must not stay there once discovery finds another operator.
// A loaded run showed it: alice's first discovery saw only op-a's two relays, she kept both, and never looked again.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { silentLogger } from '../../src/platform/logger.ts'
import { RELAY_SERVICE } from '../../src/wire/relay-record.ts'
import { RelayKeeper, DEFAULT_RELAY_PREFS, type RelayKeeperNet, type RelayPrefs } from '../../src/messenger/relay-keeper.ts'
import type { RelayInfo } from '../../src/net/relay-info.ts'

async function relay (operator: string, port: number): Promise<RelayInfo> {
  const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  return {
    peerId,
    addresses: [`/ip4/10.${port}.0.1/tcp/${port}/p2p/${peerId}`],
    services: RELAY_SERVICE.circuit | RELAY_SERVICE.mailbox,
    operator,
    reservationsFree: 10,
    reservationsMax: 10,
    mailboxFreeMiB: 10,
    issuedAt: 0
  }
}

function keeperWith (o: { relays: string[], visible: () => RelayInfo[], prefs?: () => RelayPrefs, clock: { t: number } }): RelayKeeper {
  const net: RelayKeeperNet = {
    discoverRelays: async () => ({ relays: o.visible(), rejected: {}, unreachable: 0 }),
    probeRelay: async (addresses) => ({ address: addresses[0], rttMs: 1, mailbox: true })
  }
  return new RelayKeeper({
    net: () => net,
    relays: () => o.relays,
    setRelays: async (next) => { o.relays.splice(0, o.relays.length, ...next) },
    bootstrap: () => [],
    prefs: o.prefs ?? (() => DEFAULT_RELAY_PREFS),
    logger: silentLogger,
    now: () => o.clock.t,
    dropAfterMs: 1_000
  })
}

const addr = (r: RelayInfo): string => r.addresses[0] as string

test('a keeper on two relays of one operator swaps its discovered one for another operator\'s once discovery finds one', async () => {
  const [a1, a2, b1] = await Promise.all([relay('op-a', 1), relay('op-a', 2), relay('op-b', 3)])
  const clock = { t: 0 }
  let visible = [a1, a2]
  const relays = [addr(a1)]
  const keeper = keeperWith({ relays, visible: () => visible, clock })

  // Only op-a is known: the device takes its second relay rather than stay on one.
  await keeper.check()
  assert.deepEqual(relays, [addr(a1), addr(a2)])
  await keeper.check()
  assert.deepEqual(relays, [addr(a1), addr(a2)], 'nothing better is known: no churn')

  // Another operator appears: the discovered op-a relay makes way (listed for the drop grace), the configured one stays.
  visible = [a1, a2, b1]
  await keeper.check()
  assert.deepEqual(relays, [addr(a1), addr(b1), addr(a2)])
  assert.deepEqual(keeper.view().relays.map((r) => r.state), ['ok', 'unknown', 'retiring'])
  clock.t += 1_000
  await keeper.check()
  assert.deepEqual(relays, [addr(a1), addr(b1)], 'dropped after the grace')
  assert.deepEqual(keeper.view().relays.map((r) => r.state), ['ok', 'ok'])
  await keeper.check()
  assert.deepEqual(relays, [addr(a1), addr(b1)], 'diverse: settled')
})

test('a pinned relay is never swapped for diversity, and an unstated operator is not taken as a different one', async () => {
  const [a1, a2, anon, b1] = await Promise.all([relay('op-a', 1), relay('op-a', 2), relay('', 3), relay('op-b', 4)])
  const clock = { t: 0 }
  let visible = [a1, a2]
  const relays = [addr(a1)]
  let prefs: RelayPrefs = DEFAULT_RELAY_PREFS
  const keeper = keeperWith({ relays, visible: () => visible, prefs: () => prefs, clock })
  await keeper.check()
  assert.deepEqual(relays, [addr(a1), addr(a2)])
  // The user pins the discovered op-a relay.
  prefs = { ...DEFAULT_RELAY_PREFS, pinned: [addr(a2)] }
  visible = [a1, a2, anon]
  await keeper.check()
  assert.deepEqual(relays, [addr(a2), addr(a1)], 'an unstated operator may be op-a again: kept as is')
  visible = [a1, a2, anon, b1]
  await keeper.check()
  assert.deepEqual(relays, [addr(a2), addr(b1), addr(a1)], 'the unpinned op-a relay makes way')
})
