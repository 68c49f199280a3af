// Self time of a .cpuprofile grouped by function and by package, the largest first.
// Run: node bench/standalone/profile-summary.mjs <file.cpuprofile> [top=40]
import { readFileSync } from 'node:fs'
const p = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const top = Number(process.argv[3] ?? 40)
const byId = new Map(p.nodes.map((n) => [n.id, n]))
const dt = new Map()
p.samples.forEach((id, i) => dt.set(id, (dt.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)))
const total = [...dt.values()].reduce((a, b) => a + b, 0)
const fn = new Map()
const pkg = new Map()
for (const [id, us] of dt) {
  const n = byId.get(id)
  const cf = n.callFrame
  const url = cf.url.replace(/^file:\/\//, '').replace(/.*node_modules\//, 'nm:').replace(/.*\/wt\/[^/]+\//, '')
  const key = `${cf.functionName || '(anon)'} ${url}:${cf.lineNumber + 1}`
  fn.set(key, (fn.get(key) ?? 0) + us)
  const group = url.startsWith('nm:') ? url.split('/').slice(0, url.startsWith('nm:@') ? 2 : 1).join('/') : url === '' ? cf.functionName : url.startsWith('node:') ? url : url.split('/').slice(0, 2).join('/')
  pkg.set(group, (pkg.get(group) ?? 0) + us)
}
const show = (m, n) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).forEach(([k, us]) => console.log(`${(us / 1000).toFixed(1).padStart(9)} ms ${(100 * us / total).toFixed(1).padStart(5)}%  ${k}`))
console.log(`total ${(total / 1000).toFixed(0)} ms`)
console.log('--- by package/dir'); show(pkg, 30)
console.log('--- by function'); show(fn, top)
