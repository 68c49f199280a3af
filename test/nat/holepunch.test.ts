// Hole punching with the product across two real NATs (network namespaces, realistic home routers:
// test/helpers/netns.ts). The relay on the public segment runs the STUN responder; the devices run
// the whole product (createDeviceHost) in their own processes.
// 1. Both NATs endpoint-independent: the devices reach a direct (WebRTC) link within 5 s of the first
//    message, messages then go direct both ways, and keep going after the relay is killed. Prints the
//    time from the first message to direct and the RTT direct vs relayed, measured in the same run.
// 2. One NAT symmetric: one bounded attempt, then the link stays relayed and no message is lost.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { requireNetns } from '../helpers/netns.ts'
import { count, linkOf, sendAndDeliver, setup, until, type NatSetup } from '../helpers/nat-messenger.ts'
import { HOLEPUNCH_ATTEMPT_MS, HOLEPUNCH_RETRY_MIN_MS } from '../../src/net/holepunch.ts'

/** The bar: direct within 5 s of the first message (measured: 0.1–1.1 s). */
const DIRECT_WITHIN_MS = 5_000
/** Pings per path for the RTT figures. */
const PINGS = 20

/** Diagnosis: NAT_DEBUG=<libp2p DEBUG namespaces> adds them to the devices' stderr, which is written to
 * <tmpdir>/0m1-nat-<case>-<device>.log after the test. */
function keepLogs (t: TestContext, s: NatSetup, name: string): void {
  if (process.env.NAT_DEBUG === undefined) return
  t.after(() => {
    for (const d of [s.a, s.b]) writeFileSync(join(tmpdir(), `0m1-nat-${name}-${d.name}.log`), d.stderr())
  })
}

test('nat: behind two endpoint-independent NATs the devices go direct within 5 s and stay direct without the relay', { timeout: 240_000 }, async (t) => {
  if (!requireNetns(t)) return
  const s = await setup(t, { env: { DEBUG: `libp2p:dcutr*${process.env.NAT_DEBUG !== undefined ? ',' + process.env.NAT_DEBUG : ''}`, LOG_LEVEL: 'debug' } })
  keepLogs(t, s, 'eim')
  const direct = await until(async () => (await linkOf(s.a)) === 'hole-punched' && (await linkOf(s.b)) === 'hole-punched' ? Date.now() : undefined, 30_000, 'a hole-punched link both ways')
  const toDirect = direct - s.firstMessageAt

  // RTT over both paths between the same two devices, while the circuit is still open beside the WebRTC link.
  const bStatus = await s.b.request<{ peerId: string, addresses: string[] }>('status')
  const bPeer = bStatus.peerId
  const bCircuit = `${s.relayAddr}/p2p-circuit/p2p/${bPeer}`
  const rtt = await s.a.request<{ 'hole-punched'?: number, relayed?: number }>('pingByPath', { peerId: bPeer, count: PINGS, circuit: bCircuit }, 60_000)
  console.log(`nat(holepunch): first message -> direct ${toDirect} ms; RTT median of ${PINGS} pings: direct ${rtt['hole-punched']} ms, relayed ${rtt.relayed} ms`)
  assert.ok(toDirect <= DIRECT_WITHIN_MS, `direct ${toDirect} ms after the first message (bar: ${DIRECT_WITHIN_MS} ms)`)
  assert.ok(rtt['hole-punched'] !== undefined && rtt.relayed !== undefined, 'both paths answer pings')

  const paths: string[] = []
  for (let i = 0; i < 3; i++) {
    paths.push((await sendAndDeliver(s.a, s.b, s.aContact, `a->b ${i}`)).path)
    paths.push((await sendAndDeliver(s.b, s.a, s.bContact, `b->a ${i}`)).path)
  }
  assert.deepEqual(count(paths), { direct: 6 })
  const dcutr = (s.a.stderr() + s.b.stderr()).split('\n').filter((l) => /libp2p:dcutr/.test(l)).length
  console.log(`nat(holepunch): 6 messages after the upgrade, paths ${JSON.stringify(count(paths))}; DCUtR log lines ${dcutr}`)

  // The relay dies: the direct link carries on.
  await s.relay.kill('SIGKILL')
  const after: string[] = []
  for (let i = 0; i < 3; i++) {
    after.push((await sendAndDeliver(s.a, s.b, s.aContact, `no relay a->b ${i}`)).path)
    after.push((await sendAndDeliver(s.b, s.a, s.bContact, `no relay b->a ${i}`)).path)
  }
  const rttAfter = await s.a.request<{ 'hole-punched'?: number, relayed?: number }>('pingByPath', { peerId: bPeer, count: PINGS }, 60_000)
  console.log(`nat(holepunch): relay killed; 6 more messages, paths ${JSON.stringify(count(after))}; RTT direct ${rttAfter['hole-punched']} ms, relayed ${rttAfter.relayed ?? 'gone'}`)
  assert.deepEqual(count(after), { direct: 6 })
  assert.equal(rttAfter.relayed, undefined, 'the circuit went with the relay')
  assert.equal(await linkOf(s.a), 'hole-punched')
  await Promise.all([s.a.stop(), s.b.stop()])
})

test('nat: behind a symmetric NAT one bounded attempt fails, the link stays relayed and nothing is lost', { timeout: 240_000 }, async (t) => {
  if (!requireNetns(t)) return
  // The attempt lines are kept whole: stderr() keeps only a tail, which a debug-logging run outgrows in seconds.
  const ATTEMPT_LINE = /holepunch-(direct|failed)/
  const s = await setup(t, { nat: ['symmetric', 'eim'], env: { LOG_LEVEL: 'debug', DEBUG: process.env.NAT_DEBUG ?? '' }, keepLines: ATTEMPT_LINE })
  keepLogs(t, s, 'symmetric')
  const ids: string[] = []
  const paths: string[] = []
  // Messages both ways while the attempt runs and after it failed.
  // Until the attempt's outcome is logged (at least one attempt's length), and at most 400 rounds: one page of
  // history (1,000) then holds every message of the run for the exactly-once check below.
  const until_ = Date.now() + HOLEPUNCH_ATTEMPT_MS + 4_000
  const hardEnd = until_ + 30_000
  const logged = (): number => s.a.matched().length + s.b.matched().length
  let i = 0
  while (Date.now() < hardEnd && (Date.now() < until_ || logged() === 0)) {
    if (i >= 400) { await new Promise((resolve) => setTimeout(resolve, 200)); continue }
    const x = await sendAndDeliver(s.a, s.b, s.aContact, `sym a->b ${i}`)
    const y = await sendAndDeliver(s.b, s.a, s.bContact, `sym b->a ${i}`)
    ids.push(x.id, y.id)
    paths.push(x.path, y.path)
    i++
  }
  const attempts = [...s.a.matched(), ...s.b.matched()]
  const links = [await linkOf(s.a), await linkOf(s.b)]
  console.log(`nat(symmetric): ${ids.length} messages, paths ${JSON.stringify(count(paths))}; links ${JSON.stringify(links)}; attempts: ${attempts.map((l) => l.replace(/^\S+ \S+ /, '')).join(' | ')}`)
  assert.deepEqual(links, ['relayed', 'relayed'])
  assert.ok(paths.every((p) => p === 'relayed' || p === 'mailbox'), JSON.stringify(paths))
  // Exactly one attempt (by the lower peer id), failed within its bound; the next waits out the backoff.
  assert.equal(attempts.length, 1, attempts.join('\n'))
  const failed = /holepunch-failed ms=(\d+) .*retryInMs=(\d+)/.exec(attempts[0] as string)
  assert.ok(failed !== null, attempts[0])
  assert.ok(Number(failed[1]) <= HOLEPUNCH_ATTEMPT_MS + 1_000, `attempt took ${failed[1]} ms`)
  assert.equal(Number(failed[2]), HOLEPUNCH_RETRY_MIN_MS)
  // Nothing lost: B has every message A sent and the other way round, once each.
  const inbox = (await s.b.request<Array<{ id: string, direction: string }>>('messages', { contactId: s.bContact, limit: 1000 })).filter((m) => m.direction === 'in').map((m) => m.id)
  const inboxA = (await s.a.request<Array<{ id: string, direction: string }>>('messages', { contactId: s.aContact, limit: 1000 })).filter((m) => m.direction === 'in').map((m) => m.id)
  for (let k = 0; k < ids.length; k += 2) {
    assert.ok(inbox.includes(ids[k] as string))
    assert.ok(inboxA.includes(ids[k + 1] as string))
  }
  await Promise.all([s.a.stop(), s.b.stop(), s.relay.stop()])
})
