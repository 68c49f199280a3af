// A hostile (or just plain) mailbox client for abuse tests: a bare libp2p node that speaks
// /0m1/mailbox/2.0.0 with frames it builds itself, so tests can send what a real device never would.
import { createLibp2p } from 'libp2p'
import type { Libp2p } from 'libp2p'
import type { Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { refusedEnvelope } from '../../src/net/mailbox-deposit.ts'
import { MAILBOX_PROTOCOL, MAX_RELAY_FRAME_BYTES, decodeRelayFrame, encodeClientFrame, type RelayFrame } from '../../src/wire/mailbox.ts'

/** Bound on one request in these tests. */
export const REQUEST_TIMEOUT_MS = 15_000

export async function bareNode (): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() }
  })
}

export interface MailboxConn {
  readonly stream: Stream
  deposit: (mailboxId: Uint8Array, envelope: Uint8Array) => Promise<RelayFrame>
  /** Sends raw bytes as one length-prefixed frame and reads one answer. */
  request: (frame: Uint8Array) => Promise<RelayFrame>
  close: () => Promise<void>
}

/** A one-envelope deposit's answer, as the tests read it: 'ok' when stored, else an error frame with the reason. */
function oneDeposit (f: RelayFrame): RelayFrame {
  if (f.type !== 'deposited') return f
  const st = f.statuses[0]
  if (st === 'stored') return { type: 'ok', reqId: f.reqId, count: 1 }
  const reason = st ?? 'INTERNAL'
  return { type: 'error', reqId: f.reqId, reason, message: refusedEnvelope(reason).message }
}

export async function openMailboxStream (node: Libp2p, relayAddr: string): Promise<MailboxConn> {
  const stream = await node.dialProtocol(multiaddr(relayAddr), MAILBOX_PROTOCOL, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
  const lp = lpStream(stream, { maxDataLength: MAX_RELAY_FRAME_BYTES })
  let reqId = 1
  const request = async (frame: Uint8Array): Promise<RelayFrame> => {
    await lp.write(frame, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
    return decodeRelayFrame((await lp.read({ signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })).subarray())
  }
  return {
    stream,
    request,
    deposit: async (mailboxId, envelope) => oneDeposit(await request(encodeClientFrame({ type: 'deposit', reqId: reqId++, items: [{ mailboxId, envelope }] }))),
    close: async () => { await stream.close().catch(() => {}) }
  }
}
