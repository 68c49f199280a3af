// Raw libsignal: signalEncrypt + signalDecrypt of 100-byte texts on an established session, with in-memory
// stores that keep session objects (lean). Baseline of crypto.pipeline and of direct.throughput.
// Also the durable floor: the same, plus the one commit per encrypt and per decrypt that any durable
// messenger needs (the session record must be on disk before the ciphertext leaves or the next message is
// read), into SQLCipher as a device opens it (WAL, synchronous=NORMAL, its page size, the WAL checkpoint when it pauses). A product figure above that floor
// would need less than one commit per message.
// More floors, for the direct figures: the durable crypto of one message and its receipt one at a time, of one
// message alone whose receipt is the deliver ack (latency since /0m1/deliver/2.1.0), and the durable rate with the
// product's batching, each end timed apart (throughput).
import { join } from 'node:path'
import { openDatabase, resolveDatabaseKey } from '../../src/store/db.ts'
import { DEVICE_PAGE_SIZE } from '../../src/store/schema.ts'
import type { Benchmark, BenchContext, RowInput } from '../harness.ts'
import { latencyStats, nowMs } from '../harness.ts'
import { decrypt, encrypt, sessionPair, textOf, type Party } from '../lib/signal.ts'
import type { SessionRecord } from '@signalapp/libsignal-client'
import { WINDOW } from './centralized.ts'

export const TEXT_BYTES = 100

/** What a receipt for a batch of messages carries: its own id, a type and up to WINDOW 16-byte message ids. */
const RECEIPT_BYTES = 16 + 1 + WINDOW * 16

interface Durable {
  /** From now on, session saves wait for commit(). */
  readonly hold: () => void
  /** Writes the held session records in one transaction. */
  readonly commit: () => void
  /** One commit of a message's state (the sender's 'delivered'). */
  readonly mark: (id: number) => void
}

const MIGRATIONS = [{
  version: 1,
  name: 'bench sessions',
  up: 'CREATE TABLE sessions (address TEXT PRIMARY KEY, record BLOB NOT NULL); CREATE TABLE messages (id INTEGER PRIMARY KEY, state INTEGER NOT NULL)'
}]

async function run (ctx: BenchContext): Promise<RowInput[]> {
  const count = ctx.n(5000, 1500)
  const { alice, bob } = await sessionPair()
  const text = textOf(TEXT_BYTES)
  // Warm-up: JIT and native caches, excluded from the figures.
  for (let i = 0; i < 200; i++) await decrypt(bob, alice, await encrypt(alice, bob, text))

  let t0 = nowMs()
  for (let i = 0; i < count && !ctx.signal.aborted; i++) await decrypt(bob, alice, await encrypt(alice, bob, text))
  const encDec = count / ((nowMs() - t0) / 1000)

  t0 = nowMs()
  const sent: Array<Uint8Array<ArrayBuffer>> = []
  for (let i = 0; i < count && !ctx.signal.aborted; i++) sent.push(await encrypt(alice, bob, text))
  for (const m of sent) await decrypt(bob, alice, m)
  const burst = count / ((nowMs() - t0) / 1000)

  // Durable floor: each party's own database, one commit per saved session.
  const stores = new Map<Party, Durable>()
  for (const [name, p] of [['alice', alice], ['bob', bob]] as const) {
    const dir = ctx.tmpDir(`signal-${name}`)
    const db = openDatabase({ path: join(dir, 'store.db'), key: resolveDatabaseKey(dir, { create: true }), migrations: MIGRATIONS, synchronous: 'NORMAL', pageSize: DEVICE_PAGE_SIZE, checkpoint: 'idle' })
    ctx.defer(() => { db.close() })
    const put = db.prepare('INSERT INTO sessions (address, record) VALUES (?, ?) ON CONFLICT (address) DO UPDATE SET record = excluded.record')
    p.sessions.onSave = (a, r) => { put.run([a.toString(), r.serialize()]) }
    const held = new Map<string, SessionRecord>()
    const write = db.transaction(() => { for (const [a, r] of held) put.run([a, r.serialize()]) })
    const state = db.prepare('INSERT INTO messages (id, state) VALUES (?, 2) ON CONFLICT (id) DO UPDATE SET state = excluded.state')
    let marked = 0
    const mark = db.transaction(() => { state.run([marked]) })
    stores.set(p, {
      hold: () => { p.sessions.onSave = (a, r) => { held.set(a.toString(), r) } },
      commit: () => { write(); held.clear() },
      mark: (id) => { marked = id; mark() }
    })
  }
  for (let i = 0; i < 100; i++) await decrypt(bob, alice, await encrypt(alice, bob, text))
  t0 = nowMs()
  for (let i = 0; i < count && !ctx.signal.aborted; i++) await decrypt(bob, alice, await encrypt(alice, bob, text))
  const durable = count / ((nowMs() - t0) / 1000)

  // The floors of the direct figures, with only the work no durable messenger can skip: from here a party's
  // session saves are held and written by one commit when it commits (as the product's unit of work does).
  const a = stores.get(alice) as Durable
  const b = stores.get(bob) as Durable
  a.hold()
  b.hold()
  const receipt = textOf(RECEIPT_BYTES)
  // One message and its receipt, one at a time (the latency floor's crypto and store part): alice encrypts and
  // commits before the message leaves; bob decrypts, encrypts the receipt and commits both steps at once; alice
  // decrypts the receipt and commits. Median of the rounds.
  const rounds: number[] = []
  for (let i = 0; i < ctx.n(1000, 300) && !ctx.signal.aborted; i++) {
    const t = nowMs()
    const m = await encrypt(alice, bob, text)
    a.commit()
    await decrypt(bob, alice, m)
    const r = await encrypt(bob, alice, receipt)
    b.commit()
    await decrypt(alice, bob, r)
    a.commit()
    if (i >= 50) rounds.push(nowMs() - t)
  }
  const roundTrip = latencyStats(rounds).p50
  // One message one at a time whose delivered receipt is the receiver's deliver ack (/0m1/deliver/2.1.0: the ack
  // rides the connection's Noise session with the contact's own peer id, so nothing is sealed back): alice encrypts
  // and commits; bob decrypts and commits; alice commits the message's delivered state. Median of the rounds.
  const oneWayRounds: number[] = []
  for (let i = 0; i < ctx.n(1000, 300) && !ctx.signal.aborted; i++) {
    const t = nowMs()
    const m = await encrypt(alice, bob, text)
    a.commit()
    await decrypt(bob, alice, m)
    b.commit()
    a.mark(i)
    if (i >= 50) oneWayRounds.push(nowMs() - t)
  }
  const oneWay = latencyStats(oneWayRounds).p50
  // Throughput with the batching the product may use (WINDOW messages in flight): per batch, alice encrypts
  // WINDOW messages under one commit, bob decrypts them and encrypts one receipt under one commit, alice decrypts
  // the receipt under one commit. Each end's CPU time is taken apart: the two devices of direct.throughput run in
  // two processes at once, so the slower end's CPU per message bounds the rate (CPU time, not wall time, so the
  // floor does not move with other work on the machine).
  const cpuMs = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1000 }
  let sender = 0
  let receiver = 0
  let batched = 0
  for (let done = 0; done < ctx.n(100, 30) * WINDOW && !ctx.signal.aborted; done += WINDOW) {
    let t = cpuMs()
    const sent: Array<Uint8Array<ArrayBuffer>> = []
    for (let i = 0; i < WINDOW; i++) sent.push(await encrypt(alice, bob, text))
    a.commit()
    sender += cpuMs() - t
    t = cpuMs()
    for (const m of sent) await decrypt(bob, alice, m)
    const r = await encrypt(bob, alice, receipt)
    b.commit()
    receiver += cpuMs() - t
    t = cpuMs()
    await decrypt(alice, bob, r)
    a.commit()
    sender += cpuMs() - t
    batched += WINDOW
  }
  const batchedRate = batched / (Math.max(sender, receiver) / 1000)

  // Session setup, median of several fresh pairs (floor of first.message with a new connection).
  const setups: number[] = []
  for (let i = 0; i < ctx.n(20, 5); i++) setups.push((await sessionPair()).setupMs)
  const setup = latencyStats(setups).p50

  ctx.record('libsignal.setup.ms', setup)
  ctx.record('libsignal.encdec', encDec)
  ctx.record('libsignal.burst', burst)
  ctx.record('libsignal.durable', durable)
  ctx.record('libsignal.durable.roundtrip', roundTrip)
  ctx.record('libsignal.durable.oneway', oneWay)
  ctx.record('libsignal.durable.batched', batchedRate)
  return [
    { ...ROWS[0], value: encDec },
    { ...ROWS[1], value: burst },
    { ...ROWS[2], value: durable },
    { ...ROWS[3], value: setup },
    { ...ROWS[4], value: roundTrip, note: `${ROWS[4].note}; median of ${rounds.length}` },
    { ...ROWS[5], value: batchedRate, note: `${ROWS[5].note}; ${batched} messages: ${(sender / batched * 1000).toFixed(0)} µs CPU per message at the sender, ${(receiver / batched * 1000).toFixed(0)} µs at the receiver` },
    { ...ROWS[6], value: oneWay, note: `${ROWS[6].note}; median of ${oneWayRounds.length}` }
  ]
}

const ROWS = [
  { name: 'baseline.libsignal.encrypt_decrypt', unit: 'msg/s', better: 'higher', baseline: null, goal: null, note: 'raw signalEncrypt then signalDecrypt per 100-byte message, in-memory stores keeping session objects (lean)' },
  { name: 'baseline.libsignal.burst', unit: 'msg/s', better: 'higher', baseline: null, goal: null, note: 'raw libsignal, encrypt N then decrypt N (one direction), lean in-memory stores' },
  { name: 'baseline.libsignal.durable', unit: 'msg/s', better: 'higher', baseline: null, goal: null, note: 'lean raw libsignal plus one SQLCipher commit of the session record per encrypt and per decrypt (WAL, synchronous=NORMAL): the floor of a durable pipeline' },
  { name: 'baseline.libsignal.session_setup', unit: 'ms', better: 'lower', baseline: null, goal: null, note: 'PQXDH from a prekey bundle (Kyber included), first PreKey message encrypted and decrypted; median of fresh pairs, key generation excluded' },
  { name: 'baseline.libsignal.durable_roundtrip', unit: 'ms', better: 'lower', baseline: null, goal: null, note: 'one message and its receipt, one at a time, with the commits a durable messenger cannot skip: encrypt + commit, decrypt + encrypt receipt + one commit, decrypt + commit (lean raw libsignal, SQLCipher as a device opens it)' },
  { name: 'baseline.libsignal.durable_batched', unit: 'msg/s', better: 'higher', baseline: null, goal: null, note: `lean raw libsignal with the product's batching: ${WINDOW} messages per sender commit, the receiver's decrypts and one receipt per commit, the receipt decrypted under one commit; the slower end's rate from its CPU time, as the two ends run in two processes (no transport)` },
  { name: 'baseline.libsignal.durable_oneway', unit: 'ms', better: 'lower', baseline: null, goal: null, note: 'one message one at a time whose delivered receipt is the deliver ack (/0m1/deliver/2.1.0), with the commits a durable messenger cannot skip: encrypt + commit, decrypt + commit, the sender\'s commit of the delivered state (lean raw libsignal, SQLCipher as a device opens it)' }
] as const

export const libsignalBaseline: Benchmark = {
  name: 'baseline.libsignal',
  timeoutMs: 90_000,
  quickTimeoutMs: 60_000,
  rows: ROWS,
  run
}
