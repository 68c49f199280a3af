// A plain libp2p node (TCP, Noise, Yamux) alone in this process that echoes every byte on the bench's echo
// protocol: the far end of the raw stream round trip, in its own process as the devices of direct.* are.
// Messages: <- { type: 'ready', addresses }; -> measure <- { type: 'memory', ...MemoryReading, connections }
// (bench/lib/memory-reading.ts); -> exit.
import { ECHO, plainNode } from '../baselines/libp2p.ts'
import { memoryReading } from '../lib/memory-reading.ts'

// The parent gone (a Ctrl-C, a killed benchmark): a child in a session of its own (BENCH_OWN_SESSION=1) gets no
// signal from the terminal, so it ends when its IPC channel closes instead of living on.
process.on('disconnect', () => { process.exit(0) })

const send = (m: unknown): void => { process.send?.(m) }

plainNode().then(async (node) => {
  await node.handle(ECHO, (stream) => {
    stream.addEventListener('message', (e) => { stream.send(e.data) })
  })
  process.on('message', (m: { type?: string }) => {
    if (m.type === 'exit') void Promise.resolve(node.stop()).finally(() => process.exit(0))
    if (m.type === 'measure') {
      memoryReading().then((mem) => { send({ type: 'memory', ...mem, connections: node.getConnections().length }) }, (err: unknown) => { send({ type: 'error', message: String(err) }) })
    }
  })
  send({ type: 'ready', addresses: node.getMultiaddrs().map((a) => a.toString()) })
}, (err: unknown) => { send({ type: 'error', message: err instanceof Error ? err.message : String(err) }) })
