// Property-based fuzzing of decoders of untrusted bytes: random inputs and mutated valid encodings
// (bit flips, truncation, extension, huge length fields, wrong versions, splices) must produce a value
// or a typed error, never another exception. Runs inside a child process (test/fuzz/run-target.ts)
// so a hang or a memory blow-up is caught by the parent's deadline and heap bound.
import fc from 'fast-check'

export interface FuzzTarget {
  /** Decodes untrusted bytes; returns anything, throws only typed errors. */
  readonly decode: (bytes: Uint8Array) => unknown
  /** True for the layer's typed errors (WireError.is, NetError.is, ...). */
  readonly isTyped: (err: unknown) => boolean
  /** Valid encodings to mutate (at least one). */
  readonly seeds: readonly Uint8Array[]
  /** Upper bound of purely random inputs' length. */
  readonly maxRandomLength?: number
}

export interface FuzzResult {
  readonly runs: number
  readonly accepted: number
  readonly rejected: Record<string, number>
  readonly maxCaseMs: number
  readonly peakRssMb: number
  readonly ms: number
}

type Mutation =
  | { kind: 'flip', at: number, bit: number }
  | { kind: 'truncate', at: number }
  | { kind: 'extend', bytes: Uint8Array }
  | { kind: 'huge', at: number, width: number, value: number }
  | { kind: 'version', value: number }
  | { kind: 'overwrite', at: number, bytes: Uint8Array }
  | { kind: 'splice', at: number, from: number, len: number }

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('extend' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }) },
  // A length or count field set to its largest values: the decoder must bound it before allocating.
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('huge' as const), at: fc.nat(), width: fc.constantFrom(1, 2, 4, 8), value: fc.constantFrom(0xff, 0x7f, 0x80) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('version' as const), value: fc.integer({ min: 0, max: 255 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('overwrite' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('splice' as const), at: fc.nat(), from: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }) }
)

export function mutate (seed: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let b = Uint8Array.from(seed)
  for (const m of mutations) {
    const at = b.length === 0 ? 0 : ('at' in m ? m.at % b.length : 0)
    switch (m.kind) {
      case 'flip': if (b.length > 0) b[at] = (b[at] as number) ^ (1 << m.bit); break
      case 'truncate': b = b.slice(0, at); break
      case 'extend': { const n = new Uint8Array(b.length + m.bytes.length); n.set(b); n.set(m.bytes, b.length); b = n; break }
      case 'huge': for (let i = 0; i < m.width && at + i < b.length; i++) b[at + i] = i === 0 ? m.value : 0xff; break
      case 'version': if (b.length > 0) b[0] = m.value; break
      case 'overwrite': for (let i = 0; i < m.bytes.length && at + i < b.length; i++) b[at + i] = m.bytes[i] as number; break
      case 'splice': {
        if (b.length === 0) break
        const from = m.from % b.length
        const chunk = b.slice(from, from + m.len)
        const n = new Uint8Array(b.length + chunk.length)
        n.set(b.subarray(0, at)); n.set(chunk, at); n.set(b.subarray(at), at + chunk.length)
        b = n
        break
      }
    }
  }
  return b
}

export function inputArb (target: FuzzTarget): fc.Arbitrary<Uint8Array> {
  if (target.seeds.length === 0) throw new RangeError('a fuzz target needs at least one seed')
  const seedArb = fc.constantFrom(...target.seeds)
  return fc.oneof(
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: target.maxRandomLength ?? 512 }) },
    { weight: 1, arbitrary: seedArb },
    { weight: 6, arbitrary: fc.tuple(seedArb, fc.array(mutationArb, { minLength: 1, maxLength: 4 })).map(([s, ms]) => mutate(s, ms)) }
  )
}

function errorLabel (err: unknown): string {
  const code = (err as { code?: unknown }).code
  return `${(err as Error).name}:${typeof code === 'string' ? code : '?'}`
}

/** Runs `runs` cases; throws (with fast-check's shrunk counterexample) on the first untyped error. */
export function fuzz (target: FuzzTarget, runs: number, seed?: number): FuzzResult {
  const started = performance.now()
  const rejected: Record<string, number> = {}
  let accepted = 0
  let maxCaseMs = 0
  let peakRss = process.memoryUsage().rss
  let n = 0
  fc.assert(fc.property(inputArb(target), (input) => {
    const t0 = performance.now()
    try {
      target.decode(input)
      accepted++
    } catch (err) {
      if (!target.isTyped(err)) {
        throw new Error(`untyped error ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)} for a ${input.length}-byte input`, { cause: err })
      }
      const label = errorLabel(err)
      rejected[label] = (rejected[label] ?? 0) + 1
    }
    const dt = performance.now() - t0
    if (dt > maxCaseMs) maxCaseMs = dt
    if (++n % 500 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss)
  }), { numRuns: runs, ...(seed === undefined ? {} : { seed }) })
  peakRss = Math.max(peakRss, process.memoryUsage().rss)
  return { runs, accepted, rejected, maxCaseMs, peakRssMb: Math.round(peakRss / 1048576), ms: Math.round(performance.now() - started) }
}
