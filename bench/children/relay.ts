// A relay alone in this process, so its memory is measurable apart from the devices that connect to it.
// argv: data directory, optional limits as JSON.
// Started as `0message1 relay` runs it: alone in its process (ownProcess: its buffer pool and heap trimmer), under
// the launch settings of the bin's first line (the parent passes them, test/helpers/launch.ts).
// Messages: -> { type: 'measure' } <- { type: 'memory', ...MemoryReading, trims, connections } (bench/lib/memory-reading.ts).
import { startRelay, type RelayLimits } from '../../src/relay/service.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { memoryReading } from '../lib/memory-reading.ts'

// The parent gone (a Ctrl-C, a killed benchmark): a child in a session of its own (BENCH_OWN_SESSION=1) gets no
// signal from the terminal, so it ends when its IPC channel closes instead of living on.
process.on('disconnect', () => { process.exit(0) })

const send = (m: unknown): void => { process.send?.(m) }

const dataDir = process.argv[2]
if (dataDir === undefined) throw new Error('usage: relay.ts <dataDir> [limits as JSON]')
const limits = process.argv[3] !== undefined ? JSON.parse(process.argv[3]) as Partial<RelayLimits> : undefined
startRelay({ dataDir, listen: ['/ip4/127.0.0.1/tcp/0'], logger: silentLogger, ownProcess: true, ...(limits !== undefined ? { limits } : {}) }).then((relay) => {
  send({ type: 'ready', addresses: relay.addresses })
  process.on('message', (m: { type?: string }) => {
    if (m.type === 'measure') {
      memoryReading().then((mem) => {
        send({ type: 'memory', ...mem, trims: relay.heapTrimmer?.trims() ?? 0, connections: relay.libp2p.getConnections().length })
      }, (err: unknown) => { send({ type: 'error', message: String(err) }) })
    } else if (m.type === 'exit') {
      // Exits whatever stop() does; nothing is left to handle a rejection.
      void relay.stop().finally(() => process.exit(0))
    }
  })
}, (err: unknown) => { send({ type: 'error', message: String(err) }) })
