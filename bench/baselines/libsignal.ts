// Raw libsignal: signalEncrypt + signalDecrypt of 100-byte texts on an established session, with in-memory
// stores. Baseline of crypto.pipeline (message by message) and of direct.throughput (one-direction burst).
import type { Benchmark, BenchContext, RowInput } from '../harness.ts'
import { nowMs } from '../harness.ts'
import { decrypt, encrypt, sessionPair, textOf } from '../lib/signal.ts'

export const TEXT_BYTES = 100

async function run (ctx: BenchContext): Promise<RowInput[]> {
  const count = ctx.n(5000, 1500)
  const { alice, bob } = await sessionPair()
  const text = textOf(TEXT_BYTES)
  // Warm-up: JIT and native caches, excluded from the figures.
  for (let i = 0; i < 200; i++) await decrypt(bob, alice, await encrypt(alice, bob, text))

  let t0 = nowMs()
  for (let i = 0; i < count && !ctx.signal.aborted; i++) await decrypt(bob, alice, await encrypt(alice, bob, text))
  const encDec = count / ((nowMs() - t0) / 1000)

  t0 = nowMs()
  const sent: Array<Uint8Array<ArrayBuffer>> = []
  for (let i = 0; i < count && !ctx.signal.aborted; i++) sent.push(await encrypt(alice, bob, text))
  for (const m of sent) await decrypt(bob, alice, m)
  const burst = count / ((nowMs() - t0) / 1000)

  ctx.record('libsignal.encdec', encDec)
  ctx.record('libsignal.burst', burst)
  return [
    { ...ROWS[0]!, value: encDec },
    { ...ROWS[1]!, value: burst }
  ]
}

const ROWS = [
  { name: 'baseline.libsignal.encrypt_decrypt', unit: 'msg/s', better: 'higher', baseline: null, goal: null, note: 'raw signalEncrypt then signalDecrypt per 100-byte message, in-memory stores' },
  { name: 'baseline.libsignal.burst', unit: 'msg/s', better: 'higher', baseline: null, goal: null, note: 'raw libsignal, encrypt N then decrypt N (one direction), in-memory stores' }
] as const

export const libsignalBaseline: Benchmark = {
  name: 'baseline.libsignal',
  timeoutMs: 60_000,
  quickTimeoutMs: 20_000,
  rows: ROWS,
  run
}
