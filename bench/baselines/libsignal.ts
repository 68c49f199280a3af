// Raw libsignal: signalEncrypt + signalDecrypt of 100-byte texts on an established session, with in-memory
// stores that keep session objects (lean). Baseline of crypto.pipeline and of direct.throughput.
// Also the durable floor: the same, plus the one commit per encrypt and per decrypt that any durable
// messenger needs (the session record must be on disk before the ciphertext leaves or the next message is
// read), into SQLCipher as a device opens it (WAL, synchronous=NORMAL). A product figure above that floor
// would need less than one commit per message.
import { join } from 'node:path'
import { openDatabase, resolveDatabaseKey } from '../../src/store/db.ts'
import type { Benchmark, BenchContext, RowInput } from '../harness.ts'
import { latencyStats, nowMs } from '../harness.ts'
import { decrypt, encrypt, sessionPair, textOf } from '../lib/signal.ts'

export const TEXT_BYTES = 100

const MIGRATIONS = [{ version: 1, name: 'bench sessions', up: 'CREATE TABLE sessions (address TEXT PRIMARY KEY, record BLOB NOT NULL)' }]

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
  for (const [name, p] of [['alice', alice], ['bob', bob]] as const) {
    const dir = ctx.tmpDir(`signal-${name}`)
    const db = openDatabase({ path: join(dir, 'store.db'), key: resolveDatabaseKey(dir, { create: true }), migrations: MIGRATIONS, synchronous: 'NORMAL' })
    ctx.defer(() => { db.close() })
    const put = db.prepare('INSERT INTO sessions (address, record) VALUES (?, ?) ON CONFLICT (address) DO UPDATE SET record = excluded.record')
    p.sessions.onSave = (a, r) => { put.run([a.toString(), r.serialize()]) }
  }
  for (let i = 0; i < 100; i++) await decrypt(bob, alice, await encrypt(alice, bob, text))
  t0 = nowMs()
  for (let i = 0; i < count && !ctx.signal.aborted; i++) await decrypt(bob, alice, await encrypt(alice, bob, text))
  const durable = count / ((nowMs() - t0) / 1000)

  // Session setup, median of several fresh pairs (floor of first.message with a new connection).
  const setups: number[] = []
  for (let i = 0; i < ctx.n(20, 5); i++) setups.push((await sessionPair()).setupMs)
  const setup = latencyStats(setups).p50

  ctx.record('libsignal.setup.ms', setup)
  ctx.record('libsignal.encdec', encDec)
  ctx.record('libsignal.burst', burst)
  ctx.record('libsignal.durable', durable)
  return [
    { ...ROWS[0], value: encDec },
    { ...ROWS[1], value: burst },
    { ...ROWS[2], value: durable },
    { ...ROWS[3], value: setup }
  ]
}

const ROWS = [
  { name: 'baseline.libsignal.encrypt_decrypt', unit: 'msg/s', better: 'higher', baseline: null, goal: null, note: 'raw signalEncrypt then signalDecrypt per 100-byte message, in-memory stores keeping session objects (lean)' },
  { name: 'baseline.libsignal.burst', unit: 'msg/s', better: 'higher', baseline: null, goal: null, note: 'raw libsignal, encrypt N then decrypt N (one direction), lean in-memory stores' },
  { name: 'baseline.libsignal.durable', unit: 'msg/s', better: 'higher', baseline: null, goal: null, note: 'lean raw libsignal plus one SQLCipher commit of the session record per encrypt and per decrypt (WAL, synchronous=NORMAL): the floor of a durable pipeline' },
  { name: 'baseline.libsignal.session_setup', unit: 'ms', better: 'lower', baseline: null, goal: null, note: 'PQXDH from a prekey bundle (Kyber included), first PreKey message encrypted and decrypted; median of fresh pairs, key generation excluded' }
] as const

export const libsignalBaseline: Benchmark = {
  name: 'baseline.libsignal',
  timeoutMs: 60_000,
  quickTimeoutMs: 25_000,
  rows: ROWS,
  run
}
