// Real NAT for tests: Linux network namespaces joined by veth pairs, with nftables masquerade in two
// router namespaces. Needs root, `ip` (iproute2) and `nft` (nftables); removed after the test and on exit.
//
//   ns "pub" (relay)            bridge br0 11.11.0.1/24  <- the "public" segment (relay: TCP + STUN/UDP)
//     |-- ns "r1"  wan0 11.11.0.11/24  ==masquerade==  lan0 10.1.0.1/24 -- ns "d1" eth0 10.1.0.2/24
//     `-- ns "r2"  wan0 11.11.0.12/24  ==masquerade==  lan0 10.2.0.1/24 -- ns "d2" eth0 10.2.0.2/24
//
// The public segment uses a public-looking range because libp2p classes every documentation range
// (192.0.2/24, 198.51.100/24, 203.0.113/24) as private and would then never try a direct upgrade.
// These links exist only between the namespaces created here: no interface in the host's namespace,
// no default route anywhere, so no packet can leave them.
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import type { TestContext } from 'node:test'

/** Name prefix of every namespace this helper makes; the pid tells a live run from a stale one. */
export const NETNS_PREFIX = '0m1t'
export const PUBLIC_PREFIX = '11.11.0'
/** Bound on each `ip`/`nft` call: they are local and instant; a hang means a broken kernel setup. */
const COMMAND_TIMEOUT_MS = 10_000

export interface Router {
  readonly ns: string
  /** Address on the public segment: what the relay and the other side see after masquerade. */
  readonly wan: string
  readonly lan: string
}

export interface Device {
  readonly ns: string
  /** The device's own (private) address behind its router. */
  readonly address: string
  readonly router: Router
}

export interface NatTopology {
  readonly id: string
  /** The relay's namespace and its address on the public segment. */
  readonly relay: { readonly ns: string, readonly address: string }
  readonly routers: readonly [Router, Router]
  readonly devices: readonly [Device, Device]
  /** argv prefix that runs a command inside a namespace (`ip netns exec NS`). */
  exec: (ns: string) => string[]
  /** Takes a router's public link down or up: "no relay reachable" for the device behind it. */
  setWan: (router: Router, up: boolean) => void
  /** UDP packets the router forwarded from its LAN to the WAN so far. */
  udpOut: (router: Router) => number
  /** Kills what still runs inside the namespaces and deletes them. Idempotent, synchronous. */
  remove: () => void
}

export type NetnsSupport = { readonly ok: true } | { readonly ok: false, readonly reason: string }

export function netnsSupport (): NetnsSupport {
  if (process.platform !== 'linux') return { ok: false, reason: 'network namespaces need Linux' }
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return { ok: false, reason: 'network namespaces need root (run as root, as .ci/run does)' }
  }
  for (const tool of ['ip', 'nft']) {
    const r = spawnSync(tool, ['-V'], { stdio: 'ignore', timeout: COMMAND_TIMEOUT_MS })
    if (r.error !== undefined) {
      return { ok: false, reason: `\`${tool}\` is missing: apt-get install -y ${tool === 'ip' ? 'iproute2' : 'nftables'}` }
    }
  }
  return { ok: true }
}

/**
 * Skips the test (loudly) when namespaces cannot be made here, and fails it in CI, where .ci/run
 * installs what is needed and runs as root: a NAT test that silently skips in CI proves nothing.
 * Returns true when the test may go on.
 */
export function requireNetns (t: TestContext): boolean {
  const support = netnsSupport()
  if (support.ok) return true
  if (process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false') {
    throw new Error(`NAT test cannot run in CI: ${support.reason}`)
  }
  console.error(`\n*** SKIPPING NAT TEST: ${support.reason} ***\n`)
  t.skip(support.reason)
  return false
}

function run (args: string[], input?: string): string {
  return execFileSync(args[0] as string, args.slice(1), {
    input,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: COMMAND_TIMEOUT_MS
  })
}

function tryRun (args: string[]): void {
  try { run(args) } catch { /* already gone */ }
}

function listNamespaces (): string[] {
  let out: string
  try { out = run(['ip', 'netns', 'list']) } catch { return [] }
  return out.split('\n').map((line) => line.split(' ')[0] ?? '').filter((n) => n !== '')
}

function pidAlive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}

/** Kills the processes inside one namespace (all started by these tests), then deletes it. */
function deleteNamespace (ns: string): void {
  let pids: number[] = []
  try { pids = run(['ip', 'netns', 'pids', ns]).split('\n').map(Number).filter((p) => Number.isInteger(p) && p > 0) } catch { /* gone */ }
  for (const pid of pids) {
    try { process.kill(pid, 'SIGKILL') } catch { /* exited */ }
  }
  tryRun(['ip', 'netns', 'del', ns])
}

/** Namespaces left by an earlier run of these tests that was itself SIGKILLed (its pid is dead). */
function sweepStale (): void {
  const pattern = new RegExp(`^${NETNS_PREFIX}(\\d+)x`)
  for (const ns of listNamespaces()) {
    const m = pattern.exec(ns)
    if (m === null) continue
    const pid = Number(m[1])
    if (pid !== process.pid && !pidAlive(pid)) deleteNamespace(ns)
  }
}

const live = new Set<NatTopology>()
let hooksInstalled = false
let counter = 0

function installExitHooks (): void {
  if (hooksInstalled) return
  hooksInstalled = true
  process.on('exit', () => { for (const topo of live) topo.remove() })
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      for (const topo of live) topo.remove()
      process.kill(process.pid, signal)
    })
  }
}

/**
 * How a router maps its LAN's flows to its public address:
 * - 'eim' (endpoint-independent mapping, Linux's default masquerade: one flow keeps its source port
 *   whatever it talks to) is what most home routers do; UDP hole punching works through it.
 * - 'symmetric' (`masquerade random`: a new random port per destination), as on many mobile and
 *   carrier-grade NATs; hole punching cannot work through it, so the path stays relayed.
 */
export type NatKind = 'eim' | 'symmetric'

/**
 * A home router: masquerade out of wan0, forward only LAN-initiated flows, and an input chain that
 * drops unsolicited WAN packets to the router itself. Without that input chain an early punch packet
 * is taken by the router, which then re-maps the device's own flow to a new port, and the punch fails
 * every time (shared/research/nat-traversal.md, pitfall 1). Counters: UDP packets leaving the LAN
 * (the relay-only test proves a device sent none).
 */
function nftRouter (kind: NatKind): string {
  return `
table ip nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan0" masquerade${kind === 'symmetric' ? ' random' : ''}
  }
}
table ip filter {
  counter lan_udp_out { }
  chain input {
    type filter hook input priority filter; policy drop;
    iif "lo" accept
    ct state established,related accept
    iifname "lan0" accept
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    iifname "lan0" oifname "wan0" meta l4proto udp counter name "lan_udp_out"
    ct state established,related accept
    iifname "lan0" oifname "wan0" accept
  }
}
`
}

/**
 * Makes the relay segment, two NAT routers and two devices behind them. With `t`, they are removed
 * in t.after; they are always removed when the process exits or gets SIGINT/SIGTERM/SIGHUP.
 */
export function createNatTopology (t?: TestContext, o: { nat?: readonly [NatKind, NatKind] } = {}): NatTopology {
  const nat = o.nat ?? ['eim', 'eim']
  const support = netnsSupport()
  if (!support.ok) throw new Error(support.reason)
  sweepStale()
  installExitHooks()
  const id = `${NETNS_PREFIX}${process.pid}x${counter++}`
  const name = (role: string): string => `${id}-${role}`
  const created: string[] = []
  const pub = name('pub')
  const routers: [Router, Router] = [
    { ns: name('r1'), wan: `${PUBLIC_PREFIX}.11`, lan: '10.1.0.1' },
    { ns: name('r2'), wan: `${PUBLIC_PREFIX}.12`, lan: '10.2.0.1' }
  ]
  const devices: [Device, Device] = [
    { ns: name('d1'), address: '10.1.0.2', router: routers[0] },
    { ns: name('d2'), address: '10.2.0.2', router: routers[1] }
  ]
  let removed = false
  const topo: NatTopology = {
    id,
    relay: { ns: pub, address: `${PUBLIC_PREFIX}.1` },
    routers,
    devices,
    exec: (ns) => ['ip', 'netns', 'exec', ns],
    setWan: (router, up) => { run(['ip', '-n', router.ns, 'link', 'set', 'wan0', up ? 'up' : 'down']) },
    udpOut: (router) => {
      const out = run(['ip', 'netns', 'exec', router.ns, 'nft', 'list', 'counter', 'ip', 'filter', 'lan_udp_out'])
      const m = /packets (\d+)/.exec(out)
      if (m === null) throw new Error('nft counter lan_udp_out not found')
      return Number(m[1])
    },
    remove: () => {
      if (removed) return
      removed = true
      live.delete(topo)
      for (const ns of created.reverse()) deleteNamespace(ns)
    }
  }
  live.add(topo)
  if (t !== undefined) t.after(() => { topo.remove() })
  try {
    for (const ns of [pub, ...routers.map((r) => r.ns), ...devices.map((d) => d.ns)]) {
      run(['ip', 'netns', 'add', ns])
      created.push(ns)
      run(['ip', '-n', ns, 'link', 'set', 'lo', 'up'])
    }
    run(['ip', '-n', pub, 'link', 'add', 'br0', 'type', 'bridge'])
    run(['ip', '-n', pub, 'addr', 'add', `${topo.relay.address}/24`, 'dev', 'br0'])
    run(['ip', '-n', pub, 'link', 'set', 'br0', 'up'])
    routers.forEach((r, i) => {
      const d = devices[i] as Device
      const lanNet = r.lan.split('.').slice(0, 3).join('.')
      // veths are created straight inside the namespaces: nothing appears in the host's namespace.
      run(['ip', '-n', pub, 'link', 'add', `up${i}`, 'type', 'veth', 'peer', 'name', 'wan0', 'netns', r.ns])
      run(['ip', '-n', pub, 'link', 'set', `up${i}`, 'master', 'br0'])
      run(['ip', '-n', pub, 'link', 'set', `up${i}`, 'up'])
      run(['ip', '-n', r.ns, 'addr', 'add', `${r.wan}/24`, 'dev', 'wan0'])
      run(['ip', '-n', r.ns, 'link', 'set', 'wan0', 'up'])
      run(['ip', '-n', r.ns, 'link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', d.ns])
      run(['ip', '-n', r.ns, 'addr', 'add', `${r.lan}/24`, 'dev', 'lan0'])
      run(['ip', '-n', r.ns, 'link', 'set', 'lan0', 'up'])
      run(['ip', 'netns', 'exec', r.ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'])
      run(['ip', 'netns', 'exec', r.ns, 'nft', '-f', '-'], nftRouter(nat[i] as NatKind))
      run(['ip', '-n', d.ns, 'addr', 'add', `${d.address}/24`, 'dev', 'eth0'])
      run(['ip', '-n', d.ns, 'link', 'set', 'eth0', 'up'])
      run(['ip', '-n', d.ns, 'route', 'add', 'default', 'via', r.lan])
      if (!d.address.startsWith(lanNet)) throw new Error('address plan is inconsistent')
    })
  } catch (err) {
    topo.remove()
    throw err
  }
  return topo
}

/**
 * Opens one TCP connection from `fromNs` to a listener in `toNs` (plain `node -e`, no libp2p) and
 * returns the source address the listener saw, or undefined when the connection could not be made.
 * Used to prove the NAT's shape: masquerade rewrites the source, unsolicited inbound is dropped.
 */
export async function probeTcp (fromNs: string, toNs: string, toAddress: string, port = 7999): Promise<string | undefined> {
  const server = spawn('ip', ['netns', 'exec', toNs, process.execPath, '-e',
    `const s=require('net').createServer(c=>{process.stdout.write(c.remoteAddress+'\\n');c.end();setTimeout(()=>process.exit(0),50)});` +
    `s.listen(${port},'0.0.0.0',()=>process.stdout.write('ready\\n'));setTimeout(()=>process.exit(0),${PROBE_TIMEOUT_MS})`],
  { stdio: ['ignore', 'pipe', 'ignore'] })
  let out = ''
  const ready = new Promise<void>((resolve) => {
    server.stdout.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('ready')) resolve() })
    server.on('exit', () => { resolve() })
  })
  await ready
  const client = spawnSync('ip', ['netns', 'exec', fromNs, process.execPath, '-e',
    `const c=require('net').connect(${port},'${toAddress}',()=>{c.end();process.exit(0)});c.on('error',()=>process.exit(1));setTimeout(()=>process.exit(2),${PROBE_CONNECT_MS})`],
  { stdio: 'ignore', timeout: COMMAND_TIMEOUT_MS })
  if (client.status !== 0) {
    server.kill('SIGKILL')
    return undefined
  }
  await new Promise<void>((resolve) => { if (server.exitCode !== null) resolve(); else server.on('exit', () => { resolve() }) })
  const seen = out.split('\n').map((l) => l.trim()).find((l) => l !== '' && l !== 'ready')
  return seen?.replace(/^::ffff:/, '')
}

/** A probe's connect attempt: long enough for a veth hop, short enough to keep the "blocked" case quick. */
const PROBE_CONNECT_MS = 1500
const PROBE_TIMEOUT_MS = 5000
