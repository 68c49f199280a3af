// Child processes for multi-process tests (NAT, crash, chaos): spawn a TypeScript script, optionally
// inside a network namespace, and talk to it in JSON lines; every child is killed when the test ends.
//
// Parent side: spawnChild(). Child side: serveParent(handlers) + emit(event).
// Protocol, one JSON object per line: parent -> child on stdin {id, cmd, args};
// child -> parent on stdout, lines starting with CHILD_MARK: {id, ok, result|error} or {event, ...}.
// stderr is kept (last STDERR_KEEP bytes) for failure messages.
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { TestContext } from 'node:test'

export const CHILD_MARK = '@@0m1 '
/** How much of a child's stderr is kept for the failure message of a test. */
const STDERR_KEEP = 64 * 1024
/** Default bound on one request to a child (dial, send, deposit): generous, never infinite. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000
/** Grace period for a child asked to stop before it is SIGKILLed. */
const STOP_GRACE_MS = 5_000

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url))

export interface ChildEvent { readonly event: string, readonly [key: string]: unknown }

export interface ChildOptions {
  /** For messages only. */
  readonly name: string
  /** argv prefix, e.g. ['ip', 'netns', 'exec', ns]. */
  readonly wrap?: readonly string[]
  readonly args?: readonly string[]
  /** Extra node flags, e.g. --max-old-space-size=256 to bound a child's heap. */
  readonly nodeArgs?: readonly string[]
  readonly env?: Readonly<Record<string, string>>
  /** Kills the child in t.after. */
  readonly t?: TestContext
  /** stderr lines matching this are all kept (see Child.matched), however much else the child writes. */
  readonly keepLines?: RegExp
}

export interface Child {
  readonly name: string
  readonly pid: number
  readonly events: readonly ChildEvent[]
  request: <T = unknown>(cmd: string, args?: unknown, timeoutMs?: number) => Promise<T>
  waitEvent: (match: (e: ChildEvent) => boolean, timeoutMs?: number) => Promise<ChildEvent>
  stderr: () => string
  /** Every stderr line that matched ChildOptions.keepLines, in order (stderr() keeps only a tail). */
  matched: () => readonly string[]
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  /** SIGKILL (or another signal), then waits for the exit. */
  kill: (signal?: NodeJS.Signals) => Promise<void>
  /** Asks the child to stop (cmd 'stop'), SIGKILL after a grace period. */
  stop: () => Promise<void>
}

const liveChildren = new Set<ChildProcess>()
let exitHookInstalled = false

function installExitHook (): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const c of liveChildren) {
      try { c.kill('SIGKILL') } catch { /* gone */ }
    }
  })
}

class ChildFailed extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'ChildFailed'
  }
}

export function spawnChild (script: string, o: ChildOptions): Child {
  installExitHook()
  const argv = [...(o.wrap ?? []), process.execPath, ...(o.nodeArgs ?? []), '--import', 'tsx', '--import', './src/platform/shims.ts', script, ...(o.args ?? [])]
  const proc = spawn(argv[0] as string, argv.slice(1), {
    cwd: REPO_ROOT,
    env: { ...process.env, ...o.env },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  liveChildren.add(proc)
  let stderrText = ''
  const matched: string[] = []
  let partial = ''
  proc.stderr?.on('data', (d: Buffer) => {
    stderrText += d.toString()
    if (o.keepLines !== undefined) {
      const lines = (partial + d.toString()).split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) if (o.keepLines.test(line)) matched.push(line)
    }
    if (stderrText.length > STDERR_KEEP) stderrText = stderrText.slice(-STDERR_KEEP)
    if (process.env.CHILD_STDERR === '1') process.stderr.write(`[${o.name}] ${d.toString()}`)
  })
  const events: ChildEvent[] = []
  const eventWaiters = new Set<{ match: (e: ChildEvent) => boolean, resolve: (e: ChildEvent) => void }>()
  const pending = new Map<number, { resolve: (v: unknown) => void, reject: (e: Error) => void }>()
  let nextId = 1
  let exitInfo: { code: number | null, signal: NodeJS.Signals | null } | undefined
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    proc.on('exit', (code, signal) => {
      exitInfo = { code, signal }
      liveChildren.delete(proc)
      for (const p of pending.values()) p.reject(new ChildFailed(`${o.name} exited (code ${String(code)}, signal ${String(signal)}) before answering; stderr tail:\n${stderrText.slice(-4000)}`))
      pending.clear()
      resolve(exitInfo)
    })
  })
  proc.stdin?.on('error', () => { /* child gone; requests fail through 'exit' */ })
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    if (!line.startsWith(CHILD_MARK)) return
    let msg: Record<string, unknown>
    try { msg = JSON.parse(line.slice(CHILD_MARK.length)) as Record<string, unknown> } catch { return }
    if (typeof msg.id === 'number') {
      const p = pending.get(msg.id)
      if (p === undefined) return
      pending.delete(msg.id)
      if (msg.ok === true) p.resolve(msg.result)
      else p.reject(new ChildFailed(`${o.name}: ${String(msg.error)}`))
    } else if (typeof msg.event === 'string') {
      const e = msg as unknown as ChildEvent
      events.push(e)
      for (const w of eventWaiters) if (w.match(e)) { eventWaiters.delete(w); w.resolve(e) }
    }
  })
  const child: Child = {
    name: o.name,
    pid: proc.pid ?? -1,
    events,
    request: async <T>(cmd: string, args?: unknown, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<T> => {
      if (exitInfo !== undefined) throw new ChildFailed(`${o.name} has exited; cannot run ${cmd}`)
      const id = nextId++
      return await new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id)
          reject(new ChildFailed(`${o.name}: ${cmd} took more than ${timeoutMs} ms; stderr tail:\n${stderrText.slice(-4000)}`))
        }, timeoutMs)
        pending.set(id, {
          resolve: (v) => { clearTimeout(timer); resolve(v as T) },
          reject: (e) => { clearTimeout(timer); reject(e) }
        })
        proc.stdin?.write(JSON.stringify({ id, cmd, args }) + '\n')
      })
    },
    waitEvent: async (match, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS) => {
      const seen = events.find(match)
      if (seen !== undefined) return seen
      return await new Promise<ChildEvent>((resolve, reject) => {
        const w = {
          match,
          resolve: (e: ChildEvent) => { clearTimeout(timer); resolve(e) }
        }
        const timer = setTimeout(() => {
          eventWaiters.delete(w)
          reject(new ChildFailed(`${o.name}: awaited event did not come within ${timeoutMs} ms; stderr tail:\n${stderrText.slice(-4000)}`))
        }, timeoutMs)
        eventWaiters.add(w)
      })
    },
    stderr: () => stderrText,
    matched: () => matched,
    exited,
    kill: async (signal = 'SIGKILL') => {
      if (exitInfo === undefined) proc.kill(signal)
      await exited
    },
    stop: async () => {
      if (exitInfo !== undefined) return
      const timer = setTimeout(() => { proc.kill('SIGKILL') }, STOP_GRACE_MS)
      proc.stdin?.write(JSON.stringify({ id: 0, cmd: 'stop' }) + '\n')
      await exited
      clearTimeout(timer)
    }
  }
  if (o.t !== undefined) o.t.after(async () => { await child.kill() })
  return child
}

// ---- child side ----

export type Handlers = Record<string, (args: any) => unknown> // eslint-disable-line @typescript-eslint/no-explicit-any

export function emit (event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(CHILD_MARK + JSON.stringify({ ...fields, event }) + '\n')
}

/**
 * Serves the parent's requests. `stop` runs handlers.stop (if any) then exits 0. The child exits
 * when its stdin closes (the parent died), so no orphan outlives a crashed test runner.
 */
export function serveParent (handlers: Handlers): void {
  const rl = createInterface({ input: process.stdin })
  rl.on('line', (line) => {
    let msg: { id: number, cmd: string, args?: unknown }
    try { msg = JSON.parse(line) as typeof msg } catch { return }
    const reply = (ok: boolean, value: unknown): void => {
      if (msg.id === 0) return
      const body = ok ? { id: msg.id, ok, result: value } : { id: msg.id, ok, error: value }
      process.stdout.write(CHILD_MARK + JSON.stringify(body) + '\n')
    }
    if (msg.cmd === 'stop') {
      Promise.resolve(handlers.stop?.(undefined)).catch(() => {}).finally(() => process.exit(0))
      return
    }
    const h = handlers[msg.cmd]
    if (h === undefined) { reply(false, `unknown command ${msg.cmd}`); return }
    Promise.resolve().then(() => h(msg.args)).then(
      (v) => { reply(true, v ?? null) },
      (err: unknown) => { reply(false, err instanceof Error ? `${err.name}: ${err.message}${'code' in err ? ` (${String((err as { code: unknown }).code)})` : ''}` : String(err)) }
    )
  })
  rl.on('close', () => { process.exit(0) })
}
