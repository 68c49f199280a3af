// `npm run bench [-- --quick] [-- --only <prefix>]`: runs every benchmark beside its baseline, prints the
// table and writes bench/results/latest.json (see bench/harness.ts for the row shape).
import '../src/platform/shims.ts'
import { fileURLToPath } from 'node:url'
import { finalizeRows, formatMarkdown, formatTable, machine, runBenchmark, writeResults, type Benchmark, type RowInput } from './harness.ts'
import { libsignalBaseline } from './baselines/libsignal.ts'
import { libp2pBaseline } from './baselines/libp2p.ts'
import { circuitBaseline } from './baselines/circuit.ts'
import { sqliteBaseline } from './baselines/sqlite.ts'
import { memoryBaseline } from './baselines/memory.ts'
import { centralizedBaseline } from './baselines/centralized.ts'
import { dhtLookup } from './product/dht.ts'
import { dhtGrown } from './product/dht-growth.ts'
import { relayMemory, deviceIdle } from './product/memory.ts'
import { cryptoPipeline } from './product/crypto.ts'
import { direct, relayed, firstMessage, mailboxDeposit, mailboxDrain } from './product/messenger.ts'
import { fileDirect, fileRelay } from './product/files.ts'
import { groupDelivery, groupSendSeal } from './product/groups.ts'

const REGISTRY: readonly Benchmark[] = [
  libsignalBaseline,
  libp2pBaseline,
  circuitBaseline,
  sqliteBaseline,
  memoryBaseline,
  centralizedBaseline,
  cryptoPipeline,
  direct,
  relayed,
  firstMessage,
  mailboxDeposit,
  mailboxDrain,
  relayMemory,
  deviceIdle,
  dhtLookup,
  fileDirect,
  fileRelay,
  groupSendSeal,
  groupDelivery,
  dhtGrown
]

async function main (): Promise<void> {
  const args = process.argv.slice(2)
  const quick = args.includes('--quick')
  const onlyAt = args.indexOf('--only')
  const only = onlyAt >= 0 ? (args[onlyAt + 1] ?? '').split(',') : []
  // A partial run (--only) never overwrites the full results the README quotes.
  const defaultOut = onlyAt >= 0 ? 'results/partial.json' : 'results/latest.json'
  const out = fileURLToPath(new URL(args.includes('--out') ? args[args.indexOf('--out') + 1] ?? defaultOut : defaultOut, new URL('./', import.meta.url)))
  const m = machine()
  const recorded = new Map<string, number>()
  const inputs: RowInput[] = []
  const started = Date.now()
  const chosen = REGISTRY.filter((b) => only.length === 0 || only.some((o) => b.name.startsWith(o)))
  for (const b of chosen) {
    const t0 = Date.now()
    process.stderr.write(`bench: ${b.name} ...\n`)
    const rows = await runBenchmark(b, {
      quick,
      record: (k, v) => { recorded.set(k, v) },
      recorded: (k) => recorded.get(k),
      progress: (line) => { process.stderr.write(line + '\n') }
    })
    inputs.push(...rows)
    process.stderr.write(`bench: ${b.name} done in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`)
  }
  const rows = finalizeRows(inputs, recorded, { mode: quick ? 'quick' : 'full', machine: m, node: process.version, date: new Date().toISOString() })
  console.log(formatTable(rows))
  console.log(`\n${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}, load ${m.load1m} at start, Node ${process.version}, ${quick ? '--quick' : 'full'} run in ${((Date.now() - started) / 1000).toFixed(0)} s`)
  if (args.includes('--markdown')) console.log('\n' + formatMarkdown(rows))
  writeResults(out, rows)
  console.log(`wrote ${out}`)
}

main().then(() => { process.exit(0) }, (err: unknown) => {
  console.error(err)
  process.exit(1)
})
