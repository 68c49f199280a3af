// Issue 10 (store work per message) and issue 14.3/14.4 on two real messengers (libsignal, SQLCipher)
// joined by an in-process network double (test/helpers/two-messengers.ts). Commits are counted by
// SQLite's WAL hook, which runs once per committed write transaction.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { E2eeError } from '../../src/e2ee/errors.ts'
import { DUPLICATE_RECEIPT_INTERVAL_MS, DuplicateAnswers, MAX_DUPLICATE_ANSWERS } from '../../src/messenger/receipts.ts'
import type { Payload } from '../../src/wire/payload.ts'
import type { DeviceBatchPort } from '../../src/messenger/ports.ts'
import type { MessageView } from '../../src/messenger/types.ts'
import { HoldClock, stateReached, twoMessengers, type TwoMessengers } from '../helpers/two-messengers.ts'
import { waitFor } from '../helpers/wait.ts'

const text = (seq: number, body: string): Payload => ({ kind: 'text', id: new Uint8Array(randomBytes(16)), seq, sentAt: Date.now(), text: body })

/** Both sides have announced their cards and have nothing left to send: what follows is the test's own work. */
async function quiet (w: TwoMessengers): Promise<void> {
  await waitFor(() => [w.a, w.b].every((s) => s.history.setting('announced-card') !== undefined && s.history.outboxSize() === 0), 'cards announced and outboxes empty')
}

/** Turns of the event loop: every microtask and setImmediate queued so far has run. */
async function turns (n = 3): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve))
}

/** No commit on either side for a few turns (the set-up's trailing work, e.g. a batch still in the device queue,
 * has ended): called with the clock held, what is counted after it is the test's own work. */
async function storesSettled (w: TwoMessengers): Promise<void> {
  await waitFor(async () => {
    w.a.commits.reset()
    w.b.commits.reset()
    await turns(5)
    return w.a.commits.count === 0 && w.b.commits.count === 0
  }, 'no commit for five turns')
}

test('one message and its receipt: the sender commits at most twice, the receiver once', async (t) => {
  // Only the messages' own commits are counted: no idle search indexing, and the time held still so no retry
  // (RECEIPT_WAIT_MS) or other timer adds one however slow the machine is.
  const clock = new HoldClock()
  const w = await twoMessengers({ clock, searchIdleMs: false })
  t.after(w.close)
  await quiet(w)
  const N = 20
  clock.hold()
  await storesSettled(w)
  w.a.commits.reset()
  w.b.commits.reset()
  for (let i = 0; i < N; i++) {
    const m = await w.a.core.send(w.a.contactId, `one at a time ${i}`)
    await stateReached(w.a, m.id, 'delivered')
  }
  console.log(`commits for ${N} messages one at a time: sender ${w.a.commits.count}, receiver ${w.b.commits.count}`)
  // Sender: sequence number + ratchet step + outbox row (1), the receipt's batch (1); 'sent' needs none.
  assert.ok(w.a.commits.count <= 2 * N, `sender: ${w.a.commits.count} commits for ${N} messages`)
  // Receiver: the message, its duplicate filter and the ratchet steps of the message and of its receipt.
  assert.ok(w.b.commits.count <= N, `receiver: ${w.b.commits.count} commits for ${N} messages`)
  const got = await w.b.core.messages(w.b.contactId)
  assert.equal(got.filter((m) => m.text.startsWith('one at a time')).length, N)
  // The 'sent' state kept in memory reaches the store with a later commit (here: at stop).
  await w.a.core.stop()
  assert.ok((await w.a.core.messages(w.a.contactId)).every((m) => m.state === 'delivered'))
})

test('a burst of sends is sealed in one commit; one that fails fails alone and takes no sequence number', async (t) => {
  const clock = new HoldClock()
  const w = await twoMessengers({ clock, searchIdleMs: false })
  t.after(w.close)
  await quiet(w)
  const N = 10
  // One text's seal is refused inside the batch (as the Device refuses a seal): only its send() rejects.
  const device = w.a.device as unknown as { batch: (fn: (b: DeviceBatchPort<Payload>) => Promise<unknown>, extra?: (r: unknown) => void) => Promise<unknown> }
  const batch = device.batch.bind(device)
  device.batch = async (fn, extra) => await batch(async (b) => await fn({
    open: b.open,
    seal: async (contactId, payload, o) => {
      if (payload.kind === 'text' && payload.text === 'burst 3') throw new Error('injected seal failure')
      return await b.seal(contactId, payload, o)
    }
  }), extra)
  // Bob takes the texts only once the burst's commit is counted: his receipts' commits at alice (a receive batch)
  // must not land in the count however the turns fall under load; and no timer runs meanwhile.
  clock.hold()
  await storesSettled(w)
  let open = (): void => {}
  const gate = new Promise<void>((resolve) => { open = resolve })
  const handler = w.b.net.handler
  assert.ok(handler !== undefined)
  w.b.net.handler = async (e, info) => { await gate; return await handler(e, info) }
  w.a.commits.reset()
  // Every call made in one turn, as a burst of sends from the UI or the API: one commit seals them all.
  const results = await Promise.allSettled(Array.from({ length: N }, async (_, i) => await w.a.core.send(w.a.contactId, `burst ${i}`)))
  assert.equal(w.a.commits.count, 1, 'the texts, their sequence numbers, ratchet steps and outbox rows in one commit')
  w.b.net.handler = handler
  open()
  clock.release()
  assert.deepEqual(results.map((r) => r.status), results.map((_, i) => i === 3 ? 'rejected' : 'fulfilled'))
  const refused = results[3]
  assert.ok(refused?.status === 'rejected' && (refused.reason as Error).message === 'injected seal failure')
  const sent = results.flatMap((r) => r.status === 'fulfilled' ? [r.value] : [])
  // Consecutive sequence numbers in call order: the refused one took none (no gap at the receiver).
  const first = (sent[0] as MessageView).seq
  assert.deepEqual(sent.map((m) => m.seq), sent.map((_, i) => first + i))
  for (const m of sent) await stateReached(w.a, m.id, 'delivered')
  const got = (await w.b.core.messages(w.b.contactId)).filter((m) => m.text.startsWith('burst '))
  assert.deepEqual(got.map((m) => m.text), sent.map((m) => m.text), 'every other text arrived, in order')
  assert.ok(got.every((m) => m.gapBefore === undefined), 'no gap at the receiver')
})

test('envelopes arriving together are opened in one commit; a bad one fails alone', async (t) => {
  const clock = new HoldClock()
  const w = await twoMessengers({ clock, searchIdleMs: false })
  t.after(w.close)
  await quiet(w)
  clock.hold()
  await storesSettled(w)
  const N = 12
  const envelopes: Uint8Array[] = []
  for (let i = 1; i <= N; i++) envelopes.push(await w.a.device.seal(w.a.contactId, text(i, `batch ${i}`)))
  const bad = new Uint8Array(envelopes[0] as Uint8Array)
  bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 1
  const all = [...envelopes.slice(0, 5), bad, ...envelopes.slice(5)]
  w.b.commits.reset()
  // As the transport does for pipelined frames: every call made before the first batch starts.
  const results = await Promise.allSettled(all.map(async (e) => { await w.b.core.receiveEnvelope(e, 'direct') }))
  assert.equal(w.b.commits.count, 1, 'one commit for the batch, its receipts included')
  assert.deepEqual(results.map((r) => r.status), all.map((e) => e === bad ? 'rejected' : 'fulfilled'))
  const refused = results[5]
  assert.ok(refused?.status === 'rejected' && E2eeError.is(refused.reason, 'TAMPERED'))
  const got = (await w.b.core.messages(w.b.contactId)).filter((m) => m.text.startsWith('batch '))
  assert.deepEqual(got.map((m) => m.seq), Array.from({ length: N }, (_, i) => i + 1))
  // The session goes on: the next message opens (a rolled-back savepoint left it whole).
  await w.b.core.receiveEnvelope(await w.a.device.seal(w.a.contactId, text(N + 1, 'after the batch')), 'direct')
  assert.equal((await w.b.core.messages(w.b.contactId)).filter((m) => m.text === 'after the batch').length, 1)
})

test('issue 14.3: N replays of a stored envelope are answered with at most one receipt per interval', async (t) => {
  let offset = 0
  // The time held still but for the offset, and no timer runs: no retry adds an envelope to those counted.
  const clock = new HoldClock()
  const w = await twoMessengers({ clock, now: () => clock.now() + offset })
  t.after(w.close)
  await quiet(w)
  clock.hold()
  await storesSettled(w)
  const envelope = await w.a.device.seal(w.a.contactId, text(1, 'replayed'))
  /** Receipts B handed to the network since `from` and before a barrier message of its own: B sends in order, so
   * once the barrier is delivered every receipt queued before it has gone; the barrier is the last envelope B sent.
   * `from` is taken before the receives: a receipt may leave in the commit's own turn, before the receive resolves. */
  const receiptsSince = async (from: number): Promise<number> => {
    const barrier = await w.b.core.send(w.b.contactId, 'barrier')
    await stateReached(w.b, barrier.id, 'delivered')
    return w.b.net.delivered.length - from - 1
  }
  let from = w.b.net.delivered.length
  await w.b.core.receiveEnvelope(envelope, 'mailbox')
  assert.equal(await receiptsSince(from), 1, 'the message stored is receipted')
  const REPLAYS = 25
  from = w.b.net.delivered.length
  for (let i = 0; i < REPLAYS; i++) await w.b.core.receiveEnvelope(envelope, 'mailbox')
  await Promise.all(Array.from({ length: REPLAYS }, async () => { await w.b.core.receiveEnvelope(envelope, 'mailbox') }))
  const first = await receiptsSince(from)
  assert.equal(first, 1, `${2 * REPLAYS} replays within the interval: one receipt (got ${first})`)
  offset += DUPLICATE_RECEIPT_INTERVAL_MS
  from = w.b.net.delivered.length
  for (let i = 0; i < REPLAYS; i++) await w.b.core.receiveEnvelope(envelope, 'mailbox')
  assert.equal(await receiptsSince(from), 1, 'one more after the interval')
  assert.equal((await w.b.core.messages(w.b.contactId)).filter((m) => m.text === 'replayed').length, 1)
  await turns()
})

const WAITS = `waits for room ${'.'.repeat(3000)}`

test('issue 14.4: a mailbox copy is kept on the relay when the store fails with SQLITE_FULL, and delivered later', async (t) => {
  const w = await twoMessengers()
  t.after(w.close)
  await quiet(w)
  const db = w.b.device.db
  const box = w.b.device.inboundMailboxes().find((m) => m.contactId === w.b.contactId && m.stopWhenEmpty !== true)
  assert.ok(box !== undefined)
  // A real full database: no page may be added, and what free space there was is filled.
  db.pragma(`max_page_count = ${Number(db.pragma('page_count', { simple: true }))}`)
  let junk = 0
  for (const size of [4000, 1000, 200, 40, 8]) {
    for (;;) {
      try {
        db.prepare('INSERT INTO settings (key, value) VALUES (?, ?)').run([`junk-${junk++}`, 'x'.repeat(size)])
      } catch (err) {
        assert.equal((err as { code?: string }).code, 'SQLITE_FULL')
        break
      }
    }
  }
  const failures: unknown[] = []
  const batch = w.b.device.batch.bind(w.b.device)
  w.b.device.batch = async (fn, extra) => {
    try {
      return await batch(fn, extra)
    } catch (err) {
      failures.push(err)
      throw err
    }
  }
  // A text longer than a page: storing it takes new pages whatever room the tables' own pages still have (a short
  // one may fit there, and a session record is rewritten in place, store migration 17).
  const envelope = await w.a.device.seal(w.a.contactId, text(1, WAITS))
  w.relay.deposit(box.mailboxId, envelope)
  await waitFor(() => failures.length > 0, 'the store refuses the pushed envelope')
  // SQLite rolls a transaction back itself on SQLITE_FULL; the driver's own ROLLBACK then fails with
  // SQLITE_ERROR and carries the SQLITE_FULL as its cause. Either way a coded error that is no E2eeError.
  const failure = failures[0] as { code?: string, message?: string, cause?: { code?: string } }
  console.log(`store failure: ${failure.code} (${failure.message}), cause ${failure.cause?.code}`)
  assert.ok(failure.code === 'SQLITE_FULL' || failure.cause?.code === 'SQLITE_FULL')
  await turns()
  assert.equal(w.relay.boxes.get(Buffer.from(box.mailboxId).toString('hex'))?.length, 1, 'the relay still holds the copy')
  assert.equal((await w.b.core.messages(w.b.contactId)).filter((m) => m.text === WAITS).length, 0)
  // Room again (the disk was cleaned up); the next fetch (here: sessions reopened) delivers it once.
  db.pragma('max_page_count = 1073741823')
  db.prepare("DELETE FROM settings WHERE key LIKE 'junk-%'").run()
  await w.b.core.replaceNetwork(w.b.net)
  await waitFor(async () => (await w.b.core.messages(w.b.contactId)).some((m) => m.text === WAITS), 'the copy is delivered after the store recovers')
  await waitFor(() => w.relay.boxes.get(Buffer.from(box.mailboxId).toString('hex'))?.length === 0, 'and then deleted from the relay')
  assert.equal((await w.b.core.messages(w.b.contactId)).filter((m) => m.text === WAITS).length, 1)
})

test('a read receipt whose commit fails is kept and sealed again later, not dropped', { timeout: 30_000 }, async (t) => {
  const w = await twoMessengers()
  t.after(w.close)
  await quiet(w)
  const m = await w.a.core.send(w.a.contactId, 'read me')
  await stateReached(w.a, m.id, 'delivered')
  // The next device batch of the receiver fails as a full store would (after its rows were written).
  let failures = 0
  const batch = w.b.device.batch.bind(w.b.device)
  w.b.device.batch = async (fn, extra) => {
    if (failures === 0) {
      failures++
      throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' })
    }
    return await batch(fn, extra)
  }
  await w.b.core.markRead(w.b.contactId)
  await waitFor(() => failures === 1, 'the receipt\'s commit fails once')
  // markRead will not ask again (the message is read): the kept receipt must still reach the sender.
  await stateReached(w.a, m.id, 'read')
})

test('issue 14.3: the duplicate limiter answers once per interval per message and forgets the oldest beyond its bound', () => {
  const d = new DuplicateAnswers()
  assert.equal(d.allow('m', 0), true)
  assert.equal(d.allow('m', DUPLICATE_RECEIPT_INTERVAL_MS - 1), false)
  assert.equal(d.allow('other', 1), true)
  assert.equal(d.allow('m', DUPLICATE_RECEIPT_INTERVAL_MS), true)
  for (let i = 0; i < MAX_DUPLICATE_ANSWERS + 10; i++) d.allow(`flood-${i}`, 5)
  assert.equal(d.size, MAX_DUPLICATE_ANSWERS)
  // The oldest were forgotten (answered once more, as an honest retry would be); the newest are kept.
  assert.equal(d.allow('other', 6), true)
  assert.equal(d.allow(`flood-${MAX_DUPLICATE_ANSWERS + 9}`, 6), false)
})

test('issue 10: a message received, one sent and its delivered ack open no savepoint inside their transactions', async (t) => {
  const w = await twoMessengers()
  t.after(w.close)
  await quiet(w)
  // Transactions opened inside another (the driver makes each a SAVEPOINT), per side.
  const nested = { a: 0, b: 0 }
  for (const [name, side] of [['a', w.a], ['b', w.b]] as const) {
    const db = side.device.db
    const transaction = db.transaction.bind(db)
    let depth = 0
    db.transaction = ((fn: (...a: never[]) => unknown) => transaction((...a: never[]) => {
      if (depth > 0) nested[name]++
      depth++
      try { return fn(...a) } finally { depth-- }
    })) as typeof db.transaction
  }
  await w.b.core.receiveEnvelope(await w.a.device.seal(w.a.contactId, text(1, 'received')), 'direct')
  assert.equal(nested.b, 0, 'the message is stored in the batch commit itself')
  // On a stream whose ack is the receipt: the message queued in the seal's commit, then the ack's commit.
  w.a.net.ackReceipts = true
  const sent = await w.a.core.send(w.a.contactId, 'sent')
  await stateReached(w.a, sent.id, 'delivered')
  assert.deepEqual(nested, { a: 0, b: 0 })
})
