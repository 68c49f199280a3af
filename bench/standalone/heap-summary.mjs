// Allocations of a sampled heap profile (.heapprofile, written by a device child with BENCH_HEAP_PROFILE=1; see
// latency-probe.ts) per message, by package and by function, the largest first. The profile keeps collected
// objects too, so this is what each message allocates, not what it retains: the young-generation collections it
// causes run partly on V8's helper threads, which process.cpuUsage counts in a device's CPU per message.
// Run: node bench/standalone/heap-summary.mjs <file.heapprofile> [messages=1] [top=30]
import { readFileSync } from 'node:fs'
const p = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const n = Number(process.argv[3] ?? 1)
const top = Number(process.argv[4] ?? 30)
const fn = new Map()
const pkg = new Map()
let total = 0
const add = (m, k, v) => m.set(k, (m.get(k) ?? 0) + v)
const stack = [p.head]
while (stack.length > 0) {
  const node = stack.pop()
  const cf = node.callFrame
  const url = cf.url.replace(/^file:\/\//, '').replace(/.*node_modules\//, 'nm:').replace(/.*\/wt\/[^/]+\//, '')
  total += node.selfSize
  add(fn, `${cf.functionName || '(anon)'} ${url}:${cf.lineNumber + 1}`, node.selfSize)
  add(pkg, url.startsWith('nm:') ? url.split('/').slice(0, url.startsWith('nm:@') ? 2 : 1).join('/') : url === '' ? cf.functionName : url.startsWith('node:') ? url : url.split('/').slice(0, 2).join('/'), node.selfSize)
  stack.push(...node.children)
}
const kib = (b) => (b / n / 1024).toFixed(2).padStart(9)
const show = (m) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top).forEach(([k, b]) => console.log(`${kib(b)} KiB ${(100 * b / total).toFixed(1).padStart(5)}%  ${k}`))
console.log(`total ${kib(total)} KiB per message (n=${n})`)
console.log('--- by package/dir'); show(pkg)
console.log('--- by function'); show(fn)
