// One client of the centralized baseline alone in this process, as the devices of direct.* are: it opens
// a product Device prepared by the bench, connects to the TLS WebSocket server and does the product's
// per-message work (bench/lib/product-endpoint.ts). Times are taken here.
// argv: JSON { url, ca, name, peer, deviceDir, contactId }. Messages:
//   latency { warmup, count } -> { samples }     throughput { total, window } -> { count, ms }     exit
//   cpu -> { us }   (this process's CPU time so far, user + system: the figure to compare with the direct row's devices)
import { Device } from '../../src/e2ee/device.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { connectClient } from '../lib/central.ts'
import { productEndpoint } from '../lib/product-endpoint.ts'
import { nowMs } from '../harness.ts'

// The parent gone (a Ctrl-C, a killed benchmark): a child in a session of its own (BENCH_OWN_SESSION=1) gets no
// signal from the terminal, so it ends when its IPC channel closes instead of living on.
process.on('disconnect', () => { process.exit(0) })

const TEXT = 'x'.repeat(100)
interface Options { url: string, ca: string, name: string, peer: string, deviceDir: string, contactId: string }
const o = JSON.parse(process.argv[2] ?? '{}') as Options
const send = (m: unknown): void => { process.send?.(m) }

async function main (): Promise<void> {
  const device = await Device.open(o.deviceDir, { logger: silentLogger })
  const client = await connectClient(o.url, o.name, o.peer, productEndpoint(device, o.contactId), o.ca)
  process.on('message', (m: { type?: string, warmup?: number, count?: number, total?: number, window?: number }) => {
    if (m.type === 'exit') { void client.close().finally(() => process.exit(0)); return }
    if (m.type === 'cpu') { const u = process.cpuUsage(); send({ type: 'cpu', us: u.user + u.system }); return }
    void (async () => {
      if (m.type === 'latency') {
        for (let i = 0; i < (m.warmup ?? 0); i++) await client.send(TEXT)
        const samples: number[] = []
        for (let i = 0; i < (m.count ?? 0); i++) {
          const t0 = nowMs()
          await client.send(TEXT)
          samples.push(nowMs() - t0)
        }
        send({ type: 'latency', samples })
      } else if (m.type === 'throughput') {
        const total = m.total ?? 0
        let next = 0
        const t0 = nowMs()
        await Promise.all(Array.from({ length: m.window ?? 1 }, async () => { while (next < total) { next++; await client.send(TEXT) } }))
        send({ type: 'throughput', count: total, ms: nowMs() - t0 })
      }
    })().catch((err: unknown) => { send({ type: 'error', message: err instanceof Error ? err.message : String(err) }) })
  })
  send({ type: 'ready' })
}

main().catch((err: unknown) => { send({ type: 'error', message: err instanceof Error ? err.message : String(err) }) })
