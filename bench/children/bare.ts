// A bare Node process plus tsx and the shims (how tests and benchmarks run the sources): its settled RSS.
import { settledMemory } from '../lib/child.ts'

const send = (m: unknown): void => { process.send?.(m) }
settledMemory().then((m) => { send({ type: 'memory', ...m }) }, (err: unknown) => { send({ type: 'error', message: String(err) }) })
process.on('message', (m: { type?: string }) => { if (m.type === 'exit') process.exit(0) })
