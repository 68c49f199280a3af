// Crash safety of the product (issue 6): a device SIGKILLed the moment send() returned delivers the
// message after it starts again (exactly once); a relay SIGKILLed right after acknowledging deposits
// still holds every acknowledged envelope after it starts again. Separate processes on loopback.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { TestContext } from 'node:test'
import { spawnChild, type Child } from '../helpers/procs.ts'
import { sealEnvelope } from '../../src/wire/envelope.ts'
import { bareNode, openMailboxStream } from '../abuse/client.ts'
import { waitFor } from '../helpers/wait.ts'

const DELIVERY_MS = 60_000

function tempDir (t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), '0m1-crash-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}

function relayProc (t: TestContext, dir: string, name = 'relay'): Child {
  return spawnChild('test/chaos/fixtures/relay-proc.ts', { name, args: [join(dir, 'relay'), '/ip4/127.0.0.1/tcp/0'], t })
}

function deviceProc (t: TestContext, dir: string, name: string, relays: string[]): Child {
  return spawnChild('test/chaos/fixtures/device-proc.ts', { name, args: [join(dir, name), JSON.stringify({ name, relays })], t })
}

const until = async <T>(f: () => Promise<T | undefined>, ms: number, what: string): Promise<T> => await waitFor(f, what, ms)

/** Polled, not awaited as an event: a restarted device may finish the exchange while starting, before the
 * fixture subscribes (its mailbox sessions now open on a fresh short-lived identity, which takes a dial). */
async function waitState (c: Child, contactId: string, id: string, state: string): Promise<{ path?: string }> {
  return await until(async () => (await c.request<Array<{ id: string, state: string, path?: string }>>('messages', { contactId })).find((m) => m.id === id && m.state === state), DELIVERY_MS, `message ${state}`)
}

test('crash: a device SIGKILLed right after send() returned delivers the message after restart, once', { timeout: 300_000 }, async (t) => {
  const dir = tempDir(t)
  const relay = relayProc(t, dir)
  const r = await relay.waitEvent((e) => e.event === 'ready')
  const relays = [(r.addresses as string[])[0] as string]
  let a = deviceProc(t, dir, 'A', relays)
  const b = deviceProc(t, dir, 'B', relays)
  await Promise.all([a.waitEvent((e) => e.event === 'ready'), b.waitEvent((e) => e.event === 'ready')])
  const invite = await b.request<{ link: string }>('invite')
  const aContact = (await a.request<{ id: string }>('accept', { link: invite.link, name: 'B' })).id
  const bContact = await until(async () => (await b.request<Array<{ id: string }>>('contacts'))[0]?.id, DELIVERY_MS, 'B learns of A')

  const CYCLES = 3
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    // B is offline in the last cycle: the restarted A must fall back to B's mailbox.
    const offline = cycle === CYCLES - 1
    if (offline) await b.stop()
    const text = `crash ${cycle}`
    a.request('sendAndDie', { contactId: aContact, text }).catch(() => {}) // never answers: the process dies
    const sent = await a.waitEvent((e) => e.event === 'sent', 30_000)
    const exit = await a.exited
    assert.equal(exit.signal, 'SIGKILL')
    a = deviceProc(t, dir, 'A', relays)
    await a.waitEvent((e) => e.event === 'ready')
    if (offline) {
      await waitState(a, aContact, sent.id as string, 'stored')
      const b2 = deviceProc(t, dir, 'B', relays)
      await b2.waitEvent((e) => e.event === 'ready')
      // Polled, not awaited as an event: B may drain its mailbox while starting, before the fixture subscribes.
      await until(async () => (await b2.request<Array<{ id: string }>>('messages', { contactId: bContact })).some((m) => m.id === sent.id) ? true : undefined, DELIVERY_MS, 'B gets the stored message')
      await waitState(a, aContact, sent.id as string, 'delivered')
      await new Promise((resolve) => setTimeout(resolve, 2000))
      const copies = (await b2.request<Array<{ id: string }>>('messages', { contactId: bContact })).filter((m) => m.id === sent.id).length
      console.log(`crash device cycle ${cycle}: killed right after send(); restarted; stored on the relay while B was offline; B got it, copies ${copies}`)
      assert.equal(copies, 1)
      await b2.stop()
    } else {
      await b.waitEvent((e) => e.event === 'message' && e.id === sent.id, DELIVERY_MS)
      const st = await waitState(a, aContact, sent.id as string, 'delivered')
      const copies = (await b.request<Array<{ id: string }>>('messages', { contactId: bContact })).filter((m) => m.id === sent.id).length
      console.log(`crash device cycle ${cycle}: killed right after send(); restarted; delivered via ${String(st.path)}, copies at B ${copies}`)
      assert.equal(copies, 1)
    }
  }
  await a.stop()
  await relay.stop()
})

test('crash: a relay SIGKILLed right after acknowledging deposits still holds every acknowledged envelope', { timeout: 120_000 }, async (t) => {
  const dir = tempDir(t)
  let relay = relayProc(t, dir)
  const r = await relay.waitEvent((e) => e.event === 'ready')
  const addr = (r.addresses as string[])[0] as string
  const node = await bareNode()
  t.after(async () => { await node.stop() })
  const mailboxId = randomBytes(32)
  const conn = await openMailboxStream(node, addr)
  let acked = 0
  const N = 40
  for (let i = 0; i < N; i++) {
    const f = await conn.deposit(mailboxId, sealEnvelope({ mailboxId, mailboxKey: randomBytes(32), innerType: 2, body: randomBytes(500) }))
    assert.equal(f.type, 'ok')
    acked++
    // Killed the instant the last acknowledgement arrived: nothing after it can have flushed anything.
    if (i === N - 1) process.kill(relay.pid, 'SIGKILL')
  }
  assert.equal((await relay.exited).signal, 'SIGKILL')
  relay = relayProc(t, dir, 'relay#2')
  const r2 = await relay.waitEvent((e) => e.event === 'ready')
  assert.equal(r2.peerId, r.peerId, 'same identity after restart')
  const usage = await relay.request<{ count: number, bytes: number }>('usage', { mailboxId: mailboxId.toString('hex') })
  console.log(`crash relay: ${acked} deposits acknowledged, SIGKILL at the last ack; after restart the mailbox holds ${usage.count} (${usage.bytes} bytes)`)
  assert.equal(usage.count, acked)
  await relay.stop()
})
