// Two devices in temporary directories, introduced through an invite: the shared setup of e2ee tests.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Device } from '../../src/e2ee/device.ts'
import type { Payload } from '../../src/wire/payload.ts'

export interface Pair {
  dir: string
  alice: Device
  bob: Device
  /** Alice's contact id for Bob, Bob's for Alice. */
  aliceToBob: string
  bobToAlice: string
}

export function tempDir (t: { after: (fn: () => void) => void }, prefix = '0m1-e2ee-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/**
 * Alice invites, Bob accepts, Alice opens Bob's first envelope (his card), then (unless `inviterCard` is false)
 * Bob opens Alice's first card, which moves him to her fresh mailbox and presence keys, as the messenger does.
 */
export async function pair (t: { after: (fn: () => void) => void }, o: { now?: () => number, inviterCard?: boolean } = {}): Promise<Pair & { invite: string }> {
  const dir = tempDir(t)
  const clock = o.now !== undefined ? { now: o.now } : {}
  const alice = await Device.create(join(dir, 'alice'), { name: 'Alice Example', ...clock })
  const bob = await Device.create(join(dir, 'bob'), { name: 'Bob Example', ...clock })
  const p = { dir, alice, bob, aliceToBob: '', bobToAlice: '', invite: '' }
  t.after(() => { p.alice.close(); p.bob.close() })
  const invite = await alice.createInvite({ relays: ['/ip4/127.0.0.1/tcp/4001/p2p/relayA'], addresses: [] })
  const accepted = await bob.acceptInvite(invite.link, { card: { relays: ['/ip4/127.0.0.1/tcp/4002/p2p/relayB'], addresses: [] } })
  const opened = await alice.openEnvelope(accepted.envelope)
  p.aliceToBob = opened.contact.id
  p.bobToAlice = accepted.contact.id
  p.invite = invite.link
  if (o.inviterCard !== false) {
    await bob.openEnvelope(await alice.seal(p.aliceToBob, alice.myCard(p.aliceToBob, { relays: ['/ip4/127.0.0.1/tcp/4001/p2p/relayA'], addresses: [], peerId: ALICE_PEER_ID })))
  }
  return p
}

/** The peer id Alice's cards name (presence records must name it). */
export const ALICE_PEER_ID = '12D3KooWAliceExamplePeerId'

export function text (seq: number, body: string): Payload & { kind: 'text' } {
  return { kind: 'text', id: new Uint8Array(randomBytes(16)), seq, sentAt: 1_700_000_000_000 + seq, text: body }
}
