// Centralized-baseline endpoints doing the product's per-message work: Device.seal/openEnvelope (libsignal,
// sealing, padding) and the messenger's store writes (conversation seq, message row, outbox row, states,
// duplicate filter) through src/messenger/history.ts on the Device's own SQLCipher database.
import type { Device } from '../../src/e2ee/device.ts'
import { createHash, randomBytes } from 'node:crypto'
import { History } from '../../src/messenger/history.ts'
import type { Endpoint } from './central.ts'
import { textPayload } from './devices.ts'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

export function productEndpoint (device: Device, contactId: string): Endpoint {
  const history = new History(device.db)
  // The product's commits, no more: one per send (sequence number, ratchet step, message and outbox row),
  // one per text received (ratchet step, duplicate filter, message, and the receipt's own ratchet step), one
  // per receipt received (ratchet step, duplicate filter, outbox row removed, state). Separate commits for
  // each of these would slow this baseline and flatter the product's ratio.
  return {
    sendText: async (text) => {
      const now = Date.now()
      const seq = history.peekSeq(contactId)
      const payload = textPayload(seq, text)
      const id = hex(payload.id)
      const envelope = await device.seal(contactId, payload, {
        store: (sealed) => { history.queueOutgoing({ contactId, id, seq, text, at: now, envelope: sealed, expiresAt: now + 86_400_000 }) }
      })
      return { id, envelope }
    },
    receive: async (envelope) => {
      const hash = createHash('sha256').update(envelope).digest()
      const now = Date.now()
      let receipt: Uint8Array | undefined
      let ids: string[] = []
      const opened = await device.batch(async (b) => {
        const o = await b.open(envelope, {
          store: ({ payload }) => {
            if (payload.kind === 'text') {
              const id = hex(payload.id)
              history.rememberEnvelope(hash, contactId, id, now)
              history.receive({ contactId, id, seq: payload.seq, text: payload.text, sentAt: payload.sentAt, at: now, path: 'direct' })
            } else if (payload.kind === 'receipt') {
              history.rememberEnvelope(hash, contactId, null, now)
              ids = payload.ids.map(hex)
              for (const id of ids) {
                history.removeOutbox(contactId, id)
                history.advance(contactId, id, 'delivered')
              }
            }
          }
        })
        if (o.payload.kind === 'text') {
          receipt = await b.seal(contactId, { kind: 'receipt', id: new Uint8Array(randomBytes(16)), seq: 0, type: 'delivered', ids: [o.payload.id] })
        }
        return o
      })
      if (opened.payload.kind === 'text') return { kind: 'text', receipt: receipt as Uint8Array }
      if (opened.payload.kind !== 'receipt') throw new Error(`unexpected ${opened.payload.kind} payload`)
      return { kind: 'receipt', ids }
    },
    close: async () => { device.close() }
  }
}
