// One definition of "a loopback host" for every listener that must stay on this machine: the local API
// (src/api/checks.ts) and the relay's metrics endpoint (src/relay/metrics.ts).

export function isLoopback (host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}
