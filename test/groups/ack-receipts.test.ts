// Group texts and /0m1/deliver/2.1.0, on real nodes (libp2p on loopback, a relay, SQLCipher, libsignal): each
// member's copy is acked 'delivered' by the member's handler and becomes delivered for that member at the sender,
// with no sealed receipt when the member's ratchet is not due a turn (RATCHET_TURN_MS).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Groups } from '../../src/messenger/groups/types.ts'
import type { DeviceNode } from '../../src/net/node.ts'
import { introduce, person, startTestRelay, type Person } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'

const g = (p: Person): Groups => {
  const groups = p.m().groups
  if (groups === undefined) throw new Error('no groups')
  return groups
}

/** Records what this node's messenger answered for each envelope it was handed (true: acked delivered). */
function answers (into: boolean[]): (n: DeviceNode) => void {
  return (n) => {
    const on = n.onEnvelope.bind(n)
    n.onEnvelope = (h) => { on(async (e, info) => { const r = await h(e, info); into.push(r); return r }) }
  }
}

async function deliveredTo (p: Person, groupId: string, id: string, n: number, what: string): Promise<void> {
  await waitFor(async () => (await g(p).messages(groupId)).find((x) => x.id === id)?.delivery?.delivered === n ? true : undefined, what, 60_000)
}

test('a group text becomes delivered per member by the members\' acks', async (t) => {
  const relay = await startTestRelay(t)
  // Bob's and Carol's clocks run a thousand times slower than the real one: none of their ratchets comes due for a
  // turn again within the test, so the second text gets acks alone, however loaded the machine.
  const base = Date.now()
  const slow = (): number => base + Math.floor((Date.now() - base) / 1000)
  const bobAnswers: boolean[] = []
  const carolAnswers: boolean[] = []
  const alice = await person(t, 'alice', { relays: [relay.addr] })
  const bob = await person(t, 'bob', { relays: [relay.addr], now: slow, onNetwork: answers(bobAnswers) })
  const carol = await person(t, 'carol', { relays: [relay.addr], now: slow, onNetwork: answers(carolAnswers) })
  const ab = await introduce(alice, bob)
  const ac = await introduce(alice, carol)
  const grp = await g(alice).create('acks', [ab.aToB, ac.aToB])
  for (const p of [bob, carol]) await waitFor(async () => (await g(p).list()).find((x) => x.id === grp.id)?.members.length === 3 ? true : undefined, `${p.name} joins`, 60_000)

  const first = await g(alice).send(grp.id, 'first')
  await deliveredTo(alice, grp.id, first.id, 2, 'the first, delivered to both')
  bobAnswers.length = 0
  carolAnswers.length = 0
  const second = await g(alice).send(grp.id, 'second')
  await deliveredTo(alice, grp.id, second.id, 2, 'the second, delivered to both by their acks')
  // Beside controls of the group (acked 'accepted'), one envelope each acked delivered: the text.
  assert.equal(bobAnswers.filter((d) => d).length, 1, 'bob acked his copy delivered')
  assert.equal(carolAnswers.filter((d) => d).length, 1, 'carol acked hers delivered')
  const shown = (await g(alice).messages(grp.id)).find((x) => x.id === second.id)
  assert.equal(shown?.delivery?.total, 2)
})
