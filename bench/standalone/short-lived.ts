// What short-lived identities cost (issue 9): time of a deposit on a fresh identity vs an existing one, time of a
// rotation, and the extra memory of `contact` fetch isolation (one libp2p node and session per mailbox).
// Run: node --expose-gc --import tsx bench/standalone/short-lived.ts [mailboxes=50]
import '../../src/platform/shims.ts'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { startRelay } from '../../src/relay/service.ts'
import { createDeviceNode } from '../../src/net/node.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { makeMailboxKey } from '../../test/helpers/mailbox-key.ts'

const N = Number(process.argv[2] ?? 50)
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})
const rss = (): number => { gc(); gc(); return process.memoryUsage().rss / 2 ** 20 }
const ms = async (f: () => Promise<unknown>): Promise<number> => { const t = performance.now(); await f(); return performance.now() - t }
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN

const dir = mkdtempSync(join(tmpdir(), '0m1-bench-relay-'))
const relay = await startRelay({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], logger: silentLogger, limits: { depositsPerMinutePerConnection: 100_000 } })
const addr = relay.addresses.find((a) => a.includes('/tcp/') && !a.includes('/ws')) as string
const env = (): Uint8Array => new Uint8Array(randomBytes(1024))

for (const isolation of ['device', 'contact'] as const) {
  const node = await createDeviceNode({ listen: ['/ip4/127.0.0.1/tcp/0'], relays: [addr], fetchIsolation: isolation, logger: silentLogger })
  const box = makeMailboxKey()
  if (isolation === 'device') {
    const r0 = rss()
    await node.deposit(addr, box.mailboxId, env())
    const r1 = rss()
    const cold: number[] = []
    const warm: number[] = []
    for (let i = 0; i < 10; i++) {
      node.rotateIdentities()
      cold.push(await ms(async () => { await node.deposit(addr, box.mailboxId, env()) }))
      warm.push(await ms(async () => { await node.deposit(addr, box.mailboxId, env()) }))
    }
    console.log(`RSS: +${(r1 - r0).toFixed(1)} MiB for the first short-lived (DHT) identity; +${(rss() - r1).toFixed(1)} MiB more after 10 rotations (old ones are stopped: the relay holds ${relay.libp2p.getConnections().length} connections, the device ${node.shortLived().length} identities)`)
    console.log(`deposit on a fresh identity (rotation + dial + Noise + deposit): median ${median(cold).toFixed(1)} ms; on the current one: ${median(warm).toFixed(1)} ms (10 rotations)`)
  }
  const before = rss()
  const sessions = []
  const t0 = performance.now()
  for (let i = 0; i < N; i++) sessions.push(await node.openMailbox(addr, makeMailboxKey()))
  const openMs = performance.now() - t0
  const after = rss()
  console.log(`isolation ${isolation}: ${N} mailbox sessions opened in ${openMs.toFixed(0)} ms (${(openMs / N).toFixed(1)} ms each), identities ${node.shortLived().length}, relay connections ${relay.libp2p.getConnections().length}, RSS +${(after - before).toFixed(1)} MiB (${((after - before) / N * 1024).toFixed(0)} KiB per mailbox)`)
  for (const s of sessions) await s.close()
  await node.stop()
}
await relay.stop()
rmSync(dir, { recursive: true, force: true })
