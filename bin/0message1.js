#!/usr/bin/env node
// Entry point of the `0message1` command. It runs the plain JavaScript that `npm run build` compiles
// into dist/: no TypeScript loader at run time (tsx and its hook thread cost ~45 MB of a device's idle
// memory). The Node 20 shims load before anything else.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { setFlagsFromString } from 'node:v8'

// V8's memory-saving heuristics (smaller heap growth, earlier compaction). Measured on an idle started
// device: 103-110 MB of RSS with a 108-115 MB peak, against 110-141 MB with a 140-146 MB peak without.
// Set here, before anything is loaded; `--max-semi-space-size` set this way has no effect (the young
// generation is sized when the heap is made), so it is not used. bench/lib/child.ts runs the benchmark's
// devices with the same flags (PRODUCT_V8_FLAGS); test/cli/bin.test.ts keeps the two equal.
const V8_FLAGS = ['--optimize-for-size']
for (const flag of V8_FLAGS) setFlagsFromString(flag)

const entry = new URL('../dist/cli/main.js', import.meta.url)
if (!existsSync(entry)) {
  const root = fileURLToPath(new URL('..', import.meta.url))
  process.stderr.write(`0message1: this copy is not built yet (no dist/); run \`npm run build\` (or \`npm start\`) in ${root}\n`)
  process.exit(1)
}
await import('../dist/platform/shims.js')
const { main } = await import(entry.href)
process.exitCode = await main(process.argv.slice(2))
