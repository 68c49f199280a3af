// The relay's metrics and health endpoint (`0message1 relay --metrics 127.0.0.1:PORT`): Prometheus text
// format on /metrics, "ok" on /healthz. Loopback only: an operator scrapes it from the same host (or over
// an SSH tunnel); nothing here is meant for the network.
// Every metric is a count, a sum or a size. No label ever carries a peer id, a mailbox id, an address or
// anything a device sent: the only label is a refusal reason, from a fixed list (src/wire/mailbox.ts).
import { createServer, type Server } from 'node:http'
import { CodedError } from '../platform/coded-error.ts'
import { isLoopback } from '../platform/loopback.ts'

export type MetricsErrorCode = 'NOT_LOOPBACK' | 'BAD_ADDRESS'
export class MetricsError extends CodedError<MetricsErrorCode> {}


/** What the mailbox service counts as it works (src/relay/mailbox-service.ts increments these in place). */
export interface MailboxCounters {
  /** Envelopes stored (committed). */
  deposits: number
  /** Bytes of the envelopes stored. */
  depositBytes: number
  /** Fetch requests answered, and the envelopes they carried. */
  fetches: number
  fetchedEnvelopes: number
  /** Envelopes deleted by their owner's acknowledgement. */
  acks: number
  /** Bodiless "something arrived" notices pushed to owners' live sessions. */
  notices: number
  /** Owner sessions opened (a proof of mailbox ownership accepted). */
  sessions: number
  /** Refusals by reason (a closed set of protocol reason names). */
  readonly refusals: Map<string, number>
  /** Group commits (one transaction, one fsync under synchronous=FULL each) and the time spent in them. */
  commits: number
  commitSeconds: number
  commitMaxSeconds: number
}

export function newMailboxCounters (): MailboxCounters {
  return { deposits: 0, depositBytes: 0, fetches: 0, fetchedEnvelopes: 0, acks: 0, notices: 0, sessions: 0, refusals: new Map(), commits: 0, commitSeconds: 0, commitMaxSeconds: 0 }
}

export function countRefusal (c: MailboxCounters, reason: string, n = 1): void {
  c.refusals.set(reason, (c.refusals.get(reason) ?? 0) + n)
}

/** The relay's state at scrape time (gauges), read from the running node and store. */
export interface RelayGauges {
  mailboxes: number
  bytesStored: number
  ownerSessions: number
  reservations: number
  circuits: number
  connections: number
}

/** Prometheus text exposition format 0.0.4. Reason label values are protocol names ([A-Z_]), never input. */
export function renderMetrics (c: MailboxCounters, g: RelayGauges): string {
  const lines: string[] = []
  const metric = (name: string, type: 'counter' | 'gauge', help: string, value: number | Array<[string, number]>): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    if (typeof value === 'number') lines.push(`${name} ${fmt(value)}`)
    else for (const [reason, v] of value) lines.push(`${name}{reason="${reason.replace(/[^A-Z_]/g, '_')}"} ${fmt(v)}`)
  }
  metric('zerom1_relay_deposits_total', 'counter', 'Envelopes stored in mailboxes.', c.deposits)
  metric('zerom1_relay_deposit_bytes_total', 'counter', 'Bytes of envelopes stored in mailboxes.', c.depositBytes)
  metric('zerom1_relay_fetches_total', 'counter', 'Mailbox fetch requests answered.', c.fetches)
  metric('zerom1_relay_fetched_envelopes_total', 'counter', 'Envelopes handed out by fetches.', c.fetchedEnvelopes)
  metric('zerom1_relay_acks_total', 'counter', 'Envelopes deleted by their owner\'s acknowledgement.', c.acks)
  metric('zerom1_relay_notices_total', 'counter', 'New-mail notices pushed to owner sessions.', c.notices)
  metric('zerom1_relay_sessions_total', 'counter', 'Owner sessions opened.', c.sessions)
  metric('zerom1_relay_refusals_total', 'counter', 'Requests or envelopes refused, by reason.', [...c.refusals].sort(([a], [b]) => a.localeCompare(b)))
  metric('zerom1_relay_commits_total', 'counter', 'Group commits (one transaction and fsync each).', c.commits)
  metric('zerom1_relay_commit_seconds_total', 'counter', 'Time spent in group commits, fsync included.', c.commitSeconds)
  metric('zerom1_relay_commit_max_seconds', 'gauge', 'Longest group commit since the relay started.', c.commitMaxSeconds)
  metric('zerom1_relay_mailboxes', 'gauge', 'Mailboxes holding at least one envelope.', g.mailboxes)
  metric('zerom1_relay_bytes_stored', 'gauge', 'Bytes of envelopes held in all mailboxes.', g.bytesStored)
  metric('zerom1_relay_owner_sessions', 'gauge', 'Owner sessions open now.', g.ownerSessions)
  metric('zerom1_relay_reservations', 'gauge', 'Circuit relay reservations held now.', g.reservations)
  metric('zerom1_relay_circuits', 'gauge', 'Relayed connections open now.', g.circuits)
  metric('zerom1_relay_connections', 'gauge', 'Connections open now.', g.connections)
  return lines.join('\n') + '\n'
}

function fmt (v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(6)
}

/** `HOST:PORT` with a loopback HOST (127.0.0.1, ::1 in brackets, localhost); anything else is refused. */
export function parseMetricsListen (spec: string): { host: string, port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(spec)
  const host = m?.[1] ?? m?.[2]
  const port = Number(m?.[3])
  if (m === null || host === undefined || !Number.isInteger(port) || port > 65535) {
    throw new MetricsError('BAD_ADDRESS', `The metrics address ${JSON.stringify(spec)} is not HOST:PORT (for example 127.0.0.1:9464).`)
  }
  if (!isLoopback(host)) {
    throw new MetricsError('NOT_LOOPBACK', `The metrics endpoint listens on loopback only (127.0.0.1:PORT); ${host} is not. Scrape it from the same host or through an SSH tunnel.`)
  }
  return { host, port }
}

export interface MetricsServer {
  /** http://HOST:PORT (the port chosen, when 0 was asked). */
  readonly url: string
  close(): Promise<void>
}

/** Bound on one scrape connection: the answer is computed in memory at once. */
const METRICS_REQUEST_TIMEOUT_MS = 10_000

export async function startMetricsServer (o: { listen: string, read: () => string, healthy: () => boolean }): Promise<MetricsServer> {
  const { host, port } = parseMetricsListen(o.listen)
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end()
      return
    }
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' })
      res.end(req.method === 'HEAD' ? undefined : o.read())
      return
    }
    if (path === '/healthz') {
      const ok = o.healthy()
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' })
      res.end(ok ? 'ok\n' : 'stopping\n')
      return
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Try /metrics or /healthz.\n')
  })
  server.requestTimeout = METRICS_REQUEST_TIMEOUT_MS
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => { server.off('error', reject); resolve() })
  })
  const addr = server.address()
  const bound = typeof addr === 'object' && addr !== null ? addr.port : port
  const shown = host.includes(':') ? `[${host}]` : host
  return {
    url: `http://${shown}:${bound}`,
    async close () {
      server.closeAllConnections()
      await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
    }
  }
}
