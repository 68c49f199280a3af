// "A relay and N devices" in one line, all in this process, on loopback; everything is stopped and every temp
// directory removed in t.after. createTestnet(t, { relays: 2, devices: 3 })
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger, type Logger, type LogLevel } from '../../src/platform/logger.ts'
import { createDeviceNode, type DeviceNode, type FetchIsolation } from '../../src/net/node.ts'
import { startRelay, type MailboxObservation, type RelayHandle, type RelayLimits } from '../../src/relay/service.ts'
import { waitFor } from './wait.ts'

export interface TestContext { after: (fn: () => void | Promise<void>) => void }

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
  /** What this relay saw of every deposit and mailbox session (remote peer id and address, mailbox id). */
  seen: MailboxObservation[]
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
}

export async function createTestnet (t: TestContext, o: TestnetOptions = {}): Promise<Testnet> {
  const logs: string[] = []
  const logger = createLogger({ level: o.logLevel ?? 'debug', sink: (line) => { logs.push(line) } })
  const relays: RelaySlot[] = []
  const devices: DeviceNode[] = []
  const dirs: string[] = []
  t.after(async () => {
    await Promise.allSettled(devices.map(async (d) => { await d.stop() }))
    await Promise.allSettled(relays.map(async (r) => { await r.stop() }))
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  for (let i = 0; i < (o.relays ?? 1); i++) {
    const dataDir = mkdtempSync(join(tmpdir(), '0m1-relay-'))
    dirs.push(dataDir)
    const seen: MailboxObservation[] = []
    const start = async (listen: string): Promise<RelayHandle> => await startRelay({
      dataDir,
      observe: (ob) => { seen.push(ob) },
      listen: [listen],
      logger: logger.child(`relay${i}`),
      ...(o.relayLimits !== undefined ? { limits: o.relayLimits } : {}),
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

