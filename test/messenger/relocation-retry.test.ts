// Issue 16: a contact's card naming new relays makes my outbox for it go again at once, to the new relays, also for
// the row whose attempt was in flight when the card came (it deposited on the old relays: without this, the attempt's
// reschedule put the row back to STORED_RETRY_MS, 5 minutes, or to a backoff of up to a minute, over the retry the
// card asked for; a message sent as the contact's relays died waited that long, or was lost with a relay that took
// the copy and died before the contact fetched it).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { twoMessengers } from '../helpers/two-messengers.ts'
import { waitFor } from '../helpers/wait.ts'
import { STORED_RETRY_MS } from '../../src/messenger/backoff.ts'
import { PRESENCE_LOOKUP_INTERVAL_MS } from '../../src/messenger/messenger.ts'
import { presenceDay } from '../../src/e2ee/presence.ts'

const OLD = '/memory/relay'
const NEW = '/memory/new-relay'

test('a card naming new relays that comes while a copy is being deposited on the old ones makes that copy go to the new ones now', { timeout: 30_000 }, async (t) => {
  const w = await twoMessengers()
  t.after(async () => { await w.close() })
  // Each core announces its card once after start (CARD_DEBOUNCE_MS): both handed over before the test begins, so no
  // card but the test's comes meanwhile.
  for (const side of [w.a, w.b]) {
    await waitFor(async () => side.history.setting('announced-card') !== undefined && (await side.core.status()).outbox === 0, 'the start-up cards are handed over')
  }
  // Bob is reachable only through his mailboxes; alice's deposit on his old relay waits until the test lets it end,
  // then the relay acknowledges the copy and loses it (it dies before bob fetched it).
  w.b.net.online = false
  // Every deposit alice makes, by relay: the text's copy is the one held on the old relay (alice also deposits
  // other rows for bob, e.g. a receipt of his card).
  const deposits: Array<{ relay: string, envelope: Uint8Array }> = []
  let entered: () => void = () => {}
  const depositing = new Promise<void>((resolve) => { entered = resolve })
  let release: () => void = () => {}
  const released = new Promise<void>((resolve) => { release = resolve })
  const deposit = w.a.net.deposit.bind(w.a.net)
  w.a.net.deposit = async (relay, mailboxId, envelope) => {
    deposits.push({ relay, envelope })
    if (relay !== OLD) { await deposit(relay, mailboxId, envelope); return }
    entered()
    await released
  }

  const sent = await w.a.core.send(w.a.contactId, 'sent as your relays were dying')
  await depositing
  // Bob's card naming his new relay, sealed in his session, reaches alice while her attempt is in flight.
  const card = await w.b.device.seal(w.b.contactId, { ...w.b.device.myCard(w.b.contactId, { relays: [NEW], addresses: [], peerId: 'bob' }), id: randomBytes(16) })
  await w.a.core.receiveEnvelope(card, 'mailbox')
  assert.deepEqual(w.a.device.contact(w.a.contactId)?.theirRelays, [NEW], 'alice stored bob\'s new relays')
  assert.deepEqual(deposits.map((d) => d.relay), [OLD], 'the card came while the only attempt so far was depositing on the old relay')
  const text = (deposits[0] as { envelope: Uint8Array }).envelope
  const relaysOfText = (): string[] => deposits.filter((d) => Buffer.from(d.envelope).equals(text)).map((d) => d.relay)
  release()

  // The old relay acknowledged the copy (one copy of the one wanted: the next attempt would wait STORED_RETRY_MS);
  // the card makes the row go again now, to the new relay, and bob gets the message from there.
  await waitFor(() => relaysOfText().includes(NEW), () => `alice deposits the text on bob's new relay well before STORED_RETRY_MS (${STORED_RETRY_MS} ms); its deposits so far: ${relaysOfText().join(', ')}`, 10_000)
  await waitFor(() => w.b.history.message(w.b.contactId, 'in', sent.id), 'bob gets the text from his new relay', 10_000)
})

test('a contact no path reaches is looked up again within seconds, not a minute: its presence is all that tells where it moved when its card cannot reach us', { timeout: 30_000 }, async (t) => {
  const w = await twoMessengers()
  t.after(async () => { await w.close() })
  for (const side of [w.a, w.b]) {
    await waitFor(async () => side.history.setting('announced-card') !== undefined && (await side.core.status()).outbox === 0, 'the start-up cards are handed over')
  }
  // Bob's relays died, and they were alice's too: no deposit succeeds and his card cannot reach her. He is reachable
  // only at the address his new presence record gives.
  const MOVED = '/memory/bob-moved'
  w.a.net.deposit = async () => { throw new Error('relay down') }
  const deliver = w.a.net.deliver.bind(w.a.net)
  w.a.net.deliver = async (to, envelope, o) => {
    if (!(to as { addresses?: readonly string[] }).addresses?.includes(MOVED)) throw new Error('unreachable')
    return await deliver(to, envelope, o)
  }
  const bobs: { record?: Uint8Array } = {}
  const lookups: number[] = []
  // The loop network has no DHT: alice's gets this one, which finds nothing until bob publishes.
  Object.assign(w.a.net, { lookupPresence: async (): Promise<Uint8Array | undefined> => { lookups.push(Date.now()); return bobs.record } })

  const sent = await w.a.core.send(w.a.contactId, 'sent as our relays died')
  await waitFor(() => lookups.length > 0, 'alice looks bob up after the first failed attempt')
  // Bob has moved (his keeper picked new relays) and published where he is now, after her first lookup.
  bobs.record = w.b.device.sealPresence(w.b.contactId, presenceDay(Date.now()), { peerId: 'bob', addresses: [MOVED], updatedAt: Date.now() })
  await waitFor(() => w.b.history.message(w.b.contactId, 'in', sent.id), () => `bob gets the text well before PRESENCE_LOOKUP_INTERVAL_MS (${PRESENCE_LOOKUP_INTERVAL_MS} ms); lookups so far: ${lookups.length}`, 20_000)
})

test('a contact reached and missed in turn is not looked up on every miss: a path that reaches it starts a new burst of lookups only a minute after the last began', { timeout: 30_000 }, async (t) => {
  const w = await twoMessengers()
  t.after(async () => { await w.close() })
  for (const side of [w.a, w.b]) {
    await waitFor(async () => side.history.setting('announced-card') !== undefined && (await side.core.status()).outbox === 0, 'the start-up cards are handed over')
  }
  // Every other network attempt reaches bob (a flaky link, or a contact that answers and drops at will).
  let calls = 0
  const deliver = w.a.net.deliver.bind(w.a.net)
  w.a.net.deliver = async (to, envelope, o) => {
    if (calls++ % 2 === 1) throw new Error('unreachable')
    return await deliver(to, envelope, o)
  }
  const lookups: number[] = []
  Object.assign(w.a.net, { lookupPresence: async (): Promise<Uint8Array | undefined> => { lookups.push(Date.now()); return undefined } })
  const start = Date.now()
  for (let i = 0; i < 24; i++) {
    await w.a.core.send(w.a.contactId, `message ${i}`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  const window = Date.now() - start
  assert.ok(calls >= 20, `alice's attempts reached bob and missed him in turn (${calls} attempts)`)
  // Lookups at 0, 2, 6, 14 s ... of one burst, whatever the successes between (a lookup that finds nothing gets
  // today's key and yesterday's): 3 lookups in ~6 s, more only if the machine stretched the window.
  const most = 2 * (1 + Math.floor(Math.log2(window / 2000 + 1)))
  assert.ok(lookups.length <= most, `${lookups.length} gets in ${window} ms of ${calls} attempts, at most ${most} (PRESENCE_LOOKUP_MIN_MS doubling)`)
})

test('a presence record that names where the contact already is moves nothing: the copy stored on its relay is not deposited again', { timeout: 30_000 }, async (t) => {
  const w = await twoMessengers()
  t.after(async () => { await w.close() })
  for (const side of [w.a, w.b]) {
    await waitFor(async () => side.history.setting('announced-card') !== undefined && (await side.core.status()).outbox === 0, 'the start-up cards are handed over')
  }
  w.b.net.online = false
  const deposits: Uint8Array[] = []
  // Bob's relay acknowledges every copy and keeps none (bob sends no receipt): the text stays stored, its next
  // attempt STORED_RETRY_MS away unless bob moved.
  let stored: () => void = () => {}
  const storing = new Promise<void>((resolve) => { stored = resolve })
  w.a.net.deposit = async (_relay, _mailboxId, envelope) => { deposits.push(envelope); setTimeout(stored, 200) }
  const bob = w.a.device.contact(w.a.contactId)
  assert.ok(bob !== undefined)
  // Bob's record, not seen before by this process, names the peer id and addresses of his card.
  const record = w.b.device.sealPresence(w.b.contactId, presenceDay(Date.now()), { peerId: bob.theirPeerId ?? 'bob', addresses: [...bob.theirAddresses], updatedAt: Date.now() })
  const lookups: number[] = []
  // The lookup answers once the attempt has stored the copy (a DHT get takes longer than a deposit).
  Object.assign(w.a.net, { lookupPresence: async (): Promise<Uint8Array | undefined> => { lookups.push(Date.now()); await storing; return record } })
  const sent = await w.a.core.send(w.a.contactId, 'stored on your relay')
  await waitFor(() => lookups.length > 0 && w.a.history.message(w.a.contactId, 'out', sent.id)?.state === 'stored', () => `alice stores the text on bob's relay and looks him up (${lookups.length} lookups, ${w.a.history.message(w.a.contactId, 'out', sent.id)?.state}, ${deposits.length} deposits)`)
  const text = deposits[deposits.length - 1] as Uint8Array
  await new Promise((resolve) => setTimeout(resolve, 1_500))
  assert.equal(deposits.filter((d) => Buffer.from(d).equals(text)).length, 1, 'the text is deposited once: the record changed nothing')
})

test('a receipt being deposited on the old relays when a card naming new ones comes is deposited on the new ones too', { timeout: 30_000 }, async (t) => {
  const w = await twoMessengers()
  t.after(async () => { await w.close() })
  for (const side of [w.a, w.b]) {
    await waitFor(async () => side.history.setting('announced-card') !== undefined && (await side.core.status()).outbox === 0, 'the start-up cards are handed over')
  }
  // Bob reaches alice, alice reaches bob only through his mailboxes: her receipt of his text goes to his old relay,
  // which acknowledges it once the test lets it and loses it.
  w.b.net.online = false
  const deposits: Array<{ relay: string, envelope: Uint8Array }> = []
  let entered: () => void = () => {}
  const depositing = new Promise<void>((resolve) => { entered = resolve })
  let release: () => void = () => {}
  const released = new Promise<void>((resolve) => { release = resolve })
  const deposit = w.a.net.deposit.bind(w.a.net)
  w.a.net.deposit = async (relay, mailboxId, envelope) => {
    deposits.push({ relay, envelope })
    if (relay !== OLD) { await deposit(relay, mailboxId, envelope); return }
    entered()
    await released
  }
  const sent = await w.b.core.send(w.b.contactId, 'tell me you got it')
  await depositing
  const card = await w.b.device.seal(w.b.contactId, { ...w.b.device.myCard(w.b.contactId, { relays: [NEW], addresses: [], peerId: 'bob' }), id: randomBytes(16) })
  await w.a.core.receiveEnvelope(card, 'mailbox')
  assert.deepEqual(deposits.map((d) => d.relay), [OLD], 'the card came while alice\'s receipt was being deposited on the old relay')
  const receipt = (deposits[0] as { envelope: Uint8Array }).envelope
  release()
  // One copy on the one relay wanted: without the card the receipt would be done; it goes to the new relay now.
  await waitFor(() => deposits.some((d) => d.relay === NEW && Buffer.from(d.envelope).equals(receipt)), 'alice deposits the receipt on bob\'s new relay', 10_000)
  await waitFor(() => w.b.history.message(w.b.contactId, 'out', sent.id)?.state === 'delivered', 'bob learns his text was delivered', 10_000)
})
