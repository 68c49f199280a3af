// Centralized-baseline endpoints doing the product's per-message work: Device.seal/openEnvelope (libsignal,
// sealing, padding) and the messenger's store writes (conversation seq, message row, outbox row, states)
// through src/store/messages.ts on the Device's own SQLCipher database, with its own pragmas.
import type { Device } from '../../src/e2ee/device.ts'
import { ConversationRepository, MessageRepository, OutboxRepository } from '../../src/store/messages.ts'
import type { BenchContext } from '../harness.ts'
import type { Endpoint } from './central.ts'
import { devicePair, textPayload } from './devices.ts'
import { randomBytes } from 'node:crypto'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

function endpoint (device: Device, contactId: string): Endpoint {
  const conversations = new ConversationRepository(device.db)
  const messages = new MessageRepository(device.db)
  const outbox = new OutboxRepository(device.db)
  return {
    sendText: async (text) => {
      const now = Date.now()
      const seq = conversations.takeOutSeq(contactId, now)
      const payload = textPayload(seq, text)
      const id = hex(payload.id)
      messages.insert({ id, contactId, direction: 'out', seq, text, state: 'queued', at: now })
      const envelope = await device.seal(contactId, payload)
      outbox.add({ messageId: id, contactId, envelope, nextAttemptAt: now, expiresAt: now + 86_400_000, createdAt: now })
      return { id, envelope }
    },
    receive: async (envelope) => {
      const { payload } = await device.openEnvelope(envelope)
      if (payload.kind === 'text') {
        conversations.noteIncoming(contactId, payload.seq, Date.now())
        messages.insert({ id: hex(payload.id), contactId, direction: 'in', seq: payload.seq, text: payload.text, state: 'delivered', at: Date.now(), sentAt: payload.sentAt })
        const receipt = await device.seal(contactId, { kind: 'receipt', id: new Uint8Array(randomBytes(16)), seq: 0, type: 'delivered', ids: [payload.id] })
        return { kind: 'text', receipt }
      }
      if (payload.kind !== 'receipt') throw new Error(`unexpected ${payload.kind} payload`)
      const ids = payload.ids.map(hex)
      for (const id of ids) {
        messages.advance(contactId, 'out', id, 'delivered')
        outbox.remove(contactId, id)
      }
      return { kind: 'receipt', ids }
    },
    close: async () => { device.close() }
  }
}

export async function productEndpointPair (dir: string, _ctx: BenchContext): Promise<[Endpoint, Endpoint] | undefined> {
  const { a, b, aToB, bToA } = await devicePair(dir)
  return [endpoint(a, aToB), endpoint(b, bToA)]
}
