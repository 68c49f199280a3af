// Multi-node tests in one process, on loopback, each in one line; everything is stopped and every
// temporary directory removed in t.after:
//   createTestnet(t, { relays: 2, devices: 3 })        relays and bare network nodes (net, relay tests)
//   createPeople(t, { relays: 1, people: 3 })          relays and messenger hosts, introduced pairwise
// person(), introduce() and startTestRelay() build the same by hand when a test needs a special one.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDeviceHost } from '../../src/messenger/host.ts'
import type { ContactView, DeviceHost, MessageView, Messenger, MessengerEvent } from '../../src/messenger/types.ts'
import { createLogger, silentLogger, type Logger, type LogLevel } from '../../src/platform/logger.ts'
import { createDeviceNode, type DeviceNode, type FetchIsolation } from '../../src/net/node.ts'
import { startRelay, type MailboxObservation, type RelayHandle, type RelayLimits } from '../../src/relay/service.ts'
import { waitFor } from './wait.ts'
import type { RelayKeeperTiming } from '../../src/messenger/relay-keeper.ts'

export interface TestContext { after: (fn: () => unknown) => void }

/** Messenger-level logs go nowhere unless TEST_LOG=1. */
const peopleLogger = process.env.TEST_LOG === '1' ? createLogger({ level: 'debug' }) : silentLogger

export function tempDir (t: TestContext, prefix = '0m1-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}

export interface TestnetOptions {
  relays?: number
  devices?: number
  /** Devices listen only through relay reservations. */
  relayOnly?: boolean
  relayLimits?: Partial<RelayLimits>
  /** Wait until every device holds a reservation on every relay (default: true when relays > 0). */
  waitForReservations?: boolean
  /** Collect every log line (to search them for identifiers); default level 'debug'. */
  logLevel?: LogLevel
  now?: () => number
}

export interface RelaySlot {
  handle: RelayHandle
  dataDir: string
  /** The TCP multiaddr with /p2p/<id>. */
  addr: string
  /** Stops this relay (idempotent). */
  stop: () => Promise<void>
  /** What this relay saw of every deposit and mailbox session (remote peer id and address, mailbox id), and when. */
  seen: Array<MailboxObservation & { readonly at: number }>
  /** Starts it again on the same data dir and port; replaces `handle`. */
  restart: () => Promise<void>
}

export interface Testnet {
  relays: RelaySlot[]
  devices: DeviceNode[]
  /** Every log line of every node. */
  logs: string[]
  logger: Logger
  addDevice: (o?: DeviceSlotOptions) => Promise<DeviceNode>
}

export interface DeviceSlotOptions {
  relayOnly?: boolean
  relays?: string[]
  fetchIsolation?: FetchIsolation
  identityMaxAgeMs?: number
  /** `[]`: reachable only through relay circuits (and whatever they are upgraded to). */
  listen?: string[]
  /** Who may negotiate WebRTC with this device (default: everyone, as if all test devices were contacts). */
  allowWebRTC?: (peerId: string) => boolean
}

/** A relay on loopback port 0 in a temporary directory; stopped (and the directory removed) in t.after. */
export async function startTestRelay (t: TestContext, o: { logger?: Logger, limits?: Partial<RelayLimits>, now?: () => number, dataDir?: string } = {}): Promise<RelaySlot> {
  const dataDir = o.dataDir ?? tempDir(t, '0m1-relay-')
  const seen: RelaySlot['seen'] = []
  const start = async (listen: string): Promise<RelayHandle> => await startRelay({
    dataDir,
    observe: (ob) => { seen.push({ ...ob, at: Date.now() }) },
    listen: [listen],
    logger: o.logger ?? peopleLogger,
    ...(o.limits !== undefined ? { limits: o.limits } : {}),
    ...(o.now !== undefined ? { now: o.now } : {})
  })
  const handle = await start('/ip4/127.0.0.1/tcp/0')
  const addr = handle.addresses.find((a) => a.includes('/tcp/') && !a.includes('/ws'))
  if (addr === undefined) throw new Error('relay has no TCP address')
  const port = addr.split('/')[4]
  let running = true
  const slot: RelaySlot = {
    handle,
    dataDir,
    addr,
    seen,
    stop: async () => {
      if (!running) return
      running = false
      await slot.handle.stop()
    },
    restart: async () => {
      await slot.stop()
      slot.handle = await start(`/ip4/127.0.0.1/tcp/${port}`)
      running = true
    }
  }
  t.after(async () => { await slot.stop() })
  return slot
}

export async function createTestnet (t: TestContext, o: TestnetOptions = {}): Promise<Testnet> {
  const logs: string[] = []
  const logger = createLogger({ level: o.logLevel ?? 'debug', sink: (line) => { logs.push(line) } })
  const relays: RelaySlot[] = []
  const devices: DeviceNode[] = []
  t.after(async () => {
    await Promise.allSettled(devices.map(async (d) => { await d.stop() }))
  })

  for (let i = 0; i < (o.relays ?? 1); i++) {
    const slot = await startTestRelay(t, {
      logger: logger.child(`relay${i}`),
      ...(o.relayLimits !== undefined ? { limits: o.relayLimits } : {}),
      ...(o.now !== undefined ? { now: o.now } : {})
    })
    relays.push(slot)
  }

  const addDevice = async (d: DeviceSlotOptions = {}): Promise<DeviceNode> => {
    const relayOnly = d.relayOnly ?? o.relayOnly ?? false
    const node = await createDeviceNode({
      listen: d.listen ?? ['/ip4/127.0.0.1/tcp/0'],
      relays: d.relays ?? relays.map((r) => r.addr),
      relayOnly,
      ...(d.fetchIsolation !== undefined ? { fetchIsolation: d.fetchIsolation } : {}),
      ...(d.identityMaxAgeMs !== undefined ? { identityMaxAgeMs: d.identityMaxAgeMs } : {}),
      allowWebRTC: d.allowWebRTC ?? ((): boolean => true),
      logger: logger.child(`device${devices.length}`)
    })
    devices.push(node)
    return node
  }

  for (let i = 0; i < (o.devices ?? 2); i++) await addDevice()
  if ((o.waitForReservations ?? relays.length > 0) && relays.length > 0) {
    await Promise.all(devices.map(async (d) => { await waitForReservations(d, relays.length) }))
  }
  return { relays, devices, logs, logger, addDevice }
}

/** Resolves when the device announces circuit addresses through `count` distinct relays. */
export async function waitForReservations (d: DeviceNode, count: number, timeoutMs = 15_000): Promise<void> {
  await waitFor(() => new Set(d.addresses().filter((a) => a.includes('/p2p-circuit')).map((a) => a.split('/p2p-circuit')[0])).size >= count,
    `device to get ${count} relay reservation(s)`, timeoutMs)
}

// ---- people: messenger hosts ----------------------------------------------------------------------

export interface Person {
  readonly name: string
  readonly dir: string
  host: DeviceHost
  readonly m: () => Messenger
  readonly events: MessengerEvent[]
  stop: () => Promise<void>
  start: () => Promise<void>
}

export async function person (t: TestContext, name: string, o: { relays: string[], relayOnly?: boolean, dir?: string, listen?: () => string[], now?: () => number, onNetwork?: (n: DeviceNode) => void, relayKeeper?: RelayKeeperTiming, bootstrap?: string[], maxFileBytes?: number, logger?: Logger }): Promise<Person> {
  const dir = o.dir ?? tempDir(t, `0m1-${name}-`)
  const events: MessengerEvent[] = []
  let host: DeviceHost
  let stopped = true
  const start = async (): Promise<void> => {
    // The relay keeper (issue 16) only where a test asks for it: other tests keep exactly the relays they set.
    host = await createDeviceHost({ dataDir: dir, relays: o.relays, logger: o.logger ?? peopleLogger, relayKeeper: o.relayKeeper ?? false, ...(o.bootstrap !== undefined ? { bootstrap: o.bootstrap } : {}), ...(o.onNetwork !== undefined ? { onNetwork: o.onNetwork } : {}), ...(o.listen !== undefined ? { listen: o.listen() } : {}), ...(o.now !== undefined ? { now: o.now } : {}), ...(o.maxFileBytes !== undefined ? { maxFileBytes: o.maxFileBytes } : {}) })
    if (host.state() === 'no-account') await host.createAccount({ name })
    const m = host.messenger()
    if (m === undefined) throw new Error('host did not start')
    if (o.relayOnly === true && !(await m.status()).settings.relayOnly) {
      await m.updateSettings({ relayOnly: true })
    }
    m.subscribe((e) => events.push(e))
    stopped = false
  }
  await start()
  const p: Person = {
    name,
    dir,
    get host () { return host },
    m: () => {
      const m = host.messenger()
      if (m === undefined) throw new Error(`${name} is stopped`)
      return m
    },
    events,
    stop: async () => { if (!stopped) { stopped = true; await host.stop() } },
    start
  } as Person
  t.after(async () => { await p.stop() })
  return p
}

/** a invites b, b accepts: returns each side's contact id for the other. */
export async function introduce (a: Person, b: Person): Promise<{ aToB: string, bToA: string }> {
  const invite = await a.m().createInvite()
  const contact = await b.m().acceptInvite(invite.link, { name: a.name })
  const aSide = await waitFor(async () => (await a.m().contacts()).find((c) => c.name === b.name), `${a.name} learns ${b.name}`)
  return { aToB: aSide.id, bToA: contact.id }
}

export async function waitMessages (p: Person, contactId: string, n: number, what: string, timeoutMs?: number): Promise<MessageView[]> {
  return await waitFor(async () => {
    const all = (await p.m().messages(contactId, { limit: 1000 })).filter((m) => m.direction === 'in')
    return all.length >= n ? all : undefined
  }, what, timeoutMs)
}

export async function waitStates (p: Person, contactId: string, ids: string[], state: MessageView['state'], what: string, timeoutMs?: number): Promise<MessageView[]> {
  return await waitFor(async () => {
    const all = await p.m().messages(contactId, { limit: 1000 })
    const mine = all.filter((m) => ids.includes(m.id))
    return mine.length === ids.length && mine.every((m) => m.state === state) ? mine : undefined
  }, what, timeoutMs)
}


export interface People {
  relays: RelaySlot[]
  people: Person[]
  /** `from`'s contact id for `to` (people are introduced pairwise unless introduce: false). */
  contact: (from: Person, to: Person) => string
}

/**
 * Relays and people who know each other, in one call: createPeople(t, { relays: 1, people: 3 }) is
 * "a relay and three introduced people". Each person keeps its mailboxes on every relay.
 */
export async function createPeople (t: TestContext, o: { relays?: number, people?: number | string[], relayOnly?: boolean, introduce?: boolean } = {}): Promise<People> {
  const relays: RelaySlot[] = []
  for (let i = 0; i < (o.relays ?? 1); i++) relays.push(await startTestRelay(t))
  const names = Array.isArray(o.people) ? o.people : ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'].slice(0, o.people ?? 2)
  const people: Person[] = []
  for (const name of names) {
    people.push(await person(t, name, { relays: relays.map((r) => r.addr), ...(o.relayOnly !== undefined ? { relayOnly: o.relayOnly } : {}) }))
  }
  const ids = new Map<string, string>()
  if (o.introduce ?? true) {
    for (let i = 0; i < people.length; i++) {
      for (let j = i + 1; j < people.length; j++) {
        const a = people[i] as Person
        const b = people[j] as Person
        const { aToB, bToA } = await introduce(a, b)
        ids.set(`${a.name}>${b.name}`, aToB)
        ids.set(`${b.name}>${a.name}`, bToA)
      }
    }
  }
  return {
    relays,
    people,
    contact: (from, to) => {
      const id = ids.get(`${from.name}>${to.name}`)
      if (id === undefined) throw new Error(`${from.name} was not introduced to ${to.name}`)
      return id
    }
  }
}

export type { ContactView }
