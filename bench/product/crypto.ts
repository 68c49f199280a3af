// crypto.pipeline: 100-byte texts through the product's Device.seal (libsignal encrypt, sealing, padding,
// session state written to SQLCipher) and Device.openEnvelope (AEAD open, unpad, decrypt, store), one
// message at a time; baseline: raw libsignal signalEncrypt+signalDecrypt on the same texts.
import type { Benchmark, BenchContext, RowInput } from '../harness.ts'
import { nowMs } from '../harness.ts'
import { devicePair, textPayload } from '../lib/devices.ts'
import { TEXT_BYTES } from '../baselines/libsignal.ts'

async function run (ctx: BenchContext): Promise<RowInput[]> {
  const { a, b, aToB } = await devicePair(ctx.tmpDir('crypto'))
  ctx.defer(() => { a.close(); b.close() })
  const text = 'x'.repeat(TEXT_BYTES)
  for (let i = 0; i < 100; i++) await b.openEnvelope(await a.seal(aToB, textPayload(i + 2, text)))
  const count = ctx.n(3000, 1000)
  const t0 = nowMs()
  let done = 0
  for (; done < count && !ctx.signal.aborted; done++) await b.openEnvelope(await a.seal(aToB, textPayload(done + 102, text)))
  const rate = done / ((nowMs() - t0) / 1000)
  ctx.record('crypto.pipeline', rate)
  // One message at a time, the session record must be committed before each ciphertext leaves and after each
  // decrypt: the durable floor is the most this figure can reach here, whatever the product does.
  const durable = ctx.recorded('libsignal.durable')
  const lean = ctx.recorded('libsignal.encdec')
  const reach = durable === undefined || lean === undefined
    ? 'floor not measured'
    : `floor / lean raw libsignal = ${(durable / lean).toFixed(2)}: the 0.8 goal is ${durable / lean >= 0.8 ? 'within' : 'beyond'} this machine's floor; the product reaches ${(rate / durable).toFixed(2)} of the floor`
  return [{ ...ROWS[0], value: rate, note: `${ROWS[0].note}; ${reach}` }]
}

const ROWS = [
  {
    name: 'crypto.pipeline',
    unit: 'msg/s',
    better: 'higher',
    baseline: 'lean raw libsignal encrypt+decrypt',
    baselineKey: 'libsignal.encdec',
    goal: { text: 'ratio >= 0.8', on: 'ratio', op: '>=', target: 0.8 },
    note: 'Device.seal + Device.openEnvelope, 100-byte text, session state in SQLCipher',
    floor: 'lean raw libsignal + one commit per encrypt and per decrypt (baseline.libsignal.durable)',
    floorKey: 'libsignal.durable'
  }
] as const

export const cryptoPipeline: Benchmark = { name: 'crypto.pipeline', timeoutMs: 60_000, quickTimeoutMs: 25_000, rows: ROWS, run }
