// The commands that run nodes in this process: init (creates the account, offline), start (device
// node + local API + web UI), relay, and demo (a relay and two introduced devices on loopback).
import { MAX_RELAY_OPERATOR_BYTES } from '../wire/relay-record.ts'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { DirLockedError, lockDir, type DirLock } from '../platform/dir-lock.ts'
import { ensurePrivateDir } from '../platform/private-files.ts'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createApiServer, DEFAULT_API_LISTEN, parseListen, type ApiServer } from '../api/server.ts'
import { isLoopback } from '../api/checks.ts'
import { ApiError } from '../api/errors.ts'
import { readApiInfo, removeApiInfo, writeApiInfo } from '../api/discovery.ts'
import { ApiClient } from '../api/client.ts'
import { createLogger, type Logger, type LogLevel } from '../platform/logger.ts'
import type { DeviceHost, Messenger } from '../messenger/types.ts'
import { CliError } from './errors.ts'
import type { CliRuntime, HostFactoryOptions, RelayRunning } from './runtime.ts'
import { readPassphraseFile, type Parsed } from './args.ts'
import { ALL_INTERFACES_LISTEN } from '../net/addresses.ts'
import { startHeapTrimmer } from '../platform/heap-trim.ts'

/** Where a relay keeps its store unless --data says otherwise: never inside a device's directory. */
export const DEFAULT_RELAY_DIR_NAME = '.0message1-relay'
export const DEFAULT_RELAY_LISTEN = ['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/tcp/4002/ws']
/** Name used by `init` without --name; contacts see it and can rename locally. */
export const DEFAULT_DISPLAY_NAME = 'Anonymous'
/** How long `demo` waits for Alice to learn Bob's card over the network before it goes on. */
export const DEMO_INTRO_TIMEOUT_MS = 20_000
/** A running node answers its own API on loopback at once; this only bounds a hung one. */
const PROBE_TIMEOUT_MS = 2000
const LOOPBACK_LISTEN = ['/ip4/127.0.0.1/tcp/0']

const LEVELS = new Set(['debug', 'info', 'warn', 'error', 'silent'])

export function makeLogger (p: Parsed, rt: CliRuntime): Logger {
  const level = typeof p.values['log-level'] === 'string' ? p.values['log-level'] : (rt.env.ZEROM1_LOG ?? 'warn')
  if (!LEVELS.has(level)) throw new CliError('USAGE', '--log-level must be one of debug, info, warn, error, silent.')
  return createLogger({ level: level as LogLevel, sink: (line) => { rt.stderr(line + '\n') } })
}

function strings (v: Parsed['values'][string]): string[] | undefined {
  return Array.isArray(v) && v.length > 0 ? v : undefined
}

/** A node already serving this directory answers on its API socket (a TCP port from api.json would
 * prove nothing: after a crash anyone may hold it). Returns its pid as api.json names it, or 0. */
async function runningPid (dataDir: string): Promise<number | undefined> {
  let client: ApiClient
  try { client = ApiClient.forDataDir(dataDir, { timeoutMs: PROBE_TIMEOUT_MS }) } catch { return undefined }
  try {
    await client.state()
  } catch {
    return undefined
  }
  return readApiInfo(dataDir)?.pid ?? 0
}

/** Takes the data directory for this process (src/platform/dir-lock.ts): a second start, or an init beside a
 * running node, is refused even when the two race or the node's API socket cannot exist. */
function takeDir (dataDir: string): DirLock {
  try {
    return lockDir(dataDir)
  } catch (err) {
    if (DirLockedError.is(err)) throw new CliError('FAILED', err.message, { cause: err })
    throw err
  }
}

export async function runInit (rt: CliRuntime, p: Parsed, dataDir: string): Promise<number> {
  const logger = makeLogger(p, rt)
  const name = typeof p.values.name === 'string' ? p.values.name.trim() : DEFAULT_DISPLAY_NAME
  if (name.length === 0 || name.length > 64) throw new CliError('USAGE', '--name must be 1 to 64 characters.')
  const passphrase = readPassphraseFile(typeof p.values['passphrase-file'] === 'string' ? p.values['passphrase-file'] : undefined)
  const pid = await runningPid(dataDir)
  if (pid !== undefined) throw new CliError('FAILED', `A node is running for ${dataDir} (pid ${pid}); create the account in its web UI instead.`)
  ensurePrivateDir(dataDir)
  const lock = takeDir(dataDir)
  let accountId: string
  try {
    // Offline: makes the keys and the store, starts no network node.
    ({ accountId } = await rt.initAccount(dataDir, { name, logger, ...(passphrase === undefined ? {} : { passphrase }) }))
  } finally {
    lock.release()
  }
  if (p.values.json === true) rt.stdout(JSON.stringify({ accountId, dataDir }) + '\n')
  else rt.stdout(`Created account ${accountId} in ${dataDir}.\nStart the node with \`0message1 start${p.values.data === undefined ? '' : ` --data ${dataDir}`}\`.\n`)
  return 0
}

async function serveApi (host: DeviceHost, dataDir: string, listen: string, logger: Logger, allowRemote = false): Promise<ApiServer> {
  try {
    return await createApiServer({ host, dataDir, listen, logger, allowRemote })
  } catch (err) {
    if (ApiError.is(err, 'NOT_LOOPBACK')) throw new CliError('USAGE', err.message)
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new CliError('FAILED', `The API address ${listen} is in use; choose another with --api 127.0.0.1:PORT.`, { cause: err })
    }
    if ((err as NodeJS.ErrnoException).code === 'EADDRNOTAVAIL') {
      throw new CliError('FAILED', `The API address ${listen} is not an address of this machine; choose another with --api.`, { cause: err })
    }
    if (err instanceof RangeError) throw new CliError('USAGE', `--api ${err.message.replace(/^listen:? ?/, '')}.`)
    throw err
  }
}

function apiHostOf (listen: string): string {
  try {
    return parseListen(listen).host
  } catch (err) {
    throw new CliError('USAGE', `--api ${(err as Error).message.replace(/^listen:? ?/, '')}.`)
  }
}

export async function runStart (rt: CliRuntime, p: Parsed, dataDir: string): Promise<number> {
  const logger = makeLogger(p, rt)
  const passphrase = readPassphraseFile(typeof p.values['passphrase-file'] === 'string' ? p.values['passphrase-file'] : undefined)
  const apiListen = typeof p.values.api === 'string' ? p.values.api : DEFAULT_API_LISTEN
  const allowRemote = p.values['api-allow-remote'] === true
  const apiHost = apiHostOf(apiListen)
  if (!isLoopback(apiHost) && !allowRemote) {
    throw new CliError('USAGE', `--api ${apiListen} is not a loopback address: the API token and your messages would cross the network in plain HTTP. Use 127.0.0.1:PORT, or add --api-allow-remote if you accept that.`)
  }
  if (!isLoopback(apiHost)) {
    rt.stderr(`0message1: warning: the API will listen on ${apiListen} in plain HTTP; anyone on that network who sees a request can take its token and read your messages. Prefer an SSH tunnel to 127.0.0.1.\n`)
  }
  const pid = await runningPid(dataDir)
  if (pid !== undefined) throw new CliError('FAILED', `A node is already running for ${dataDir} (pid ${pid}); stop it first.`)
  ensurePrivateDir(dataDir)
  const lock = takeDir(dataDir)
  try {
    return await startLocked(rt, p, dataDir, { logger, passphrase, apiListen, allowRemote })
  } finally {
    lock.release()
  }
}

async function startLocked (rt: CliRuntime, p: Parsed, dataDir: string, s: { logger: Logger, passphrase: string | undefined, apiListen: string, allowRemote: boolean }): Promise<number> {
  const { logger, passphrase, apiListen, allowRemote } = s
  const o: HostFactoryOptions = { dataDir, logger }
  const listen = strings(p.values.listen)
  const relays = strings(p.values.relay)
  const bootstrap = strings(p.values.bootstrap)
  // Every interface unless told otherwise: a contact on this network must be able to dial us (relay-only mode
  // listens nowhere of its own whatever this says).
  o.listen = listen ?? [...ALL_INTERFACES_LISTEN]
  if (p.values.lan === true) o.lanDiscovery = true
  if (relays !== undefined) o.relays = relays
  if (bootstrap !== undefined) o.bootstrap = bootstrap
  if (passphrase !== undefined) o.passphrase = passphrase
  const host = await rt.createDeviceHost(o)
  let api: ApiServer
  try {
    api = await serveApi(host, dataDir, apiListen, logger, allowRemote)
  } catch (err) {
    await host.stop()
    throw err
  }
  writeApiInfo(dataDir, { url: api.url, pid: process.pid })
  const state = host.state()
  const hint = state === 'no-account' ? ' Create your account there.' : state === 'locked' ? ' Unlock it there with your passphrase.' : ''
  rt.stdout(`0message1 is running (data: ${dataDir}).\nWeb UI: ${api.uiUrl}\nOpen that address in your browser; it holds this node's API token, so keep it to yourself.${hint}\nStop with Ctrl+C.\n`)
  rt.onReady?.({ url: api.url, uiUrl: api.uiUrl, state })
  // Started: give back the heap the start grew (src/platform/heap-trim.ts), and again after idle bursts.
  const trimmer = startHeapTrimmer()
  try {
    await rt.waitForStop()
    rt.stdout('Stopping...\n')
  } finally {
    trimmer.stop()
    await api.close()
    await host.stop()
    removeApiInfo(dataDir, process.pid)
  }
  return 0
}

/** `--stun PORT|off`: the relay's STUN responder (UDP); the IANA port unless told otherwise. */
function stunOption (v: unknown, defaultPort: number): number | 'off' {
  if (v === undefined) return defaultPort
  if (v === 'off') return 'off'
  const n = Number(v)
  if (typeof v !== 'string' || !/^\d{1,5}$/.test(v) || n > 65535) throw new CliError('USAGE', '--stun takes a UDP port (0-65535, 0: any free port) or "off".')
  return n
}

export async function runRelay (rt: CliRuntime, p: Parsed, _dataDir: string): Promise<number> {
  const logger = makeLogger(p, rt)
  const dataDir = typeof p.values.data === 'string' ? _dataDir : (rt.env.ZEROM1_RELAY_DATA ?? join(homedir(), DEFAULT_RELAY_DIR_NAME))
  ensurePrivateDir(dataDir)
  const lock = takeDir(dataDir)
  try {
    return await relayLocked(rt, p, dataDir, logger)
  } finally {
    lock.release()
  }
}

async function relayLocked (rt: CliRuntime, p: Parsed, dataDir: string, logger: Logger): Promise<number> {
  // Loaded here, not at the top: a device's `start` never needs the relay's STUN server (@msimerson/stun) or its
  // metrics options, and every module loaded at start stays in an idle device's memory (issue 10, device.idle_rss).
  const [{ STUN_DEFAULT_PORT }, { announceAddresses, handOutAddresses, metricsOption }] = await Promise.all([import('../relay/stun.ts'), import('./relay-options.ts')])
  const listen = strings(p.values.listen) ?? DEFAULT_RELAY_LISTEN
  const bootstrap = strings(p.values.bootstrap)
  const stun = stunOption(p.values.stun, STUN_DEFAULT_PORT)
  const announce = announceAddresses(strings(p.values.announce))
  const metrics = metricsOption(p.values.metrics)
  if (typeof p.values.operator === 'string' && Buffer.byteLength(p.values.operator) > MAX_RELAY_OPERATOR_BYTES) {
    throw new CliError('USAGE', `--operator takes at most ${MAX_RELAY_OPERATOR_BYTES} bytes (a short name devices use to spread their relays).`)
  }
  let relay: RelayRunning
  try {
    relay = await rt.startRelay({
      dataDir, listen, logger, stun, ownProcess: true,
      ...(bootstrap === undefined ? {} : { bootstrap }),
      ...(announce === undefined ? {} : { announce }),
      ...(metrics === undefined ? {} : { metrics }),
      ...(p.values['no-advertise'] === true ? { advertise: false } : {}),
      ...(typeof p.values.operator === 'string' ? { operator: p.values.operator } : {})
    })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' || /EADDRINUSE|address already in use/i.test(err instanceof Error ? err.message : String(err))) {
      throw new CliError('FAILED', 'A listen address or the STUN port of the relay is in use; choose others with --listen or --stun PORT|off.', { cause: err })
    }
    throw err
  }
  const handOut = handOutAddresses(relay.addresses, relay.peerId, announce)
  if (p.values.json === true) rt.stdout(JSON.stringify({ peerId: relay.peerId, addresses: handOut, ...(relay.metricsUrl === undefined ? {} : { metrics: relay.metricsUrl }) }) + '\n')
  else {
    rt.stdout(`Relay running (data: ${dataDir}), peer id ${relay.peerId}. Give devices ${handOut.length === 1 ? 'this address' : 'one of these addresses'} (Settings > Relays, or start --relay ...):\n${handOut.join('\n')}\n`)
    if (relay.metricsUrl !== undefined) rt.stdout(`Metrics: ${relay.metricsUrl}/metrics (health: ${relay.metricsUrl}/healthz)\n`)
  }
  rt.onReady?.({ peerId: relay.peerId, addresses: handOut, ...(relay.metricsUrl === undefined ? {} : { metrics: relay.metricsUrl }) })
  // The relay, alone in this process (ownProcess), trims its own heap once idle (startRelay, heap-trim.ts).
  try {
    await rt.waitForStop()
  } finally {
    await relay.stop()
  }
  return 0
}

async function until (check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (await check()) return true
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  return false
}

export async function runDemo (rt: CliRuntime, p: Parsed): Promise<number> {
  const logger = makeLogger(p, rt)
  const root = mkdtempSync(join(tmpdir(), '0m1-demo-'))
  const cleanups: Array<() => Promise<void>> = []
  try {
    const dir = (name: string): string => { const d = join(root, name); mkdirSync(d, { mode: 0o700 }); return d }
    const relay = await rt.startRelay({ dataDir: dir('relay'), listen: LOOPBACK_LISTEN, logger: logger.child('relay') })
    cleanups.push(async () => { await relay.stop() })
    const device = async (name: string): Promise<{ host: DeviceHost, m: Messenger, api: ApiServer, dataDir: string }> => {
      const dataDir = dir(name.toLowerCase())
      const host = await rt.createDeviceHost({ dataDir, listen: LOOPBACK_LISTEN, relays: [...relay.addresses], logger: logger.child(name.toLowerCase()) })
      cleanups.push(async () => { await host.stop() })
      const m = await host.createAccount({ name })
      const api = await serveApi(host, dataDir, '127.0.0.1:0', logger)
      cleanups.push(async () => { await api.close() })
      writeApiInfo(dataDir, { url: api.url, pid: process.pid })
      return { host, m, api, dataDir }
    }
    const alice = await device('Alice')
    const bob = await device('Bob')
    const invite = await alice.m.createInvite()
    await bob.m.acceptInvite(invite.link, { name: 'Alice' })
    const introduced = await until(async () => (await alice.m.contacts()).length > 0, DEMO_INTRO_TIMEOUT_MS)
    if (!introduced) rt.stderr('0message1: Alice has not received Bob\'s contact card yet; it may still arrive.\n')
    if (p.values.json === true) {
      rt.stdout(JSON.stringify({ relay: relay.addresses, alice: { ui: alice.api.uiUrl, data: alice.dataDir }, bob: { ui: bob.api.uiUrl, data: bob.dataDir } }) + '\n')
    } else {
      rt.stdout([
        'Demo running on loopback: one relay and two devices who already know each other.',
        `Alice: ${alice.api.uiUrl}`,
        `Bob:   ${bob.api.uiUrl}`,
        `Relay: ${relay.addresses[0] ?? '(no address)'}`,
        `CLI:   0message1 messages Alice --data ${bob.dataDir}`,
        `Data is in ${root}${p.values.keep === true ? ' (kept after exit)' : ' (deleted on exit)'}. Stop with Ctrl+C.`,
        ''
      ].join('\n'))
    }
    rt.onReady?.({ alice: alice.api.uiUrl, bob: bob.api.uiUrl, relay: relay.addresses, root })
    await rt.waitForStop()
    rt.stdout('Stopping...\n')
    return 0
  } finally {
    for (const c of cleanups.reverse()) {
      try { await c() } catch (err) { logger.warn('demo-stop-failed', { error: (err as Error).name }) }
    }
    if (p.values.keep !== true) rmSync(root, { recursive: true, force: true })
  }
}
