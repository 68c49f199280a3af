// The centralized baseline: what a centralized messenger does, built only to compare with. A WebSocket
// server (ws) over TLS forwards opaque envelopes between named clients; each client does the same
// end-to-end work as a device (encrypt, store durably, decrypt, store, receipt) through an Endpoint. TLS
// is there because the product's transport encrypts too (Noise): the comparison is about architecture.
import { WebSocketServer, WebSocket } from 'ws'
import { createServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TlsIdentity } from './tls.ts'

/** The end-to-end work one side does; the product's (Device.seal/openEnvelope + store) or raw libsignal. */
export interface Endpoint {
  /** Stores the outgoing text durably and returns its id and the envelope to send. */
  sendText: (text: string) => Promise<{ id: string, envelope: Uint8Array }>
  /** Opens an incoming envelope, stores what it must; a text yields the receipt envelope to send back. */
  receive: (envelope: Uint8Array) => Promise<{ kind: 'text', receipt: Uint8Array } | { kind: 'receipt', ids: string[] }>
  close: () => Promise<void>
}

export interface Relay {
  readonly url: string
  close: () => Promise<void>
}

/** Frame: nameLength(1) | recipient name | envelope. The server rewrites nothing but the name. */
function frame (to: string, envelope: Uint8Array): Buffer {
  const name = Buffer.from(to, 'utf8')
  return Buffer.concat([Buffer.from([name.length]), name, envelope])
}

function unframe (data: Buffer): { name: string, envelope: Buffer } {
  const n = data[0] ?? 0
  return { name: data.subarray(1, 1 + n).toString('utf8'), envelope: data.subarray(1 + n) }
}

export async function startCentralServer (tls: TlsIdentity): Promise<Relay> {
  const https = createServer({ key: tls.key, cert: tls.cert })
  const wss = new WebSocketServer({ server: https })
  const clients = new Map<string, WebSocket>()
  wss.on('connection', (ws, req) => {
    const name = new URL(req.url ?? '/', 'http://x').searchParams.get('name') ?? ''
    clients.set(name, ws)
    ws.on('message', (data: Buffer) => {
      const { name: to, envelope } = unframe(data)
      // Forwarded with the sender's name in place of the recipient's: what a server that knows both does.
      clients.get(to)?.send(frame(name, envelope))
    })
    ws.on('close', () => { if (clients.get(name) === ws) clients.delete(name) })
  })
  await new Promise<void>((resolve) => { https.listen(0, '127.0.0.1', resolve) })
  const port = (https.address() as AddressInfo).port
  return {
    url: `wss://127.0.0.1:${port}`,
    close: async () => {
      for (const c of wss.clients) c.terminate()
      await new Promise<void>((resolve) => { wss.close(() => { resolve() }) })
      await new Promise<void>((resolve) => { https.close(() => { resolve() }) })
    }
  }
}

export interface CentralClient {
  /** Sends one text; resolves when its delivered receipt has come back and been processed. */
  send: (text: string) => Promise<void>
  close: () => Promise<void>
}

/** A client that sends as `name` to `peer`, answering incoming texts with receipts; it trusts only `ca`. */
export async function connectClient (url: string, name: string, peer: string, endpoint: Endpoint, ca: string): Promise<CentralClient> {
  const ws = new WebSocket(`${url}/?name=${encodeURIComponent(name)}`, { ca })
  ws.binaryType = 'nodebuffer'
  await new Promise<void>((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  const pending = new Map<string, () => void>()
  // One operation at a time per client, sends and receipts alike: a libsignal session is read, advanced
  // and written back by each encrypt and decrypt, so two at once would lose an update.
  let chain: Promise<unknown> = Promise.resolve()
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = chain.then(fn)
    chain = p.catch(() => {})
    return p
  }
  ws.on('message', (data: Buffer) => {
    const { envelope } = unframe(data)
    serial(async () => {
      const r = await endpoint.receive(envelope)
      if (r.kind === 'text') ws.send(frame(peer, r.receipt))
      else for (const id of r.ids) { pending.get(id)?.(); pending.delete(id) }
    }).catch((err: unknown) => { ws.emit('error', err) })
  })
  return {
    send: async (text) => {
      let done!: () => void
      const delivered = new Promise<void>((resolve) => { done = resolve })
      await serial(async () => {
        const { id, envelope } = await endpoint.sendText(text)
        pending.set(id, done)
        ws.send(frame(peer, envelope))
      })
      await delivered
    },
    close: async () => {
      ws.close()
      await chain
      await endpoint.close()
    }
  }
}
