// What one message costs, counted in each device process of a probe run (issue 10): socket reads and writes, timers,
// immediates, microtasks, event dispatches, SQL statements by text with their CPU time, the process's CPU (user,
// system) and each thread's (main thread vs V8's and libuv's). Loaded into every process through NODE_OPTIONS; a
// device child writes what happened between its two `cpu` answers (the timed messages) to
// $PROBE_COUNTERS_DIR/counters-<pid>.txt, per message (divided by PROBE_COUNTERS_N). Counts do not vary with the
// machine's load, unlike CPU time: compare them first.
// Run: PROBE_COUNTERS_N=300 PROBE_COUNTERS_DIR=/tmp/counts NODE_OPTIONS="--import ./bench/standalone/probe-counters.mjs" \
//        node --import tsx bench/standalone/latency-probe.ts direct 300
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import Database from '@signalapp/sqlcipher'

const n = Number(process.env.PROBE_COUNTERS_N ?? 1)
const dir = process.env.PROBE_COUNTERS_DIR ?? '/tmp'
const counts = new Map()
const add = (k, v = 1) => { counts.set(k, (counts.get(k) ?? 0) + v) }
const wrap = (obj, name, key) => {
  const f = obj[name]
  obj[name] = function (...a) { add(key); return f.apply(this, a) }
}
// TCP sockets only (a remote port): the IPC channel to the bench process is not part of a message's cost.
for (const m of ['_writeGeneric', '_writev']) {
  const f = net.Socket.prototype[m]
  net.Socket.prototype[m] = function (...a) { if (this.remotePort !== undefined) add('socket.write'); return f.apply(this, a) }
}
const push = net.Socket.prototype.push
net.Socket.prototype.push = function (chunk, ...a) { if (chunk !== null && this.remotePort !== undefined) add('socket.read'); return push.call(this, chunk, ...a) }
wrap(globalThis, 'setTimeout', 'setTimeout')
wrap(globalThis, 'setImmediate', 'setImmediate')
wrap(globalThis, 'queueMicrotask', 'queueMicrotask')
wrap(globalThis.AbortSignal, 'timeout', 'AbortSignal.timeout')
wrap(globalThis.EventTarget.prototype, 'dispatchEvent', 'dispatchEvent')
const queryOf = new WeakMap()
let patched = false
const prepare = Database.prototype.prepare
Database.prototype.prepare = function (query, o) {
  const s = prepare.call(this, query, o)
  queryOf.set(s, String(query).replace(/\s+/g, ' ').slice(0, 80))
  if (!patched) {
    patched = true
    const proto = Object.getPrototypeOf(s)
    for (const m of ['run', 'get', 'all']) {
      const f = proto[m]
      proto[m] = function (...a) {
        const t0 = process.cpuUsage()
        try { return f.apply(this, a) } finally {
          const t = process.cpuUsage(t0)
          add(`sql.${m}`)
          add('sql.us', t.user + t.system)
          add(`sql.us ${queryOf.get(this) ?? '?'}`, t.user + t.system)
          add(`sql.n ${queryOf.get(this) ?? '?'}`)
        }
      }
    }
  }
  return s
}

/** CPU time of each thread so far (µs, from /proc at 10 ms resolution): the main thread, and the others by name. */
function threads () {
  const m = new Map()
  try {
    for (const t of readdirSync('/proc/self/task')) {
      const st = readFileSync(`/proc/self/task/${t}/stat`, 'utf8')
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ')
      const name = t === String(process.pid) ? 'main' : st.slice(st.indexOf('(') + 1, st.lastIndexOf(')')).replace(/[0-9]+/g, '#')
      m.set(name, (m.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) * 10_000)
    }
  } catch { /* not Linux: no per-thread figures */ }
  return m
}

let last = new Map()
let lastCpu = process.cpuUsage()
let lastThreads = threads()
let answers = 0
process.on('message', (m) => {
  if (m?.type !== 'cpu') return
  const cpu = process.cpuUsage(lastCpu)
  const th = threads()
  const diff = [...counts].map(([k, v]) => [k, v - (last.get(k) ?? 0)]).filter(([, v]) => v > 0)
  diff.push(['cpu.user.us', cpu.user], ['cpu.system.us', cpu.system])
  for (const [k, v] of th) diff.push([`thread.us ${k}`, v - (lastThreads.get(k) ?? 0)])
  last = new Map(counts)
  lastCpu = process.cpuUsage()
  lastThreads = th
  // The second answer closes the timed part (latency-probe asks before and after it).
  if (++answers !== 2) return
  mkdirSync(dir, { recursive: true })
  const lines = diff.sort((a, b) => b[1] - a[1]).map(([k, v]) => `${(v / n).toFixed(2).padStart(10)} ${k}`)
  writeFileSync(`${dir}/counters-${process.pid}.txt`, `per message (n=${n}), ${process.argv[2]?.slice(0, 40) ?? ''}\n${lines.join('\n')}\n`)
})
