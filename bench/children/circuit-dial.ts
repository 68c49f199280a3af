// The near end of bench/standalone/relay-probe.ts: a plain node that dials the echoing node through the relay
// given in argv and times 1 KiB round trips on one stream of that relayed connection.
// Messages: <- { type: 'ready' } once the stream is open; -> { type: 'run', count, gapMs } (a pause before each) <- { type: 'run', samples }; -> exit.
import { multiaddr } from '@multiformats/multiaddr'
import { ECHO } from '../baselines/libp2p.ts'
import { circuitNode } from '../baselines/circuit.ts'
import { nowMs } from '../harness.ts'

// The parent gone (a Ctrl-C, a killed benchmark): a child in a session of its own (BENCH_OWN_SESSION=1) gets no
// signal from the terminal, so it ends when its IPC channel closes instead of living on.
process.on('disconnect', () => { process.exit(0) })

const MESSAGE_BYTES = 1024
const send = (m: unknown): void => { process.send?.(m) }
const [relay, peerId] = process.argv.slice(2)
if (relay === undefined || peerId === undefined) throw new Error('usage: circuit-dial.ts <relay multiaddr> <echo peer id>')

circuitNode({ listen: [] }).then(async (node) => {
  const stream = await node.dialProtocol(multiaddr(`${relay}/p2p-circuit/p2p/${peerId}`), ECHO, { runOnLimitedConnection: true })
  let have = 0
  let waiting: (() => void) | undefined
  stream.addEventListener('message', (e) => {
    have += e.data.byteLength
    if (waiting !== undefined && have >= MESSAGE_BYTES) { have -= MESSAGE_BYTES; const w = waiting; waiting = undefined; w() }
  })
  const msg = new Uint8Array(MESSAGE_BYTES).fill(7)
  const roundTrip = async (): Promise<void> => {
    const done = new Promise<void>((resolve) => { waiting = resolve })
    stream.send(msg)
    await done
  }
  process.on('message', (m: { type?: string, count?: number, gapMs?: number }) => {
    if (m.type === 'run') {
      void (async () => {
        const samples: number[] = []
        for (let i = 0; i < (m.count ?? 0); i++) {
          if ((m.gapMs ?? 0) > 0) await new Promise((resolve) => setTimeout(resolve, m.gapMs))
          const t0 = nowMs()
          await roundTrip()
          samples.push(nowMs() - t0)
        }
        send({ type: 'run', samples })
      })()
    } else if (m.type === 'exit') void Promise.resolve(node.stop()).finally(() => process.exit(0))
  })
  send({ type: 'ready' })
}, (err: unknown) => { send({ type: 'error', message: err instanceof Error ? err.message : String(err) }) })
