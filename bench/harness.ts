// The benchmark harness: a registry of benchmarks that each return rows, a runner that bounds each one
// in time and cleans up after it, and the table printer and JSON writer of bench/results/latest.json.
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { cpus, totalmem, tmpdir, platform, release, arch, loadavg } from 'node:os'
import { dirname, join } from 'node:path'

export type Better = 'higher' | 'lower'

/** A goal as the issue states it, kept machine-checkable: `on` the value itself or on the ratio. */
export interface Goal {
  readonly text: string
  readonly on: 'value' | 'ratio'
  readonly op: '>=' | '<='
  readonly target: number
}

/** What a benchmark returns. `baselineKey` names a figure measured in the same run (see BenchContext.record). */
export interface RowInput {
  readonly name: string
  readonly unit: string
  readonly value: number | null
  readonly better: Better
  /** Human description of the baseline, or null when the figure has none. */
  readonly baseline: string | null
  /** Key of a figure another benchmark records in the same run; resolved when the run ends. */
  readonly baselineKey?: string
  /** A baseline value computed by the benchmark itself (e.g. log2(N)); wins over baselineKey. */
  readonly baselineValue?: number
  readonly goal: Goal | null
  readonly note?: string
  /** What this machine cannot go beyond for this figure (e.g. raw libsignal plus one commit per message),
   * measured in the same run: shows whether a missed goal is reachable here at all. */
  readonly floor?: string
  /** Key of the recorded floor figure (see BenchContext.record); resolved when the run ends. */
  readonly floorKey?: string
}

export interface Machine {
  readonly cpu: string
  readonly cores: number
  readonly memoryGiB: number
  readonly os: string
  /** 1-minute load average when the run started: other work on the machine skews every figure. */
  readonly load1m: number
}

/** One object of latest.json. The file is an array of these; every row carries the machine, Node version
 * and date of the run, so the array shape the issue asks for holds and each row stands on its own. */
export interface ResultRow {
  readonly name: string
  readonly unit: string
  readonly value: number | null
  readonly baseline: string | null
  readonly baseline_value: number | null
  /** value / baseline_value, both from this run; null when either is missing. */
  readonly ratio: number | null
  readonly better: Better
  readonly goal: string | null
  /** true/false when the goal could be checked, null when the value (or ratio) is missing or there is no goal. */
  readonly goal_met: boolean | null
  readonly note: string | null
  /** The measured floor (same unit as value) and what it is; null when the row has none. */
  readonly floor: string | null
  readonly floor_value: number | null
  readonly mode: 'quick' | 'full'
  readonly machine: Machine
  readonly node: string
  readonly date: string
}

export interface BenchContext {
  readonly quick: boolean
  /** Pick a count: the full figure or the smaller --quick one. */
  readonly n: (full: number, quick: number) => number
  /** Records a figure other rows use as their baseline (same run). */
  readonly record: (key: string, value: number) => void
  /** A figure recorded earlier in this run (benchmarks run in registry order), to compute a floor. */
  readonly recorded: (key: string) => number | undefined
  /** A fresh temp directory, removed when the benchmark ends. */
  readonly tmpDir: (prefix: string) => string
  /** Registers a cleanup, run (last first) when the benchmark ends, even on failure or timeout. */
  readonly defer: (fn: () => unknown) => void
  /** Aborted when the benchmark's time is up: long loops should check it. */
  readonly signal: AbortSignal
  readonly progress: (line: string) => void
}

export interface Benchmark {
  readonly name: string
  /** Hard bound in ms for the full run; --quick uses quickTimeoutMs. */
  readonly timeoutMs: number
  readonly quickTimeoutMs: number
  /** Rows this benchmark will produce, so a failure still leaves every row in the table (value null). */
  readonly rows: readonly Omit<RowInput, 'value'>[]
  readonly run: (ctx: BenchContext) => Promise<RowInput[]>
}

export function machine (): Machine {
  const c = cpus()
  return {
    cpu: c[0]?.model.trim() ?? 'unknown',
    cores: c.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30 * 10) / 10,
    os: `${platform()} ${release()} ${arch()}`,
    load1m: Math.round((loadavg()[0] ?? 0) * 100) / 100
  }
}

export function ratioOf (value: number | null, baselineValue: number | null): number | null {
  if (value === null || baselineValue === null || !Number.isFinite(value) || !Number.isFinite(baselineValue) || baselineValue === 0) return null
  return value / baselineValue
}

export function goalMet (goal: Goal | null, value: number | null, ratio: number | null): boolean | null {
  if (goal === null) return null
  const x = goal.on === 'value' ? value : ratio
  if (x === null) return null
  return goal.op === '>=' ? x >= goal.target : x <= goal.target
}

/** Turns benchmark rows into result rows: resolves baselines measured in the run and computes ratios. */
export function finalizeRows (
  inputs: readonly RowInput[],
  recorded: ReadonlyMap<string, number>,
  meta: { mode: 'quick' | 'full', machine: Machine, node: string, date: string }
): ResultRow[] {
  return inputs.map((r) => {
    const baselineValue = r.baselineValue ?? (r.baselineKey !== undefined ? recorded.get(r.baselineKey) ?? null : null)
    const value = r.value !== null && Number.isFinite(r.value) ? r.value : null
    const ratio = ratioOf(value, baselineValue)
    let note = r.note ?? null
    if (r.baselineKey !== undefined && baselineValue === null) {
      note = [note, `baseline ${r.baselineKey} not measured in this run`].filter((x) => x !== null).join('; ')
    }
    const floorRaw = r.floorKey !== undefined ? recorded.get(r.floorKey) ?? null : null
    const floorValue = floorRaw !== null && Number.isFinite(floorRaw) ? floorRaw : null
    return {
      name: r.name,
      unit: r.unit,
      value,
      baseline: r.baseline,
      baseline_value: baselineValue,
      ratio,
      better: r.better,
      goal: r.goal?.text ?? null,
      goal_met: goalMet(r.goal, value, ratio),
      note,
      floor: r.floor ?? null,
      floor_value: floorValue,
      ...meta
    }
  })
}

/** Significant figures for a table cell: enough to compare, never a wall of digits. */
export function formatNumber (x: number | null): string {
  if (x === null) return '—'
  if (x === 0) return '0'
  const abs = Math.abs(x)
  if (abs >= 1000) return Math.round(x).toLocaleString('en-US')
  if (abs >= 100) return x.toFixed(0)
  if (abs >= 10) return x.toFixed(1)
  if (abs >= 1) return x.toFixed(2)
  return x.toPrecision(2)
}

const COLUMNS = ['name', 'value', 'unit', 'baseline', 'baseline value', 'ratio', 'goal', 'met', 'floor'] as const

function cells (r: ResultRow): string[] {
  return [
    r.name,
    formatNumber(r.value),
    r.unit,
    r.baseline ?? '—',
    formatNumber(r.baseline_value),
    r.ratio === null ? '—' : r.ratio.toFixed(2),
    r.goal ?? '—',
    r.goal_met === null ? '—' : r.goal_met ? 'yes' : 'NO',
    r.floor === null ? '—' : formatNumber(r.floor_value)
  ]
}

/** A plain-text table for the terminal. */
export function formatTable (rows: readonly ResultRow[]): string {
  const body = rows.map(cells)
  const widths = COLUMNS.map((c, i) => Math.max(c.length, ...body.map((b) => (b[i] ?? '').length)))
  const line = (cs: readonly string[]): string => cs.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  const out = [line(COLUMNS), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)]
  const notes = rows.filter((r) => r.note !== null || r.floor !== null)
    .map((r) => `  ${r.name}: ${[r.note, r.floor === null ? null : `floor: ${r.floor}`].filter((x) => x !== null).join('; ')}`)
  if (notes.length > 0) out.push('', 'notes:', ...notes)
  return out.join('\n')
}

/** The same table in Markdown, for the README. */
export function formatMarkdown (rows: readonly ResultRow[]): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|')
  const out = [`| ${COLUMNS.join(' | ')} |`, `| ${COLUMNS.map(() => '---').join(' | ')} |`]
  for (const r of rows) out.push(`| ${cells(r).map(esc).join(' | ')} |`)
  return out.join('\n')
}

export function writeResults (path: string, rows: readonly ResultRow[]): void {
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, JSON.stringify(rows, null, 2) + '\n')
}

export class BenchTimeoutError extends Error {
  static readonly name = 'BenchTimeoutError'
  constructor (name: string, ms: number) {
    super(`${name} did not finish within ${ms} ms`)
    this.name = 'BenchTimeoutError'
  }
}

/** Runs one benchmark with its deadline and cleanups. A failure gives its rows with value null and a note. */
export async function runBenchmark (
  b: Benchmark,
  options: { quick: boolean, record: (key: string, value: number) => void, recorded?: (key: string) => number | undefined, progress: (line: string) => void }
): Promise<RowInput[]> {
  const cleanups: Array<() => unknown> = []
  const ac = new AbortController()
  const ms = options.quick ? b.quickTimeoutMs : b.timeoutMs
  const ctx: BenchContext = {
    quick: options.quick,
    n: (full, quick) => options.quick ? quick : full,
    record: options.record,
    recorded: options.recorded ?? (() => undefined),
    tmpDir: (prefix) => {
      const dir = mkdtempSync(join(tmpdir(), `0m1-bench-${prefix}-`))
      cleanups.push(() => { rmSync(dir, { recursive: true, force: true }) })
      return dir
    },
    defer: (fn) => { cleanups.push(fn) },
    signal: ac.signal,
    progress: options.progress
  }
  let timer: NodeJS.Timeout | undefined
  try {
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        ac.abort()
        reject(new BenchTimeoutError(b.name, ms))
      }, ms)
    })
    return await Promise.race([b.run(ctx), timeout])
  } catch (err) {
    ac.abort()
    const cause = err instanceof Error && err.cause instanceof Error ? ` (cause: ${err.cause.name}: ${err.cause.message})` : ''
    const why = err instanceof Error ? `${err.name}: ${err.message}${cause}` : String(err)
    return b.rows.map((r) => ({ ...r, value: null, note: [r.note, `not measured: ${why}`].filter((x) => x !== undefined).join('; ') }))
  } finally {
    clearTimeout(timer)
    for (const fn of cleanups.reverse()) {
      try {
        await Promise.race([Promise.resolve(fn()), new Promise((resolve) => setTimeout(resolve, 10_000).unref())])
      } catch (err) {
        options.progress(`  cleanup of ${b.name} failed: ${err instanceof Error ? err.message : String(err)}`)
      }
    }
  }
}

export function percentile (sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of an empty sample')
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))
  return sorted[i] as number
}

/**
 * Messages each end of a latency figure exchanges before its samples are taken: the product's devices (direct and
 * relayed), the centralized baseline's clients, the raw stream and the raw circuit alike, so every latency ratio
 * compares code at the same stage of V8's compilation. A device process is about warm after ~2,000 messages: before
 * that, about a third of its CPU per message is TurboFan still optimizing it on V8's helper threads (perf record of a
 * device; bench/standalone/latency-probe.ts with PROBE_WARMUP, interleaved pairs at load 3.5-6.4: p50 1.50-1.62 ms
 * after 50, 1.03-1.12 ms after 4,000). The goals are judged on these warm figures; the cold rows (the first messages
 * after start, what a device that has just started gives) stand beside them for the product, the centralized
 * clients and the raw stream, without goals.
 */
export const LATENCY_WARMUP = 2000
/** The cold figures' messages: the first after start, past the handful a session's setup takes, [full, quick]. */
export const COLD_SKIP = 20
export const COLD_COUNT = [500, 150] as const

export function latencyStats (samples: readonly number[]): { p50: number, p99: number, mean: number } {
  const s = [...samples].sort((a, b) => a - b)
  return { p50: percentile(s, 50), p99: percentile(s, 99), mean: s.reduce((a, b) => a + b, 0) / s.length }
}

export function nowMs (): number {
  return Number(process.hrtime.bigint()) / 1e6
}
