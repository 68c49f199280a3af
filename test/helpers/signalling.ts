// Hand-made @libp2p/webrtc signalling messages, for tests that play a hostile or half-broken peer.

export const SDP_OFFER = 0
export const ICE_CANDIDATE = 2

/** protobuf Message { type = 1 (enum), data = 2 (string) }, as @libp2p/webrtc encodes it. */
export function message (type: number, data: string): Uint8Array {
  const body = Buffer.from(data, 'utf8')
  const len: number[] = []
  let n = body.length
  do { len.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0)); n >>>= 7 } while (n > 0)
  return new Uint8Array(Buffer.concat([Buffer.from([0x08, type, 0x12, ...len]), body]))
}

/** A real SDP offer from node-datachannel, with no ICE servers. */
export async function realOffer (): Promise<string> {
  // Loaded untyped: node-datachannel's polyfill declarations do not check against TypeScript's DOM lib.
  const polyfill = 'node-datachannel/polyfill'
  const { RTCPeerConnection: PC } = await import(polyfill) as { RTCPeerConnection: new (c: RTCConfiguration) => RTCPeerConnection }
  const pc = new PC({ iceServers: [] })
  pc.createDataChannel('x')
  const offer = await pc.createOffer()
  pc.close()
  return offer.sdp as string
}
