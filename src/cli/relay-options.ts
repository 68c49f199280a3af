// `0message1 relay` options that need checking before anything starts: --announce and --metrics.
import { multiaddr } from '@multiformats/multiaddr'
import { CliError } from './errors.ts'
import { MetricsError, parseMetricsListen } from '../relay/metrics.ts'

/**
 * `--announce MA`: a TCP or WebSocket multiaddr with a concrete host (ip4, ip6 or dns), no /p2p-circuit and no
 * /p2p/ (the relay adds its own). Returns undefined when none was given.
 */
export function announceAddresses (given: readonly string[] | undefined): string[] | undefined {
  if (given === undefined || given.length === 0) return undefined
  return given.map((a) => {
    let components
    try {
      components = multiaddr(a.trim()).getComponents()
    } catch {
      throw new CliError('USAGE', `--announce ${JSON.stringify(a)} is not a multiaddr; for example /ip4/203.0.113.7/tcp/4001 or /dns4/relay.example.org/tcp/4001.`)
    }
    const first = components[0]
    if (first === undefined || !['ip4', 'ip6', 'dns', 'dns4', 'dns6'].includes(first.name)) {
      throw new CliError('USAGE', `--announce ${JSON.stringify(a)} must start with /ip4, /ip6, /dns, /dns4 or /dns6.`)
    }
    if (first.value === '0.0.0.0' || first.value === '::') {
      throw new CliError('USAGE', `--announce ${JSON.stringify(a)} names no host: give the public address devices dial.`)
    }
    if (!components.some((c) => c.name === 'tcp')) throw new CliError('USAGE', `--announce ${JSON.stringify(a)} needs a /tcp/PORT.`)
    if (components.some((c) => c.name === 'p2p' || c.name === 'p2p-circuit')) {
      throw new CliError('USAGE', `--announce ${JSON.stringify(a)} must not carry /p2p or /p2p-circuit: the relay adds its own peer id.`)
    }
    return multiaddr(a.trim()).toString()
  })
}

/** The addresses to print: with --announce, exactly those (each ending in /p2p/<id>); otherwise what the node reports. */
export function handOutAddresses (addresses: readonly string[], peerId: string, announce: readonly string[] | undefined): string[] {
  if (announce === undefined) return [...addresses]
  return announce.map((a) => `${a}/p2p/${peerId}`)
}

/** `--metrics 127.0.0.1:PORT`: checked here so that a wrong address fails before the relay starts. */
export function metricsOption (v: unknown): string | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'string') throw new CliError('USAGE', '--metrics takes 127.0.0.1:PORT.')
  try {
    parseMetricsListen(v)
  } catch (err) {
    if (MetricsError.is(err)) throw new CliError('USAGE', `--metrics: ${err.message}`)
    throw err
  }
  return v
}
