// The device store's CPU per commit on the direct path (issue 10), without crypto or transport: the product's own
// transaction shapes, one message at a time as in bench/standalone/latency-probe.ts. The sender commits its text
// (session record, sequence number, message, outbox row), later the receipt it gets (session record, duplicate filter,
// outbox row removed, state 'delivered'); the receiver commits the text (session record, duplicate filter, message,
// conversation counters). Sizes are the profiled ones: 100-byte texts, 700-byte envelopes, 5.6 KB session records.
//
// Variants of the store are compared in ONE process, taking turns every few messages, so a machine loaded by
// something else slows them alike: CPU per commit (user and system, the COMMIT apart from the statements before it),
// wall per commit, and the WAL frames (pages SQLCipher encrypted, HMACed and wrote) per commit.
// Run: node --import tsx bench/standalone/store-work.ts [messages=2000] [variants=all, comma-separated]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { setImmediate as turn } from 'node:timers/promises'
import Database from '@signalapp/sqlcipher'
import { migrate, openDatabase } from '../../src/store/db.ts'
import { MIGRATIONS } from '../../src/store/schema.ts'
import { History } from '../../src/messenger/history.ts'

const N = Number(process.argv[2] ?? 2000)
const ONLY = process.argv[3]?.split(',')
/** Messages each variant runs before the next takes its turn. */
const TURN = 20
const RECORD_BYTES = 5600
/** SQLite's own wal_autocheckpoint default, emulated by the counting WAL hook (a WAL hook replaces SQLite's). */
const AUTOCHECKPOINT_PAGES = 1000

interface Variant {
  readonly name: string
  /** Extra SQL after the product's migrations (a candidate migration), and pragmas of the connection. */
  readonly sql?: string
  readonly pragmas?: readonly string[]
  /** cipher_page_size of a new database (SQLCipher's default is 4096). */
  readonly pageSize?: number
}

const SESSIONS_ROWID = `DROP TABLE signal_sessions;
CREATE TABLE signal_sessions (id INTEGER PRIMARY KEY, address TEXT NOT NULL UNIQUE, record BLOB NOT NULL);`
const VARIANTS: readonly Variant[] = [
  { name: 'main' },
  { name: 'main, no checkpoint (its cost)', pragmas: [] },
  { name: 'sessions rowid', sql: SESSIONS_ROWID },
  { name: 'no envelopes_by_time', sql: 'DROP INDEX received_envelopes_by_time' },
  { name: 'secure_delete fast', pragmas: ['secure_delete = FAST'] },
  { name: 'secure_delete off', pragmas: ['secure_delete = OFF'] },
  { name: 'page 2048', pageSize: 2048 },
  { name: 'page 2048 + sessions rowid', pageSize: 2048, sql: SESSIONS_ROWID },
  { name: 'page 1024', pageSize: 1024 },
  { name: 'rowid + no by_time', sql: SESSIONS_ROWID + 'DROP INDEX received_envelopes_by_time;' },
  { name: 'page 2048 + rowid + no by_time', pageSize: 2048, sql: SESSIONS_ROWID + 'DROP INDEX received_envelopes_by_time;' }
]

type Shape = 'send' | 'receipt' | 'receive'
interface Tally { body: number, user: number, system: number, wall: number, frames: number, commits: number }
const zero = (): Tally => ({ body: 0, user: 0, system: 0, wall: 0, frames: 0, commits: 0 })

class Side {
  readonly db: Database
  readonly h: History
  readonly #upsert
  readonly tally: Record<Shape, Tally> = { send: zero(), receipt: zero(), receive: zero() }
  #walPages = 0
  #frames = 0

  constructor (dir: string, readonly v: Variant, readonly checkpoint: boolean) {
    this.db = v.pageSize === undefined
      ? openDatabase({ path: join(dir, 'store.db'), key: randomBytes(32), migrations: MIGRATIONS })
      : openWithPageSize(join(dir, 'store.db'), v.pageSize)
    if (v.sql !== undefined) this.db.exec(v.sql)
    for (const p of v.pragmas ?? []) this.db.pragma(p)
    this.db.pragma('foreign_keys = OFF')
    this.db.setWalHook((_name, pages) => {
      this.#frames += pages > this.#walPages ? pages - this.#walPages : pages
      this.#walPages = pages
      if (this.checkpoint && pages >= AUTOCHECKPOINT_PAGES) {
        this.db.pragma('wal_checkpoint(PASSIVE)')
      }
    })
    this.h = new History(this.db)
    this.#upsert = this.db.prepare('INSERT INTO signal_sessions (address, record) VALUES (?, ?) ON CONFLICT (address) DO UPDATE SET record = excluded.record')
  }

  /** As SignalStores.commit: one transaction, the unit's session record first, then the caller's rows. */
  commit (shape: Shape, address: string, rows: () => void): void {
    const record = randomBytes(RECORD_BYTES)
    const t = this.tally[shape]
    const frames = this.#frames
    const w0 = performance.now()
    const c0 = process.cpuUsage()
    let c1 = c0
    this.db.transaction(() => {
      this.#upsert.run([address, record])
      rows()
      c1 = process.cpuUsage()
    })()
    const c2 = process.cpuUsage(c1)
    t.wall += performance.now() - w0
    t.body += c1.user + c1.system - c0.user - c0.system
    t.user += c2.user
    t.system += c2.system
    t.frames += this.#frames - frames
    t.commits++
  }
}

/** openDatabase's settings with another page size (a candidate; SQLCipher needs it at every open). */
function openWithPageSize (path: string, pageSize: number): Database {
  const db = new Database(path, { cacheStatements: true })
  db.pragma(`key = "x'${randomBytes(32).toString('hex')}'"`)
  db.pragma(`cipher_page_size = ${pageSize}`)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  migrate(db, MIGRATIONS)
  return db
}

/** A time-ordered message id, as src/messenger/message-id.ts makes them. */
function messageId (now: number): string {
  const id = randomBytes(16)
  id.writeUIntBE(now, 0, 6)
  return id.toString('hex')
}

async function main (): Promise<void> {
  const variants = VARIANTS.filter((v) => ONLY === undefined || ONLY.some((o) => v.name.startsWith(o)))
  const root = mkdtempSync(join(tmpdir(), '0m1-store-work-'))
  try {
    const pairs = variants.map((v, i) => ({
      v,
      sender: new Side(mkdtempSync(join(root, `s${i}-`)), v, !v.name.includes('no checkpoint')),
      receiver: new Side(mkdtempSync(join(root, `r${i}-`)), v, !v.name.includes('no checkpoint')),
      seq: 0
    }))
    const message = (p: typeof pairs[number]): void => {
      const now = Date.now()
      const id = messageId(now)
      const seq = ++p.seq
      p.sender.commit('send', 'bob.1', () => {
        p.sender.h.queueOutgoing({ contactId: 'c1', id, seq, text: 'x'.repeat(100), at: now, envelope: randomBytes(700), expiresAt: now + 1e9, attempts: 1, nextAttemptAt: now + 3000 })
      })
      const hash = randomBytes(32)
      p.receiver.h.seenEnvelope(hash)
      p.receiver.commit('receive', 'alice.1', () => {
        p.receiver.h.rememberEnvelope(hash, 'c2', id, now)
        p.receiver.h.receive({ contactId: 'c2', id, seq, text: 'x'.repeat(100), sentAt: now, at: now, path: 'direct' })
      })
      const receiptHash = randomBytes(32)
      p.sender.h.seenEnvelope(receiptHash)
      p.sender.commit('receipt', 'bob.1', () => {
        p.sender.h.rememberEnvelope(receiptHash, 'c1', null, now)
        p.sender.h.removeOutbox('c1', id)
        p.sender.h.advance('c1', id, 'delivered', { path: 'direct' })
      })
    }
    // Warm-up: some history, statements prepared, caches filled; then the tallies start from zero.
    for (const p of pairs) for (let i = 0; i < 300; i++) message(p)
    for (const p of pairs) for (const s of [p.sender, p.receiver]) for (const k of Object.keys(s.tally) as Shape[]) s.tally[k] = zero()
    for (let done = 0; done < N; done += TURN) {
      for (const p of pairs) {
        for (let i = 0; i < TURN; i++) { message(p); await turn() }
      }
    }
    console.log(`${N} messages per variant, one at a time; per commit: CPU of the statements, CPU of the COMMIT (user/system), wall, WAL frames`)
    for (const p of pairs) {
      console.log(p.v.name)
      for (const [side, shape] of [[p.sender, 'send'], [p.sender, 'receipt'], [p.receiver, 'receive']] as const) {
        const t = side.tally[shape]
        const per = (x: number): string => (x / t.commits).toFixed(0)
        console.log(`  ${shape.padEnd(8)} statements ${per(t.body)} µs, COMMIT ${per(t.user)}/${per(t.system)} µs, wall ${(t.wall * 1000 / t.commits).toFixed(0)} µs, ${(t.frames / t.commits).toFixed(1)} frames`)
      }
    }
    for (const p of pairs) { p.sender.db.close(); p.receiver.db.close() }
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}

await main()
