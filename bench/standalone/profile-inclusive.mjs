// Inclusive time of a .cpuprofile: for each pattern, the busy samples (idle excluded) with a frame on their stack
// whose "functionName file" contains it, each sample counted once per pattern. profile-summary.mjs gives self time.
// Run: node bench/standalone/profile-inclusive.mjs <file.cpuprofile> 'deliverEnvelope ' 'muxer-writes' 'settle_promise' ...
import { readFileSync } from 'node:fs'
const p = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const patterns = process.argv.slice(3)
const byId = new Map(p.nodes.map((n) => [n.id, n]))
const parent = new Map()
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
const us = new Map()
p.samples.forEach((id, i) => us.set(id, (us.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)))
let busy = 0
const incl = new Map(patterns.map((x) => [x, 0]))
for (const [id, t] of us) {
  if (byId.get(id).callFrame.functionName === '(idle)') continue
  busy += t
  const frames = []
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const cf = byId.get(cur).callFrame
    frames.push(`${cf.functionName} ${cf.url.replace(/.*\//, '')}`)
  }
  for (const x of patterns) if (frames.some((f) => f.includes(x))) incl.set(x, incl.get(x) + t)
}
console.log(`busy ${(busy / 1000).toFixed(0)} ms`)
for (const [x, t] of incl) console.log(`${(t / 1000).toFixed(1).padStart(9)} ms ${(100 * t / busy).toFixed(1).padStart(5)}%  ${x}`)
