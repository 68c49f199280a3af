#!/usr/bin/env node
// Entry point of the `0message1` command. It runs the plain JavaScript that `npm run build` compiles
// into dist/: no TypeScript loader at run time (tsx and its hook thread cost ~45 MB of a device's idle
// memory). The Node 20 shims load before anything else.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

// No V8 flags are set here. Measured on an idle started device (2-core VM): `--optimize-for-size` (it
// works when set at run time) gives 103-110 MB of RSS with a ~112 MB peak, against 110-141 MB with a
// 140-146 MB peak without, but costs ~10% more CPU per message sent one at a time and 35-40% more with
// 64 in flight (bench `direct`, CPU time of each device). `--max-semi-space-size` set at run time has no
// effect (the young generation is sized when the heap is made); on the command line it moved the settled
// RSS by less than the run-to-run spread.

const entry = new URL('../dist/cli/main.js', import.meta.url)
if (!existsSync(entry)) {
  const root = fileURLToPath(new URL('..', import.meta.url))
  process.stderr.write(`0message1: this copy is not built yet (no dist/); run \`npm run build\` (or \`npm start\`) in ${root}\n`)
  process.exit(1)
}
await import('../dist/platform/shims.js')
const { main } = await import(entry.href)
process.exitCode = await main(process.argv.slice(2))
