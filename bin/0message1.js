#!/usr/bin/env node
// Entry point of the `0message1` command. It runs the plain JavaScript that `npm run build` compiles
// into dist/: no TypeScript loader at run time (tsx and its hook thread cost ~45 MB of a device's idle
// memory). The Node 20 shims load before anything else.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const entry = new URL('../dist/cli/main.js', import.meta.url)
if (!existsSync(entry)) {
  const root = fileURLToPath(new URL('..', import.meta.url))
  process.stderr.write(`0message1: this copy is not built yet (no dist/); run \`npm run build\` (or \`npm start\`) in ${root}\n`)
  process.exit(1)
}
await import('../dist/platform/shims.js')
const { main } = await import(entry.href)
process.exitCode = await main(process.argv.slice(2))
