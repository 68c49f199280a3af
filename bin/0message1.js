#!/usr/bin/env -S MALLOC_ARENA_MAX=1 node
// Entry point of the `0message1` command. It runs the plain JavaScript that `npm run build` compiles
// into dist/: no TypeScript loader at run time (tsx and its hook thread cost ~45 MB of a device's idle
// memory). The Node 20 shims load before anything else.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

// The first line is the one definition of how Node starts: npm's bin link (`npx 0message1`), `npm start` and
// `./bin/0message1.js` go through it, and the tests and benchmarks that start a device read it from here
// (test/helpers/launch.ts); `node bin/0message1.js` skips it. MALLOC_ARENA_MAX=1: glibc gives each thread
// that allocates (V8's workers, libuv's pool) a malloc arena of its own, and what is freed in them after start
// stays resident; with one arena for all it is reused. Measured on an idle started device with 20 contacts
// (bench device.idle_rss, 2-core VM, Node 20, 3 interleaved pairs): 92.4-94.6 MB of RSS against 97.6-103 MB
// without, the 7-9 MB of thread arenas gone (Node 22: 104 against 113 MB, Node 24: 110 against 114, one run
// each). The cost, while busy (threads then share that one arena's lock): bench `direct`, 16 pairs interleaved
// with the code before (load 1.5-5), gave 3% more CPU per message with 64 in flight (0.384 against 0.373 ms on
// the sender), one message at a time within 2% (CPU and p50); the throughput moved with the load more than with
// the setting (the pairs' ratios 0.54-1.28, median 0.91; 1.02 x in 13 more rounds, where the same +3% CPU
// showed). Where Node does not use glibc (macOS) the variable is ignored. `env -S` needs GNU coreutils 8.30 or
// a BSD/macOS env: BusyBox's (Alpine) has no -S and refuses the line, so there run `node bin/0message1.js`
// (without the setting). `0message1 relay` starts through this line too; the relay's systemd unit (deploy/) runs
// Node directly and sets the same environment, and bench relay.memory starts its relay with it (the other benches'
// relays start without). Fewer V8 workers (--v8-pool-size=2) saved under 1 MB more, MALLOC_ARENA_MAX=2 left
// 96-101 MB: neither is set.
//
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
