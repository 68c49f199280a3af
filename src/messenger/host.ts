// The device daemon's state machine: no account yet (onboarding), locked (passphrase needed), ready.
// It owns the account, the network node and the messenger core, and restarts the node on settings changes.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { Device } from '../e2ee/device.ts'
import { createDeviceNode, DEFAULT_FETCH_ISOLATION, type DeviceNode } from '../net/node.ts'
import type { Logger } from '../platform/logger.ts'
import { SALT_FILE } from '../store/db.ts'
import { MAX_ADDRESS_BYTES, MAX_RELAYS } from '../wire/payload.ts'
import { MessengerError } from './errors.ts'
import { History } from './history.ts'
import { MessengerCore } from './messenger.ts'
import { GroupManager } from './groups/manager.ts'
import type { DeviceHost, HostState, Messenger, SettingsView } from './types.ts'
import { FileTransfers } from './files/transfers.ts'
import { RelayKeeper, type RelayKeeperTiming, type RelayKeeperView, type RelayPrefs } from './relay-keeper.ts'
import { loadRelayPrefs, saveRelayPrefs } from './relay-prefs.ts'

export interface DeviceHostOptions {
  readonly dataDir: string
  /** Multiaddrs to listen on; loopback only unless the user asks for more. */
  readonly listen?: readonly string[]
  /** Relays given on the command line: they replace the stored list when given. */
  readonly relays?: readonly string[]
  readonly bootstrap?: readonly string[]
  /** `start --lan`: turns LAN discovery (mDNS) on and saves it, as the Settings page would. */
  readonly lanDiscovery?: boolean
  readonly passphrase?: string
  readonly logger: Logger
  readonly now?: () => number
  /** Called with each network node the host starts (tests measure paths on it; settings changes start a new one). */
  readonly onNetwork?: (node: DeviceNode) => void
  /** Issue 12: the largest file this device sends (default DEFAULT_MAX_FILE_BYTES, 100 MB). */
  readonly maxFileBytes?: number
  /** Issue 16: keep at least N relays, found through the DHT (default: on, with the production timing).
   * false: only the configured relays (tests of other features). */
  readonly relayKeeper?: RelayKeeperTiming | false
}

export const DEFAULT_LISTEN = ['/ip4/127.0.0.1/tcp/0']
const SETTINGS_KEY = 'settings'
const PEER_KEY = 'libp2p.private-key'
const RELAY_PREFS_KEY = 'relay-prefs'

const DEFAULT_SETTINGS: SettingsView = { relayOnly: false, lanDiscovery: false, relays: [], fetchIsolation: DEFAULT_FETCH_ISOLATION }

/** Creates the one account of a data directory without starting anything (`0message1 init`). */
export async function initAccount (dataDir: string, o: { name: string, passphrase?: string, logger: Logger }): Promise<{ accountId: string }> {
  const device = await Device.create(dataDir, { name: o.name, logger: o.logger, ...(o.passphrase !== undefined ? { passphrase: o.passphrase } : {}) })
  const accountId = device.accountId
  device.close()
  return { accountId }
}

export function isPassphraseProtected (dataDir: string): boolean {
  return existsSync(join(dataDir, SALT_FILE))
}

export async function createDeviceHost (o: DeviceHostOptions): Promise<DeviceHost> {
  const host = new Host(o)
  if (Device.exists(o.dataDir) && (o.passphrase !== undefined || !isPassphraseProtected(o.dataDir))) {
    await host.open(o.passphrase)
  }
  return host
}

class Host implements DeviceHost {
  readonly #o: DeviceHostOptions
  readonly #log: Logger
  #device: Device | undefined
  #node: DeviceNode | undefined
  #core: MessengerCore | undefined
  #history: History | undefined
  #files: FileTransfers | undefined
  #opening: Promise<Messenger> | undefined
  #keeper: RelayKeeper | undefined

  constructor (o: DeviceHostOptions) {
    this.#o = o
    this.#log = o.logger.child('host')
  }

  state (): HostState {
    if (this.#core !== undefined) return 'ready'
    if (!Device.exists(this.#o.dataDir)) return 'no-account'
    return 'locked'
  }

  messenger (): Messenger | undefined {
    return this.#core
  }

  async createAccount (options: { name: string, passphrase?: string }): Promise<Messenger> {
    if (this.#core !== undefined || Device.exists(this.#o.dataDir)) {
      throw new MessengerError('INVALID_SETTING', 'This data directory already holds an account; a device has exactly one.')
    }
    const device = await Device.create(this.#o.dataDir, {
      name: options.name,
      logger: this.#o.logger,
      ...(options.passphrase !== undefined && options.passphrase !== '' ? { passphrase: options.passphrase } : {}),
      ...(this.#o.now !== undefined ? { now: this.#o.now } : {})
    })
    return await this.#start(device)
  }

  async unlock (passphrase: string): Promise<Messenger> {
    return await this.open(passphrase)
  }

  async open (passphrase?: string): Promise<Messenger> {
    if (this.#core !== undefined) return this.#core
    this.#opening ??= (async () => {
      const device = await Device.open(this.#o.dataDir, {
        logger: this.#o.logger,
        ...(passphrase !== undefined ? { passphrase } : {}),
        ...(this.#o.now !== undefined ? { now: this.#o.now } : {})
      })
      return await this.#start(device)
    })().finally(() => { this.#opening = undefined })
    return await this.#opening
  }

  async #start (device: Device): Promise<Messenger> {
    this.#device = device
    const history = new History(device.db, { logger: this.#o.logger.child('history') })
    this.#history = history
    if (this.#o.relays !== undefined && this.#o.relays.length > 0) {
      this.#saveSettings({ ...this.#settings(), relays: checkRelays(this.#o.relays) })
    }
    if (this.#o.lanDiscovery === true) this.#saveSettings({ ...this.#settings(), lanDiscovery: true })
    try {
      this.#node = await this.#createNode(this.#settings())
      const core = new MessengerCore({
        device,
        history,
        net: this.#node,
        logger: this.#o.logger.child('messenger'),
        settings: () => this.#settings(),
        applySettings: async (s) => { await this.#applySettings(s) },
        ...(this.#o.now !== undefined ? { now: this.#o.now } : {}),
        groups: (port) => new GroupManager(port)
      })
      this.#core = core
      const files = new FileTransfers({
        db: device.db,
        dataDir: this.#o.dataDir,
        maxBytes: this.#o.maxFileBytes,
        net: () => this.#node,
        contact: (id) => device.contact(id),
        core,
        logger: this.#o.logger.child('files'),
        ...(this.#o.now !== undefined ? { now: this.#o.now } : {})
      })
      this.#files = files
      core.attachFiles(files)
      await core.start()
      files.start()
      if (this.#o.relayKeeper !== false) this.#startKeeper(core, device, this.#o.relayKeeper ?? {})
      this.#log.info('device-ready')
      return core
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  #settings (): SettingsView {
    const raw = this.#history?.setting(SETTINGS_KEY)
    if (raw === undefined) return DEFAULT_SETTINGS
    const parsed = JSON.parse(raw) as Partial<SettingsView>
    return {
      relayOnly: parsed.relayOnly === true,
      lanDiscovery: parsed.lanDiscovery === true,
      relays: Array.isArray(parsed.relays) ? parsed.relays.filter((r): r is string => typeof r === 'string') : [],
      fetchIsolation: parsed.fetchIsolation === 'contact' ? 'contact' : parsed.fetchIsolation === 'device' ? 'device' : DEFAULT_FETCH_ISOLATION
    }
  }

  #saveSettings (s: SettingsView): void {
    this.#history?.setSetting(SETTINGS_KEY, JSON.stringify({ relayOnly: s.relayOnly, lanDiscovery: s.lanDiscovery, relays: s.relays, fetchIsolation: s.fetchIsolation }))
  }

  /** The node's libp2p key lives in the encrypted store, so the peer id survives restarts. */
  async #peerKey (): Promise<PrivateKey> {
    const history = this.#history
    if (history === undefined) throw new MessengerError('STOPPED', 'The device is not open.')
    const stored = history.setting(PEER_KEY)
    if (stored !== undefined) return privateKeyFromProtobuf(Buffer.from(stored, 'base64'))
    const key = await generateKeyPair('Ed25519')
    history.setSetting(PEER_KEY, Buffer.from(privateKeyToProtobuf(key)).toString('base64'))
    return key
  }

  async #createNode (s: SettingsView): Promise<DeviceNode> {
    const node = await createDeviceNode({
      privateKey: await this.#peerKey(),
      listen: [...(this.#o.listen ?? DEFAULT_LISTEN)],
      relays: [...s.relays],
      bootstrap: [...(this.#o.bootstrap ?? [])],
      mdns: s.lanDiscovery,
      relayOnly: s.relayOnly,
      fetchIsolation: s.fetchIsolation,
      // WebRTC hands over our LAN and public addresses (ICE candidates): current contacts only, never a
      // stranger who merely knows our peer id and a relay (docs/threat-model.md).
      allowWebRTC: (peerId) => this.#device?.contacts().some((c) => c.theirPeerId === peerId) ?? false,
      allowDirectDial: (peerId) => this.#device?.contacts().some((c) => c.theirPeerId === peerId) ?? false,
      logger: this.#o.logger.child('net')
    })
    node.onFileStream((stream, connection) => { this.#files?.handleStream(stream, connection) })
    this.#o.onNetwork?.(node)
    return node
  }

  async #applySettings (s: SettingsView): Promise<void> {
    const relays = checkRelays(s.relays)
    const before = this.#settings()
    // Settings also come back from the database, where a value is only what was written: checked, not trusted.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
    if (s.fetchIsolation !== 'device' && s.fetchIsolation !== 'contact') {
      throw new MessengerError('INVALID_SETTING', 'Fetch isolation is either "device" or "contact".')
    }
    const next: SettingsView = { relayOnly: s.relayOnly, lanDiscovery: s.lanDiscovery, relays, fetchIsolation: s.fetchIsolation }
    this.#saveSettings(next)
    const changed = before.relayOnly !== next.relayOnly || before.lanDiscovery !== next.lanDiscovery || before.fetchIsolation !== next.fetchIsolation ||
      before.relays.join(' ') !== next.relays.join(' ')
    if (!changed || this.#core === undefined) return
    const old = this.#node
    this.#node = await this.#createNode(next)
    await this.#core.replaceNetwork(this.#node)
    await old?.stop()
  }

  #startKeeper (core: MessengerCore, device: Device, timing: RelayKeeperTiming): void {
    this.#keeper = new RelayKeeper({
      ...timing,
      net: () => this.#node,
      relays: () => this.#settings().relays,
      setRelays: async (relays) => { await core.updateSettings({ relays }) },
      // Ways into the DHT: the bootstrap list, and every relay a contact told us of.
      bootstrap: () => [...(this.#o.bootstrap ?? []), ...device.contacts().flatMap((c) => c.theirRelays)],
      prefs: () => this.relayPrefs(),
      logger: this.#o.logger.child('relays'),
      ...(this.#o.now !== undefined ? { now: this.#o.now } : {})
    })
    this.#keeper.start()
  }

  /** Issue 16: the relays kept, their health, and the user's choices (Settings, status). */
  relayKeeper (): RelayKeeperView | undefined {
    return this.#keeper?.view()
  }

  relayPrefs (): RelayPrefs {
    return loadRelayPrefs(this.#history?.setting(RELAY_PREFS_KEY))
  }

  async updateRelayPrefs (patch: Partial<RelayPrefs>): Promise<RelayKeeperView | undefined> {
    const history = this.#history
    if (history === undefined) throw new MessengerError('STOPPED', 'The device is not open.')
    const next = { ...this.relayPrefs(), ...patch }
    if (next.pinned.length > 0) checkRelays(next.pinned)
    history.setSetting(RELAY_PREFS_KEY, saveRelayPrefs(next))
    await this.#keeper?.check()
    return this.#keeper?.view()
  }

  async stop (): Promise<void> {
    await this.#keeper?.stop()
    this.#keeper = undefined
    const core = this.#core
    const node = this.#node
    const device = this.#device
    const files = this.#files
    this.#files = undefined
    this.#core = undefined
    this.#node = undefined
    this.#device = undefined
    this.#history = undefined
    await files?.stop()
    await core?.stop()
    await node?.stop()
    device?.close()
  }
}

/** Trimmed, deduplicated relay addresses that a contact card and an invite can carry. */
function checkRelays (list: readonly string[]): string[] {
  const relays = [...new Set(list.map((r) => r.trim()).filter((r) => r.length > 0))]
  for (const r of relays) {
    if (!r.startsWith('/') || !r.includes('/p2p/')) {
      throw new MessengerError('INVALID_SETTING', 'A relay address must be a multiaddr ending in /p2p/<peer id>.')
    }
    if (Buffer.byteLength(r, 'utf8') > MAX_ADDRESS_BYTES) {
      throw new MessengerError('INVALID_SETTING', `A relay address holds at most ${MAX_ADDRESS_BYTES} bytes.`)
    }
  }
  // Every relay goes into my contact card and invites, which carry at most MAX_RELAYS.
  if (relays.length > MAX_RELAYS) throw new MessengerError('INVALID_SETTING', `At most ${MAX_RELAYS} relays can be used.`)
  return relays
}
