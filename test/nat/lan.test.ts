// Talking across machines with the README's commands (issue 13.1), each node in its own network namespace,
// started as a person would: `0message1 init`, then `0message1 start` (the compiled bin, as `npm start` runs it).
// 1. Same LAN (one bridge), `start --lan`: the invite carries the device's LAN address (not 0.0.0.0, not
//    loopback) and a message goes straight across the LAN.
// 2. No shared network (each device behind its own NAT), mDNS off, through a relay started with
//    `0message1 relay --announce`: the message is delivered.
// The test process talks to each node through its API's Unix socket (a file: namespaces do not hide it).
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createNatTopology, requireNetns, netnsSupport } from '../helpers/netns.ts'
import { createLan, LAN_PREFIX } from '../helpers/lan-netns.ts'
import { waitFor } from '../helpers/wait.ts'
import { ApiClient } from '../../src/api/client.ts'
import { decodeInvite, linkToInvite } from '../../src/wire/invite.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const BIN = join(ROOT, 'bin', '0message1.js')
/** A message over a LAN or through a relay, including the first connection and the card exchange. */
const DELIVERY_MS = 90_000

before(() => {
  if (!netnsSupport().ok) return
  // The bin runs dist/ only (what `npm start` builds); build the JavaScript once for this file.
  const r = spawnSync('npm', ['run', 'build:js'], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 })
  assert.equal(r.status, 0, `npm run build:js failed:\n${r.stdout}${r.stderr}`)
})

interface Proc { readonly child: ChildProcessWithoutNullStreams, out: string, stop: () => Promise<void> }

/** Runs `0message1 ARGS` inside a namespace; resolves once stdout shows `ready`. */
async function cli (t: { after: (f: () => unknown) => void }, ns: string, args: string[], ready: RegExp): Promise<Proc> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, BIN, ...args], { cwd: ROOT, env: { ...process.env, ZEROM1_LOG: 'warn' } })
  const p: Proc = {
    child,
    out: '',
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve() }) })
      child.kill('SIGTERM')
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))])
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  }
  let err = ''
  child.stdout.on('data', (d: Buffer) => { p.out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  t.after(p.stop)
  await waitFor(() => {
    if (child.exitCode !== null) throw new Error(`0message1 ${args[0] ?? ''} exited ${child.exitCode}: ${err}`)
    return ready.test(p.out)
  }, `0message1 ${args[0] ?? ''} to start in ${ns}`, 60_000)
  return p
}

function init (dir: string, name: string): void {
  const r = spawnSync(process.execPath, [BIN, 'init', '--name', name, '--data', dir], { encoding: 'utf8', timeout: 60_000 })
  assert.equal(r.status, 0, r.stderr)
}

/** B accepts A's invite, then B writes to A: resolves with the path that delivered it. */
async function introduceAndSend (a: ApiClient, b: ApiClient, text: string): Promise<{ path: string | undefined, inviteAddresses: readonly string[] }> {
  const invite = await a.createInvite()
  const inviteAddresses = decodeInvite(linkToInvite(invite.link)).record.addresses
  const contactOnB = await b.addContact(invite.link, 'A')
  const sent = await b.send(contactOnB.id, text)
  await waitFor(async () => {
    const contacts = await a.contacts()
    for (const c of contacts) if ((await a.messages(c.id)).some((m) => m.direction === 'in' && m.text === text)) return true
    return false
  }, 'A to receive B\'s message', DELIVERY_MS)
  let path: string | undefined
  await waitFor(async () => {
    const m = (await b.messages(contactOnB.id)).find((x) => x.id === sent.id)
    path = m?.path
    return m?.state === 'delivered' || m?.state === 'read'
  }, 'B to see its message delivered', DELIVERY_MS)
  return { path, inviteAddresses }
}

test('lan: two nodes on one bridge, started with `0message1 start --lan`, talk across the LAN', { timeout: 400_000 }, async (t) => {
  if (!requireNetns(t)) return
  const lan = createLan(t, 3)
  const root = mkdtempSync(join(tmpdir(), '0m1-lan-'))
  t.after(() => { rmSync(root, { recursive: true, force: true }) })
  const [da, db, dc] = lan.devices
  assert.ok(da !== undefined && db !== undefined && dc !== undefined)
  const dirA = join(root, 'a')
  const dirB = join(root, 'b')
  const dirC = join(root, 'c')
  init(dirA, 'Ann')
  init(dirB, 'Ben')
  init(dirC, 'Cy')
  // A third node on the same LAN without --lan: it must stay silent on mDNS.
  await cli(t, dc.ns, ['start', '--data', dirC], /^Web UI: http:\/\/127\.0\.0\.1:/m)
  // Both listen on every interface (the default) with LAN discovery on; each API stays on its own loopback.
  await cli(t, da.ns, ['start', '--lan', '--data', dirA], /^Web UI: http:\/\/127\.0\.0\.1:/m)
  await cli(t, db.ns, ['start', '--lan', '--data', dirB], /^Web UI: http:\/\/127\.0\.0\.1:/m)
  const a = ApiClient.forDataDir(dirA)
  const b = ApiClient.forDataDir(dirB)
  assert.equal((await a.settings()).lanDiscovery, true)
  assert.equal((await b.settings()).lanDiscovery, true)

  const { path, inviteAddresses } = await introduceAndSend(a, b, 'hello over the LAN')
  console.log(`lan: invite addresses ${JSON.stringify(inviteAddresses)}; delivered by ${path ?? '?'}`)
  assert.ok(inviteAddresses.some((x) => x.startsWith(`/ip4/${da.address}/tcp/`)), `the invite carries A's LAN address: ${JSON.stringify(inviteAddresses)}`)
  assert.ok(!inviteAddresses.some((x) => x.includes('/0.0.0.0/') || x.includes('/127.0.0.1/') || x.includes('/ip6/::1/')), JSON.stringify(inviteAddresses))
  assert.equal(path, 'direct', 'no relay exists: the LAN carried it')
  // The status lists the LAN address too (and so will B's card, which A received).
  const status = await b.status()
  assert.ok(status.addresses.some((x) => x.includes(`/${LAN_PREFIX}.`)), JSON.stringify(status.addresses))
  // --lan turned discovery on for real: both nodes speak mDNS on the LAN (what they reveal there: a peer id).
  await waitFor(() => lan.mdnsFrom(da.address) > 0 && lan.mdnsFrom(db.address) > 0, 'mDNS packets from both nodes on the bridge', 30_000)
  assert.equal(lan.mdnsFrom(dc.address), 0, 'a node without --lan sends no mDNS')
  assert.equal((await ApiClient.forDataDir(dirC).settings()).lanDiscovery, false)
})

test('lan: two nodes behind separate NATs, mDNS off, reach each other through `0message1 relay --announce`', { timeout: 400_000 }, async (t) => {
  if (!requireNetns(t)) return
  const topo = createNatTopology(t, { nat: ['symmetric', 'symmetric'] })
  const root = mkdtempSync(join(tmpdir(), '0m1-lanrelay-'))
  t.after(() => { rmSync(root, { recursive: true, force: true }) })
  const relayDir = join(root, 'relay')
  const relay = await cli(t, topo.relay.ns, ['relay', '--data', relayDir, '--announce', `/ip4/${topo.relay.address}/tcp/4001`], /\/p2p\/12D3Koo\w+$/m)
  const relayAddr = relay.out.split('\n').find((l) => l.startsWith(`/ip4/${topo.relay.address}/tcp/4001/p2p/`))
  assert.ok(relayAddr !== undefined, relay.out)
  const dirA = join(root, 'a')
  const dirB = join(root, 'b')
  init(dirA, 'Ann')
  init(dirB, 'Ben')
  await cli(t, topo.devices[0].ns, ['start', '--relay', relayAddr, '--data', dirA], /^Web UI: /m)
  await cli(t, topo.devices[1].ns, ['start', '--relay', relayAddr, '--data', dirB], /^Web UI: /m)
  const a = ApiClient.forDataDir(dirA)
  const b = ApiClient.forDataDir(dirB)
  assert.equal((await a.settings()).lanDiscovery, false, 'mDNS is off by default')
  // The invite should carry a circuit address through the relay: wait for the reservation.
  await waitFor(async () => (await a.status()).addresses.some((x) => x.includes('/p2p-circuit')), 'A\'s reservation on the relay', 60_000)
  await waitFor(async () => (await b.status()).addresses.some((x) => x.includes('/p2p-circuit')), 'B\'s reservation on the relay', 60_000)
  const { path, inviteAddresses } = await introduceAndSend(a, b, 'hello through the relay')
  console.log(`lan(relay): invite addresses ${JSON.stringify(inviteAddresses)}; delivered by ${path ?? '?'}`)
  assert.ok(inviteAddresses.some((x) => x.startsWith(relayAddr) && x.includes('/p2p-circuit')), JSON.stringify(inviteAddresses))
  assert.ok(path === 'relayed' || path === 'mailbox', `two symmetric NATs leave only the relay: ${path ?? '?'}`)
  // Once introduced, a message goes live through the relay's circuit (B's unreachable LAN address in A's card
  // does not hold it back).
  const contactOnA = (await a.contacts())[0]
  assert.ok(contactOnA !== undefined)
  const second = await a.send(contactOnA.id, 'and back through the relay')
  let secondPath: string | undefined
  await waitFor(async () => {
    const m = (await a.messages(contactOnA.id)).find((x) => x.id === second.id)
    secondPath = m?.path
    return m?.state === 'delivered' || m?.state === 'read'
  }, 'A\'s reply to be delivered', DELIVERY_MS)
  console.log(`lan(relay): reply delivered by ${secondPath ?? '?'}`)
  assert.ok(secondPath === 'relayed' || secondPath === 'mailbox', secondPath)
})
