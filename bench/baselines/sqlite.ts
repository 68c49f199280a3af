// Raw SQLCipher inserts of mailbox-like rows (32-byte mailbox id, 16-byte envelope id, a 1 KiB envelope,
// times), opened with the product's openDatabase (same cipher, WAL, synchronous=FULL, as the relay).
// Baseline of mailbox.deposit. Two figures: one commit per row (durable ack per envelope, no batching),
// and rows committed in batches of BATCH (what a relay that groups concurrent deposits can reach).
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { openDatabase, resolveDatabaseKey } from '../../src/store/db.ts'
import type { Benchmark, BenchContext, RowInput } from '../harness.ts'
import { nowMs } from '../harness.ts'

const BATCH = 100
const ENVELOPE_BYTES = 1024

// The relay's envelopes table (src/relay/store.ts RELAY_MIGRATIONS), columns and indexes alike.
const MIGRATIONS = [{
  version: 1,
  name: 'bench mailbox rows',
  up: `CREATE TABLE envelopes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id BLOB NOT NULL UNIQUE, mailbox BLOB NOT NULL, envelope BLOB NOT NULL,
    size INTEGER NOT NULL, received_at INTEGER NOT NULL, expires_at INTEGER NOT NULL
  );
  CREATE INDEX envelopes_by_mailbox ON envelopes (mailbox, seq);
  CREATE INDEX envelopes_by_expiry ON envelopes (expires_at)`
}]

async function run (ctx: BenchContext): Promise<RowInput[]> {
  const dir = ctx.tmpDir('sqlite')
  const db = openDatabase({ path: join(dir, 'bench.db'), key: resolveDatabaseKey(dir, { create: true }), migrations: MIGRATIONS, synchronous: 'FULL' })
  ctx.defer(() => { db.close() })
  const insert = db.prepare('INSERT INTO envelopes (id, mailbox, envelope, size, received_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)')
  const mailboxes = Array.from({ length: 16 }, () => new Uint8Array(randomBytes(32)))
  const envelope = new Uint8Array(randomBytes(ENVELOPE_BYTES))
  const row = (i: number): Array<Uint8Array<ArrayBuffer> | number> => [new Uint8Array(randomBytes(16)), mailboxes[i % mailboxes.length] as Uint8Array<ArrayBuffer>, envelope, ENVELOPE_BYTES, Date.now(), Date.now() + 86_400_000]

  const single = ctx.n(3000, 1000)
  let t0 = nowMs()
  for (let i = 0; i < single && !ctx.signal.aborted; i++) insert.run(row(i))
  const perCommit = single / ((nowMs() - t0) / 1000)

  const batched = ctx.n(50_000, 20_000)
  let from = 0
  const many = db.transaction(() => { for (let i = from; i < from + BATCH; i++) insert.run(row(i)) })
  t0 = nowMs()
  for (; from < batched && !ctx.signal.aborted; from += BATCH) many()
  const perBatch = batched / ((nowMs() - t0) / 1000)

  ctx.record('sqlite.insert.per_commit', perCommit)
  ctx.record('sqlite.insert.batched', perBatch)
  return [{ ...ROWS[0], value: perCommit }, { ...ROWS[1], value: perBatch }]
}

const ROWS = [
  { name: 'baseline.sqlite.insert.per_commit', unit: 'rows/s', better: 'higher', baseline: null, goal: null, note: 'SQLCipher, WAL, synchronous=FULL, one commit per 1 KiB mailbox row' },
  { name: 'baseline.sqlite.insert.batched', unit: 'rows/s', better: 'higher', baseline: null, goal: null, note: `same rows, ${BATCH} per commit` }
] as const

export const sqliteBaseline: Benchmark = {
  name: 'baseline.sqlite',
  timeoutMs: 60_000,
  quickTimeoutMs: 20_000,
  rows: ROWS,
  run
}
