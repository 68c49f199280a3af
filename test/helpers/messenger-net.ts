// Real device hosts and relays on loopback for multi-node messenger tests: one line for
// "two relays and two people who know each other".
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDeviceHost } from '../../src/messenger/host.ts'
import type { DeviceHost, Messenger, MessengerEvent, MessageView, ContactView } from '../../src/messenger/types.ts'
import { startRelay, type MailboxObservation, type RelayHandle } from '../../src/relay/service.ts'
import { createLogger, silentLogger } from '../../src/platform/logger.ts'
import { waitFor } from './wait.ts'

export interface Teardown { after: (fn: () => unknown) => void }

const logger = process.env.TEST_LOG === '1' ? createLogger({ level: 'debug' }) : silentLogger

export function tempDir (t: Teardown, prefix = '0m1-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}

export interface TestRelay {
  readonly dir: string
  handle: RelayHandle
  /** What the relay saw of each deposit and mailbox session (remote peer id and address, mailbox id). */
  readonly seen: MailboxObservation[]
  readonly address: () => string
  stop: () => Promise<void>
  restart: () => Promise<void>
}

export async function testRelay (t: Teardown, dir = tempDir(t, '0m1-relay-'), port = 0): Promise<TestRelay> {
  const seen: MailboxObservation[] = []
  const observe = (o: MailboxObservation): void => { seen.push(o) }
  let handle = await startRelay({ dataDir: dir, listen: [`/ip4/127.0.0.1/tcp/${port}`], logger, observe })
  let stopped = false
  const relay: TestRelay = {
    dir,
    seen,
    get handle () { return handle },
    address: () => {
      const a = handle.addresses.find((x) => x.includes('/tcp/') && !x.includes('/ws'))
      if (a === undefined) throw new Error('relay has no tcp address')
      return a
    },
    stop: async () => { if (!stopped) { stopped = true; await handle.stop() } },
    restart: async () => {
      const port = Number(/\/tcp\/(\d+)/.exec(relay.address())?.[1])
      await relay.stop()
      handle = await startRelay({ dataDir: dir, listen: [`/ip4/127.0.0.1/tcp/${port}`], logger, observe })
      stopped = false
    }
  } as TestRelay
  t.after(async () => { await relay.stop() })
  return relay
}

export interface Person {
  readonly name: string
  readonly dir: string
  host: DeviceHost
  readonly m: () => Messenger
  readonly events: MessengerEvent[]
  stop: () => Promise<void>
  start: () => Promise<void>
}

export async function person (t: Teardown, name: string, o: { relays: string[], relayOnly?: boolean, dir?: string, listen?: () => string[], now?: () => number }): Promise<Person> {
  const dir = o.dir ?? tempDir(t, `0m1-${name}-`)
  const events: MessengerEvent[] = []
  let host: DeviceHost
  let stopped = true
  const start = async (): Promise<void> => {
    host = await createDeviceHost({ dataDir: dir, relays: o.relays, logger, ...(o.listen !== undefined ? { listen: o.listen() } : {}), ...(o.now !== undefined ? { now: o.now } : {}) })
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

export type { ContactView }
