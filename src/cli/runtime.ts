// What the CLI needs from the outside world, passed in so that tests can run main() in-process with
// an in-memory host: output streams, environment, the node factories and the stop signal.
import type { DeviceHost } from '../messenger/types.ts'
import type { Logger } from '../platform/logger.ts'

export interface HostFactoryOptions {
  dataDir: string
  listen?: string[]
  relays?: string[]
  bootstrap?: string[]
  /** `start --lan`: LAN discovery (mDNS) on. */
  lanDiscovery?: boolean
  passphrase?: string
  logger: Logger
}

export interface RelayRunning {
  readonly peerId: string
  readonly addresses: readonly string[]
  /** The metrics endpoint's base URL (`relay --metrics`). */
  readonly metricsUrl?: string | undefined
  stop: () => Promise<void>
}

export interface RelayFactoryOptions {
  dataDir: string, listen: string[], bootstrap?: string[], logger: Logger, stun?: number | 'off', announce?: string[], metrics?: string
  /** `relay --no-advertise`: never provide the relay key in the DHT (issue 16). */
  advertise?: boolean
  /** `relay --operator NAME`: who runs the relay, in its signed record. */
  operator?: string
  /** The relay is alone in its process (the `relay` command), so it may shrink the process's Buffer pool. */
  ownProcess?: boolean
}

export interface CliRuntime {
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
  readonly env: Readonly<Record<string, string | undefined>>
  readonly createDeviceHost: (o: HostFactoryOptions) => Promise<DeviceHost>
  /** Creates the account of a data directory without starting the network (`init`). */
  readonly initAccount: (dataDir: string, o: { name: string, passphrase?: string, logger: Logger }) => Promise<{ accountId: string }>
  readonly startRelay: (o: RelayFactoryOptions) => Promise<RelayRunning>
  /** Resolves when the user asks a long-running command to stop (SIGINT/SIGTERM). */
  readonly waitForStop: () => Promise<void>
  /** Called once a long-running command is up (tests use it instead of parsing stdout). */
  readonly onReady?: (info: Record<string, unknown>) => void
}

// The factories are loaded on first use: `contacts list` should not load libp2p and libsignal.
const HOST_MODULE = '../messenger/host.ts'
const RELAY_MODULE = '../relay/service.ts'

export function defaultRuntime (): CliRuntime {
  return {
    stdout: (text) => { process.stdout.write(text) },
    stderr: (text) => { process.stderr.write(text) },
    env: process.env,
    createDeviceHost: async (o) => {
      const mod = await import(HOST_MODULE) as { createDeviceHost: (o: HostFactoryOptions) => Promise<DeviceHost> }
      return await mod.createDeviceHost(o)
    },
    initAccount: async (dataDir, o) => {
      const mod = await import(HOST_MODULE) as { initAccount: (d: string, o: { name: string, passphrase?: string, logger: Logger }) => Promise<{ accountId: string }> }
      return await mod.initAccount(dataDir, o)
    },
    startRelay: async (o) => {
      const mod = await import(RELAY_MODULE) as { startRelay: (o: RelayFactoryOptions) => Promise<RelayRunning> }
      return await mod.startRelay(o)
    },
    waitForStop: async () => {
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop)
          process.off('SIGTERM', stop)
          // A second Ctrl+C while shutting down ends the process at once.
          process.once('SIGINT', () => { process.exit(130) })
          resolve()
        }
        process.on('SIGINT', stop)
        process.on('SIGTERM', stop)
      })
    }
  }
}
