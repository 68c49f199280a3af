// What a relay or DHT server sees on its connections, for tests that assert what observers learn: every inbound
// stream of a protocol with the remote peer id and address. Wraps the handler libp2p already has registered.
import type { Connection, Libp2p, Stream } from '@libp2p/interface'

export interface SeenStream {
  readonly protocol: string
  readonly remotePeer: string
  readonly remoteAddr: string
}

interface RegistrarLike { getHandler: (p: string) => { handler: (s: Stream, c: Connection) => unknown } }

/** Records each inbound stream of `protocol` on `node` into `into` (the handler keeps working as before). */
export function watchInbound (node: Libp2p, protocol: string, into: SeenStream[]): void {
  const registrar = (node as unknown as { components: { registrar: RegistrarLike } }).components.registrar
  const entry = registrar.getHandler(protocol)
  const original = entry.handler
  entry.handler = (stream, connection) => {
    into.push({ protocol, remotePeer: connection.remotePeer.toString(), remoteAddr: connection.remoteAddr.toString() })
    return original(stream, connection)
  }
}
