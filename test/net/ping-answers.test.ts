// src/net/ping-answers.ts: our nodes answer libp2p pings as before, a finished ping stream is let go at once (the
// stock answer kept it for the 10 s ping timeout), and a ping the remote never finishes is still aborted.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { Connection, Stream, StreamHandler } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { createTestnet } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'
import type { DeviceNode } from '../../src/net/node.ts'
import { answerPing } from '../../src/net/ping-answers.ts'

const PING = '/ipfs/ping/1.0.0'

function collector (): () => void {
  const existing = (globalThis as { gc?: () => void }).gc
  if (existing !== undefined) return existing
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as () => void
}

async function pair (t: Parameters<typeof createTestnet>[0]): Promise<{ a: DeviceNode, b: DeviceNode, conn: Connection }> {
  const net = await createTestnet(t, { relays: 0, devices: 2 })
  const [a, b] = net.devices as [DeviceNode, DeviceNode]
  const addr = b.addresses().find((x) => x.includes('/tcp/') && !x.includes('/ws'))
  assert.ok(addr !== undefined)
  return { a, b, conn: await a.libp2p.dial(multiaddr(addr)) }
}

/** Puts `watch` in front of b's registered ping answer, so the test sees each inbound ping stream. */
async function watchPings (b: DeviceNode, watch: (stream: Stream) => void): Promise<void> {
  // The answer the ping service registered at start (set by pingAnswering on the instance).
  const handler = (b.libp2p.services as { ping: { handlePing: StreamHandler } }).ping.handlePing
  await b.libp2p.unhandle(PING)
  await b.libp2p.handle(PING, async (stream, connection) => { watch(stream); await handler(stream, connection) }, { runOnLimitedConnection: true })
}

test('our nodes answer pings, and a finished ping stream is collectable at once', async (t) => {
  const { a, b, conn } = await pair(t)
  let ref: WeakRef<Stream> | undefined
  await watchPings(b, (stream) => { ref = new WeakRef(stream) })
  const ping = (a.libp2p.services as { ping: { ping: (p: unknown) => Promise<number> } }).ping
  for (let i = 0; i < 3; i++) assert.ok(await ping.ping(conn.remotePeer) >= 0)
  const gc = collector()
  // The stock answer kept the stream reachable from a 10 s timeout signal; ours lets it go when it ends.
  await waitFor(() => { gc(); return ref?.deref() === undefined }, 'the last answered ping stream is collected', 3_000)
})

test('a ping stream the remote never finishes is aborted after the timeout', async (t) => {
  const { b, conn } = await pair(t)
  let answered: Promise<void> | undefined
  await b.libp2p.unhandle(PING)
  await b.libp2p.handle(PING, async (stream) => { answered = answerPing(stream, 200); await answered.catch(() => {}) }, { runOnLimitedConnection: true })
  const s = await conn.newStream(PING)
  const back: Uint8Array[] = []
  s.addEventListener('message', (e) => { back.push(e.data.subarray()) })
  s.send(new Uint8Array(32).fill(7))
  await waitFor(() => back.length > 0, 'the echo')
  assert.deepEqual(Buffer.from(back[0] as Uint8Array), Buffer.alloc(32, 7))
  await waitFor(() => answered !== undefined, 'the answer starts')
  await assert.rejects(answered as Promise<void>, (err: Error) => err.name === 'TimeoutError')
  await waitFor(() => s.status !== 'open', 'the dialler sees its stream end')
})
