// Two real messengers (e2ee Device with libsignal and SQLCipher, History on the same store) joined by
// an in-process network double: deliver() hands the envelope straight to the other side's handler, and
// one relay mailbox per side holds deposits. For counting the store's work per message (commits,
// statements) without libp2p's cost and noise; the real network is tested in test/net and test/messenger.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Device } from '../../src/e2ee/device.ts'
import { History } from '../../src/messenger/history.ts'
import { MessengerCore } from '../../src/messenger/messenger.ts'
import type { InboundMailbox, MailboxSessionPort, NetworkPort } from '../../src/messenger/ports.ts'
import type { MessageView, SettingsView } from '../../src/messenger/types.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import type { Database } from '../../src/store/db.ts'

const RELAY = '/memory/relay'

/** Counts the commits of a database: SQLite calls the WAL hook once per committed write transaction. */
export function countCommits (db: Database): { readonly count: number, reset: () => void } {
  const counter = { count: 0, reset: () => { counter.count = 0 } }
  db.setWalHook(() => { counter.count++ })
  return counter
}

export interface Side {
  readonly device: Device
  readonly history: History
  readonly core: MessengerCore
  /** This side's contact id for the other side. */
  readonly contactId: string
  readonly commits: { readonly count: number, reset: () => void }
}

type Handler = (envelope: Uint8Array, info: { path: 'direct' | 'relayed' }) => Promise<void>

/** A NetworkPort double: direct delivery to the other side's handler; no relays reachable. */
class LoopNet implements NetworkPort {
  readonly peerId: string
  handler: Handler | undefined
  peer: LoopNet | undefined
  online = true
  constructor (peerId: string) { this.peerId = peerId }
  addresses (): string[] { return [] }
  onEnvelope (h: Handler): void { this.handler = h }
  async deliver (_to: { peerId: string }, envelope: Uint8Array): Promise<'direct'> {
    const h = this.peer?.handler
    if (h === undefined || this.peer?.online !== true) throw new Error('unreachable')
    await h(envelope, { path: 'direct' })
    return 'direct'
  }

  async deposit (): Promise<void> { throw new Error('no relay') }
  async openMailbox (_relay: string, _box: InboundMailbox): Promise<MailboxSessionPort> { throw new Error('no relay') }
}

export async function twoMessengers (): Promise<{ a: Side, b: Side, close: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), '0m1-two-'))
  const settings: SettingsView = { relayOnly: false, lanDiscovery: false, fetchIsolation: 'device', relays: [RELAY] }
  const alice = await Device.create(join(dir, 'alice'), { name: 'alice', synchronous: 'NORMAL' })
  const bob = await Device.create(join(dir, 'bob'), { name: 'bob', synchronous: 'NORMAL' })
  const invite = await alice.createInvite({ relays: [RELAY], addresses: [], peerId: 'alice' })
  const accepted = await bob.acceptInvite(invite.link, { card: { relays: [RELAY], addresses: [], peerId: 'bob' } })
  const opened = await alice.openEnvelope(accepted.envelope)
  const netA = new LoopNet('alice')
  const netB = new LoopNet('bob')
  netA.peer = netB
  netB.peer = netA
  const side = (device: Device, net: LoopNet, contactId: string): Side => {
    const history = new History(device.db)
    const core = new MessengerCore({ device, history, net, logger: silentLogger, settings: () => settings })
    return { device, history, core, contactId, commits: countCommits(device.db) }
  }
  const a = side(alice, netA, opened.contact.id)
  const b = side(bob, netB, accepted.contact.id)
  // start() opens mailboxes (none reachable here: they fail and retry later, which costs no commits).
  await a.core.start()
  await b.core.start()
  return {
    a,
    b,
    close: async () => {
      await a.core.stop()
      await b.core.stop()
      alice.close()
      bob.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** Resolves when `side` sees message `id` reach `state` (subscribed before looking, so no event slips between). */
export async function stateReached (side: Side, id: string, state: MessageView['state']): Promise<void> {
  let off = (): void => {}
  const seen = new Promise<void>((resolve) => {
    off = side.core.subscribe((e) => {
      if (e.type === 'message-state' && e.message.id === id && e.message.state === state) resolve()
    })
  })
  try {
    const now = side.history.message(side.contactId, 'out', id)
    if (now?.state !== state) await seen
  } finally {
    off()
  }
}
