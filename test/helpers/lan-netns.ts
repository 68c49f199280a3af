// One LAN for tests: a bridge in its own namespace and N device namespaces plugged into it (veth), each with
// one address on 10.77.0.0/24 and a multicast route (mDNS). No router and no default route: no packet can
// leave. Names follow test/helpers/netns.ts (NETNS_PREFIX + pid + 'x'), so a run killed half-way is swept by
// the next one. Needs root and `ip` (requireNetns checks).
import { execFileSync, spawnSync } from 'node:child_process'
import type { TestContext } from 'node:test'
import { NETNS_PREFIX } from './netns.ts'

const COMMAND_TIMEOUT_MS = 10_000
export const LAN_PREFIX = '10.77.0'

export interface Lan {
  /** Namespaces of the devices, in order; their addresses are LAN_PREFIX.(2 + index). */
  readonly devices: ReadonlyArray<{ readonly ns: string, readonly address: string }>
  /** mDNS packets (UDP port 5353) the bridge has carried from one device's address so far. */
  mdnsFrom: (address: string) => number
  remove: () => void
}

function run (args: string[], input?: string): string {
  return execFileSync(args[0] as string, args.slice(1), { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: COMMAND_TIMEOUT_MS })
}

function deleteNamespace (ns: string): void {
  let pids: number[] = []
  try { pids = run(['ip', 'netns', 'pids', ns]).split('\n').map(Number).filter((p) => Number.isInteger(p) && p > 0) } catch { /* gone */ }
  for (const pid of pids) {
    try { process.kill(pid, 'SIGKILL') } catch { /* exited */ }
  }
  spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: COMMAND_TIMEOUT_MS })
}

let counter = 0

export function createLan (t: TestContext, devices: number): Lan {
  const id = `${NETNS_PREFIX}${process.pid}xlan${counter++}`
  const created: string[] = []
  let removed = false
  const remove = (): void => {
    if (removed) return
    removed = true
    for (const ns of created.reverse()) deleteNamespace(ns)
  }
  t.after(remove)
  process.once('exit', remove)
  const list: Array<{ ns: string, address: string }> = []
  try {
    const sw = `${id}-sw`
    run(['ip', 'netns', 'add', sw])
    created.push(sw)
    run(['ip', '-n', sw, 'link', 'add', 'br0', 'type', 'bridge'])
    run(['ip', '-n', sw, 'link', 'set', 'br0', 'up'])
    // The bridge counts mDNS frames per source address (a test proves discovery traffic exists).
    run(['ip', 'netns', 'exec', sw, 'nft', '-f', '-'], `table bridge lan {\n  set mdns_src { type ipv4_addr; flags dynamic; counter; }\n  chain forward {\n    type filter hook forward priority filter; policy accept;\n    udp dport 5353 update @mdns_src { ip saddr }\n  }\n}\n`)
    for (let i = 0; i < devices; i++) {
      const ns = `${id}-d${i}`
      const address = `${LAN_PREFIX}.${2 + i}`
      run(['ip', 'netns', 'add', ns])
      created.push(ns)
      run(['ip', '-n', ns, 'link', 'set', 'lo', 'up'])
      run(['ip', '-n', sw, 'link', 'add', `p${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns])
      run(['ip', '-n', sw, 'link', 'set', `p${i}`, 'master', 'br0'])
      run(['ip', '-n', sw, 'link', 'set', `p${i}`, 'up'])
      run(['ip', '-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0'])
      run(['ip', '-n', ns, 'link', 'set', 'eth0', 'up'])
      // mDNS sends to 224.0.0.251: without a route for it (there is no default route) the send fails.
      run(['ip', '-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0'])
      list.push({ ns, address })
    }
  } catch (err) {
    remove()
    throw err
  }
  const mdnsFrom = (address: string): number => {
    const out = run(['ip', 'netns', 'exec', `${id}-sw`, 'nft', 'list', 'set', 'bridge', 'lan', 'mdns_src'])
    const m = new RegExp(`${address.replace(/\./g, '\\.')} counter packets (\\d+)`).exec(out)
    return m === null ? 0 : Number(m[1])
  }
  return { devices: list, mdnsFrom, remove }
}
