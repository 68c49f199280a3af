// The product across real NATs (test/nat): a relay (startRelay) on the public segment and two devices
// (createDeviceHost: messenger, e2ee, store, net) each behind its own router, in separate processes
// inside network namespaces (test/helpers/netns.ts). `setup` makes them contacts.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { createNatTopology, type NatKind, type NatTopology } from './netns.ts'
import { spawnChild, type Child } from './procs.ts'
import { waitFor } from './wait.ts'

/** In its own namespace a fixed port is fine (nothing else lives there). */
export const RELAY_PORT = 4001
/** Delivery through a relay after contact setup; generous for a 2-core CI box. */
export const DELIVERY_MS = 60_000

export interface NatSetup {
  topo: NatTopology
  dir: string
  relay: Child
  relayAddr: string
  a: Child
  b: Child
  aContact: string
  bContact: string
  /** When B accepted A's invite: B's first envelope to A left then (the conversation's first message). */
  firstMessageAt: number
}

export function startRelayIn (t: TestContext, topo: NatTopology, dir: string, env?: Record<string, string>): Child {
  return spawnChild('test/chaos/fixtures/relay-proc.ts', { name: 'relay', wrap: topo.exec(topo.relay.ns), args: [join(dir, 'relay'), `/ip4/0.0.0.0/tcp/${RELAY_PORT}`], t, ...(env !== undefined ? { env } : {}) })
}

export async function setup (t: TestContext, o: { relayOnlyA?: boolean, env?: Record<string, string>, nat?: readonly [NatKind, NatKind], keepLines?: RegExp } = {}): Promise<NatSetup> {
  const topo = createNatTopology(t, o.nat !== undefined ? { nat: o.nat } : {})
  const dir = mkdtempSync(join(tmpdir(), '0m1-nat-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const relay = startRelayIn(t, topo, dir)
  const ready = await relay.waitEvent((e) => e.event === 'ready')
  const relayAddr = `/ip4/${topo.relay.address}/tcp/${RELAY_PORT}/p2p/${String(ready.peerId)}`
  const device = (name: string, ns: string): Child => spawnChild('test/chaos/fixtures/device-proc.ts', {
    name, wrap: topo.exec(ns), args: [join(dir, name), JSON.stringify({ name, listen: ['/ip4/0.0.0.0/tcp/0'], relays: [relayAddr] })], t,
    ...(o.env !== undefined ? { env: o.env } : {}), ...(o.keepLines !== undefined ? { keepLines: o.keepLines } : {})
  })
  const a = device('A', topo.devices[0].ns)
  const b = device('B', topo.devices[1].ns)
  await Promise.all([a.waitEvent((e) => e.event === 'ready'), b.waitEvent((e) => e.event === 'ready')])
  if (o.relayOnlyA === true) await a.request('settings', { relayOnly: true })
  await waitCircuit(a)
  await waitCircuit(b)
  const invite = await a.request<{ link: string }>('invite')
  const firstMessageAt = Date.now()
  const bSide = await b.request<{ id: string }>('accept', { link: invite.link, name: 'A' })
  const aContact = await until(async () => (await a.request<Array<{ id: string }>>('contacts'))[0]?.id, DELIVERY_MS, 'A learns of B (B\'s first message carries its card)')
  return { topo, dir, relay, relayAddr, a, b, aContact, bContact: bSide.id, firstMessageAt }
}

export async function waitCircuit (d: Child): Promise<string[]> {
  return await until(async () => {
    const s = await d.request<{ addresses: string[] }>('status')
    return s.addresses.some((x) => x.includes('/p2p-circuit')) ? s.addresses : undefined
  }, 30_000, `${d.name} gets a relay reservation`)
}

export const until = async <T>(f: () => Promise<T | undefined>, ms: number, what: string): Promise<T> => await waitFor(f, what, ms)

export async function sendAndDeliver (from: Child, to: Child, contactId: string, text: string): Promise<{ id: string, path: string }> {
  const sent = await from.request<{ id: string }>('send', { contactId, text })
  await to.waitEvent((e) => e.event === 'message' && e.id === sent.id, DELIVERY_MS)
  // The receipt can overtake the deliver ack (they travel on the two directions' streams): the first
  // 'delivered' event may come without a path, and the one that adds the path follows at the ack.
  const st = await from.waitEvent((e) => e.event === 'state' && e.id === sent.id && e.state === 'delivered' && e.path !== undefined, DELIVERY_MS)
  return { id: sent.id, path: String(st.path) }
}

/** The link a device has to its (only) contact now: direct, hole-punched, relayed, or undefined. */
export async function linkOf (d: Child): Promise<string | undefined> {
  const cs = await d.request<Array<{ link?: string }>>('contacts')
  return cs[0]?.link
}

/** Remote addresses of the established TCP connections inside a namespace (what the OS sees). */
export function tcpPeers (ns: string): string[] {
  const out = execFileSync('ip', ['netns', 'exec', ns, 'ss', '-tnH', 'state', 'established'], { encoding: 'utf8', timeout: 10_000 })
  return out.split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => f.length >= 4).map((f) => f[f.length - 1] as string)
}

export function count (xs: readonly string[]): Record<string, number> {
  const o: Record<string, number> = {}
  for (const x of xs) o[x] = (o[x] ?? 0) + 1
  return o
}
