#!/usr/bin/env node
// Entry point of the `0message1` command: loads TypeScript through tsx, the Node 20 shims first.
import { register } from 'tsx/esm/api'

register()
await import('../src/platform/shims.ts')
const { main } = await import('../src/cli/main.ts')
process.exitCode = await main(process.argv.slice(2))
