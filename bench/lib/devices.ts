// Two product Devices (src/e2ee/device.ts) that know each other, made offline: a invites, b accepts, a opens
// b's first envelope, and one message each way confirms the sessions. No network involved.
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { Device, type Payload } from '../../src/e2ee/device.ts'
import { silentLogger } from '../../src/platform/logger.ts'

export function textPayload (seq: number, text: string): Payload {
  return { kind: 'text', id: new Uint8Array(randomBytes(16)), seq, sentAt: Date.now(), text }
}

export async function devicePair (dir: string): Promise<{ a: Device, b: Device, aToB: string, bToA: string }> {
  const a = await Device.create(join(dir, 'a'), { name: 'a', logger: silentLogger })
  const b = await Device.create(join(dir, 'b'), { name: 'b', logger: silentLogger })
  const invite = await a.createInvite({ relays: [], addresses: [] })
  const accepted = await b.acceptInvite(invite.link, { card: { relays: [], addresses: [] } })
  const opened = await a.openEnvelope(accepted.envelope)
  const aToB = opened.contact.id
  const bToA = accepted.contact.id
  await b.openEnvelope(await a.seal(aToB, textPayload(1, 'hi')))
  await a.openEnvelope(await b.seal(bToA, textPayload(1, 'hi')))
  return { a, b, aToB, bToA }
}
