// Bare Node process RSS, to read device.idle_rss against: a child `node` with nothing loaded, settled after two
// forced collections. The same child with tsx and the shims loaded is reported too: what the TypeScript
// loader costs a process that runs the sources (tests, benchmarks; the bin runs the compiled dist/).
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { Benchmark, BenchContext, RowInput } from '../harness.ts'
import { startChild } from '../lib/child.ts'

const MB = 1024 * 1024
const SETTLE = 'const f=async()=>{for(let i=0;i<2;i++){gc();await new Promise(r=>setTimeout(r,100))}process.stdout.write(String(process.memoryUsage().rss))};f()'

async function run (ctx: BenchContext): Promise<RowInput[]> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '-e', SETTLE], { timeout: 20_000 })
  const bare = Number(stdout) / MB
  const child = startChild(ctx, 'bare.ts')
  const m = await child.next<{ rss: number }>('memory', 30_000)
  child.send({ type: 'exit' })
  ctx.record('node.bare.rss', bare)
  ctx.record('node.tsx.rss', m.rss / MB)
  return [{ ...ROWS[0], value: bare }, { ...ROWS[1], value: m.rss / MB }]
}

const ROWS = [
  { name: 'baseline.node.rss', unit: 'MB', better: 'lower', baseline: null, goal: null, note: 'idle `node` child process, nothing loaded' },
  { name: 'baseline.node_tsx.rss', unit: 'MB', better: 'lower', baseline: null, goal: null, note: 'idle child with tsx and the shims loaded (how tests and benchmarks run the sources)' }
] as const

export const memoryBaseline: Benchmark = { name: 'baseline.node', timeoutMs: 30_000, quickTimeoutMs: 30_000, rows: ROWS, run }
