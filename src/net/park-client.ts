// Device side of /0m1/park/1.0.0 (issue 13 short invites; frames: src/wire/parked-invite.ts): one stream per
// request to the relay named, one answer. Through the node's short-lived sending identity, like deposits.
import type { Libp2p } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { decodeParkAnswer, encodeParkRequest, MAX_PARK_FRAME_BYTES, PARK_PROTOCOL, type ParkAnswer, type ParkRequest } from '../wire/parked-invite.ts'
import { atStream } from './errors.ts'

/** Dial, one request, one answer: relays are support nodes on decent links. */
export const PARK_REQUEST_DEADLINE_MS = 15_000

export async function parkRequest (libp2p: Libp2p, relayAddr: string, req: ParkRequest, o: { signal?: AbortSignal | undefined } = {}): Promise<ParkAnswer> {
  const signal = o.signal ?? AbortSignal.timeout(PARK_REQUEST_DEADLINE_MS)
  const stream = await libp2p.dialProtocol(multiaddr(relayAddr), PARK_PROTOCOL, { signal })
  try {
    const lp = lpStream(stream, { maxDataLength: MAX_PARK_FRAME_BYTES })
    await lp.write(encodeParkRequest(req), { signal })
    const frame = (await lp.read({ signal })).subarray()
    const answer = atStream(() => decodeParkAnswer(frame, req.op === 'fetch'))
    await stream.close({ signal }).catch(() => {})
    return answer
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error('park failed'))
    throw err
  }
}
