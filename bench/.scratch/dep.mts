import '../../src/platform/shims.ts'
import { mkdtempSync } from 'node:fs'
import { createDeviceNode } from '../../src/net/node.ts'
import { startRelay } from '../../src/relay/service.ts'
import { silentLogger } from '../../src/platform/logger.ts'
const h = await startRelay({ dataDir: mkdtempSync('/tmp/bx/r-'), listen: ['/ip4/127.0.0.1/tcp/0'], logger: silentLogger, limits: { depositsPerMinutePerConnection: 1_000_000, maxMailboxCount: 100_000, maxMailboxBytes: 1024 * 1024 * 1024 } })
console.log(h.addresses)
const d = await createDeviceNode({ listen: ['/ip4/127.0.0.1/tcp/0'], relays: [], logger: silentLogger })
try { await d.deposit(h.addresses[0], new Uint8Array(32), new Uint8Array(1024).fill(7)) ; console.log('ok') } catch (e) { console.log(e, e.cause) }
await d.stop(); await h.stop()
const h2 = await startRelay({ dataDir: mkdtempSync('/tmp/bx/r-'), listen: ['/ip4/127.0.0.1/tcp/0'], logger: silentLogger, limits: { depositsPerMinutePerConnection: 1_000_000, maxMailboxCount: 100_000, maxMailboxBytes: 1024 * 1024 * 1024 } })
const d2 = await createDeviceNode({ listen: ['/ip4/127.0.0.1/tcp/0'], relays: [], logger: silentLogger })
for (const w of [1, 2, 4, 8]) {
  let next = 0; let ok = 0; let fail = 0
  await Promise.all(Array.from({ length: w }, async () => { while (next < 200) { next++; try { await d2.deposit(h2.addresses[0], new Uint8Array(32).fill(next % 16), new Uint8Array(1024).fill(7)); ok++ } catch (e) { if (fail++ < 1) console.log(w, e.cause?.message) } } }))
  console.log('window', w, 'ok', ok, 'fail', fail)
}
await d2.stop(); await h2.stop()
