// Child processes for benchmarks that must measure one process's memory on its own. A child is a tsx
// script under bench/children that talks JSON over the IPC channel; it is killed when the benchmark ends.
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { BenchContext } from '../harness.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

export interface Child {
  readonly proc: ChildProcess
  send: (msg: unknown) => void
  /** Next message whose `type` is `type` (an `error` message from the child rejects). */
  next: <T = Record<string, unknown>>(type: string, timeoutMs?: number) => Promise<T>
}

/** `env` is added to this process's environment (a device's launch settings, test/helpers/launch.ts). */
export function startChild (ctx: BenchContext, script: string, args: string[] = [], execArgv: readonly string[] = [], env: Readonly<Record<string, string>> = {}): Child {
  const proc = fork(fileURLToPath(new URL(`../children/${script}`, import.meta.url)), args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    execArgv: ['--import', 'tsx', '--import', './src/platform/shims.ts', '--expose-gc', ...(process.env.BENCH_CPU_PROF !== undefined ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.BENCH_CPU_PROF] : []), ...execArgv],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // BENCH_OWN_SESSION=1: each child in a session of its own, so (Linux, sched_autogroup) its own scheduler group.
    // On a machine shared with other sessions, the two devices of a row otherwise share one group's fair share of
    // the CPU, and work they do at the same time is no faster than work they take turns at; a real pair of devices
    // has a CPU each. It changes nothing on a quiet machine.
    detached: process.env.BENCH_OWN_SESSION === '1'
  })
  const inbox: Array<Record<string, unknown>> = []
  const waiters: Array<() => void> = []
  let exited: string | undefined
  proc.on('message', (m) => { inbox.push(m as Record<string, unknown>); for (const w of waiters.splice(0)) w() })
  proc.on('exit', (code, signal) => { exited = `child ${script} exited (${code ?? signal ?? '?'})`; for (const w of waiters.splice(0)) w() })
  ctx.defer(async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return
    proc.kill('SIGTERM')
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => { proc.kill('SIGKILL'); resolve() }, 5000)
      proc.once('exit', () => { clearTimeout(t); resolve() })
    })
  })
  return {
    proc,
    send: (msg) => { proc.send(msg as object) },
    next: async <T>(type: string, timeoutMs = 120_000): Promise<T> => {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const i = inbox.findIndex((m) => m.type === type || m.type === 'error')
        if (i >= 0) {
          const m = inbox.splice(i, 1)[0] as Record<string, unknown>
          if (m.type === 'error') throw new Error(`child ${script}: ${String(m.message)}`)
          return m as T
        }
        if (exited !== undefined) throw new Error(exited)
        if (ctx.signal.aborted || Date.now() > deadline) throw new Error(`child ${script}: no '${type}' message in time`)
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 200)
          waiters.push(() => { clearTimeout(t); resolve() })
        })
      }
    }
  }
}

/** Settled memory of this process, after two forced collections (needs --expose-gc). */
export async function settledMemory (): Promise<{ rss: number, heapUsed: number, external: number }> {
  const gc = (globalThis as { gc?: () => void }).gc
  for (let i = 0; i < 2; i++) {
    gc?.()
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const m = process.memoryUsage()
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external + m.arrayBuffers }
}
