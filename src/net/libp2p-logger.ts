// libp2p's own debug logging, off unless asked for. libp2p gives every connection, every muxed stream and every
// service a logger of its own (`debug` instances with error and trace children, ~1.5 KB each), whether or not
// any namespace is enabled: a relay holding a thousand idle devices carried megabytes of them, and every stream
// a device opens paid to build three. Our logs are src/platform/logger.ts; libp2p's are for diagnosing libp2p,
// so they stay available the usual way: with DEBUG set (e.g. DEBUG=libp2p:dcutr*), libp2p's default logger is used.
import type { ComponentLogger, Logger } from '@libp2p/interface'

const quiet: Logger = Object.assign((): void => {}, {
  error: (): void => {},
  trace: (): void => {},
  enabled: false,
  newScope: (): Logger => quiet
})

/** One logger that logs nothing, for every component. */
export const QUIET_LIBP2P_LOGGER: ComponentLogger = { forComponent: () => quiet }

/** The `logger` option of createLibp2p: quiet, unless DEBUG names what to log (then libp2p's default). */
export function libp2pLoggerOption (env: NodeJS.ProcessEnv = process.env): { logger?: ComponentLogger } {
  return env.DEBUG === undefined || env.DEBUG === '' ? { logger: QUIET_LIBP2P_LOGGER } : {}
}
