// A bare Node process plus tsx and the shims (how tests and benchmarks run the sources): its settled RSS.
import { settledMemory } from '../lib/child.ts'

// The parent gone (a Ctrl-C, a killed benchmark): a child in a session of its own (BENCH_OWN_SESSION=1) gets no
// signal from the terminal, so it ends when its IPC channel closes instead of living on.
process.on('disconnect', () => { process.exit(0) })

const send = (m: unknown): void => { process.send?.(m) }
settledMemory().then((m) => { send({ type: 'memory', ...m }) }, (err: unknown) => { send({ type: 'error', message: String(err) }) })
process.on('message', (m: { type?: string }) => { if (m.type === 'exit') process.exit(0) })
