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
  return {
    sendText: async (text) => {
      const now = Date.now()
      const seq = history.nextSeq(contactId, now)
      const payload = textPayload(seq, text)
      const id = hex(payload.id)
      const envelope = await device.seal(contactId, payload)
      history.queueOutgoing({ contactId, id, seq, text, at: now, envelope, expiresAt: now + 86_400_000 })
      return { id, envelope }
    },
    receive: async (envelope) => {
      const hash = createHash('sha256').update(envelope).digest()
      const { payload } = await device.openEnvelope(envelope)
      const now = Date.now()
      if (payload.kind === 'text') {
        const id = hex(payload.id)
        history.transaction(() => {
          history.rememberEnvelope(hash, contactId, id, now)
          history.receive({ contactId, id, seq: payload.seq, text: payload.text, sentAt: payload.sentAt, at: now, path: 'direct' })
        })
        const receipt = await device.seal(contactId, { kind: 'receipt', id: new Uint8Array(randomBytes(16)), seq: 0, type: 'delivered', ids: [payload.id] })
        return { kind: 'text', receipt }
      }
      if (payload.kind !== 'receipt') throw new Error(`unexpected ${payload.kind} payload`)
      history.rememberEnvelope(hash, contactId, null, now)
      const ids = payload.ids.map(hex)
      for (const id of ids) {
        history.removeOutbox(contactId, id)
        history.advance(contactId, id, 'delivered')
      }
      return { kind: 'receipt', ids }
    },
    close: async () => { device.close() }
  }
}
