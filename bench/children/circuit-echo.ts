// The far end of baseline.libp2p.circuit: a plain node with a reservation on the relay given in argv that
// echoes every byte on the bench's echo protocol over relayed connections.
// Messages: <- { type: 'ready', peerId } once the reservation is held; -> exit.
import { multiaddr } from '@multiformats/multiaddr'
import { ECHO } from '../baselines/libp2p.ts'
import { circuitNode } from '../baselines/circuit.ts'

// The parent gone (a Ctrl-C, a killed benchmark): a child in a session of its own (BENCH_OWN_SESSION=1) gets no
// signal from the terminal, so it ends when its IPC channel closes instead of living on.
process.on('disconnect', () => { process.exit(0) })

const send = (m: unknown): void => { process.send?.(m) }
const relay = process.argv[2]
if (relay === undefined) throw new Error('usage: circuit-echo.ts <relay multiaddr>')

circuitNode({ listen: [] }).then(async (node) => {
  await node.handle(ECHO, (stream) => {
    stream.addEventListener('message', (e) => { stream.send(e.data) })
  }, { runOnLimitedConnection: true })
  process.on('message', (m: { type?: string }) => {
    if (m.type === 'exit') void Promise.resolve(node.stop()).finally(() => process.exit(0))
  })
  await node.dial(multiaddr(relay))
  const tm = (node as unknown as { components: { transportManager: { listen: (a: unknown[]) => Promise<void> } } }).components.transportManager
  await tm.listen([multiaddr(`${relay}/p2p-circuit`)])
  send({ type: 'ready', peerId: node.peerId.toString() })
}, (err: unknown) => { send({ type: 'error', message: err instanceof Error ? err.message : String(err) }) })
