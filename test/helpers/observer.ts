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

export interface SeenCircuit {
  /** The peer asking the relay for a circuit (HOP CONNECT). */
  readonly from: string
  /** The peer it asks to be connected to, as named in the request: its multihash, hex
   * (`peerIdFromString(id).toMultihash().bytes` of a known peer id compares with it). */
  readonly toMultihash: string
  readonly at: number
}

interface HopServerLike { handleConnect: (args: { request: { peer?: { id: Uint8Array } }, connection: Connection }, options?: unknown) => Promise<void> }

/** Records every circuit a relay is asked to open, successful or not (both ends' peer ids, as the relay reads them). */
export function watchCircuits (node: Libp2p, into: SeenCircuit[]): void {
  const server = (node as unknown as { services: { relay: HopServerLike } }).services.relay
  const original = server.handleConnect.bind(server)
  server.handleConnect = async (args, options) => {
    const id = args.request.peer?.id
    if (id !== undefined) into.push({ from: args.connection.remotePeer.toString(), toMultihash: Buffer.from(id).toString('hex'), at: Date.now() })
    await original(args, options)
  }
}
