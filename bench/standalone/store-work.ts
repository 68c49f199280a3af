// The device store's CPU per commit on the direct path (issue 10), without crypto or transport: the product's own
// transaction shapes, one message at a time as in bench/standalone/latency-probe.ts. The sender commits its text
// (session record, sequence number, message, outbox row), later the receipt it gets (session record, duplicate filter,
// outbox row removed, state 'delivered'); the receiver commits the text (session record, duplicate filter, message,
// conversation counters). Sizes are the profiled ones: 100-byte texts, 700-byte envelopes, and session records that
// grow by 64 bytes a message from 1.1 KB to 6.5 KB and start over (as libsignal's did in two product Devices).
//
// Variants of the store are compared in ONE process, taking turns every few messages, so a machine loaded by
// something else slows them alike: CPU per commit (user and system, the COMMIT apart from the statements before it),
// wall per commit, and the WAL frames (pages SQLCipher encrypted, HMACed and wrote) per commit.
// The device's synchronous setting (NORMAL: a commit does not wait for the disk; a checkpoint does, twice).
// Run: [SYNC=FULL] node --import tsx bench/standalone/store-work.ts [messages=2000] [variant name prefixes, comma-separated]
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { setImmediate as turn } from 'node:timers/promises'
import { WAL_CHECKPOINT_PAGES, openDatabase, type Database } from '../../src/store/db.ts'
import { DEVICE_PAGE_SIZE, MIGRATIONS } from '../../src/store/schema.ts'
import { sessionPad } from '../../src/store/signal-stores.ts'
import { History } from '../../src/messenger/history.ts'
import { DEFAULT_SYNCHRONOUS } from '../../src/e2ee/account.ts'

const N = Number(process.argv[2] ?? 2000)
const ONLY = process.argv[3]?.split(',')
/** Messages each variant runs before the next takes its turn. */
const TURN = 20
/** A session record's length at the k-th commit of a side. */
const recordBytes = (k: number): number => 1100 + 64 * (k % 85)
/** The device's (src/e2ee/account.ts), or FULL with SYNC=FULL in the environment. */
const SYNCHRONOUS = process.env.SYNC === 'FULL' ? 'FULL' : DEFAULT_SYNCHRONOUS

interface Variant {
  readonly name: string
  /** cipher_page_size (SQLCipher's default, 4096, is what main made every store with). */
  readonly pageSize: number
  /** Where the WAL is checkpointed (src/store/db.ts OpenDatabaseOptions.checkpoint). */
  readonly checkpoint: 'in-commit' | 'next-turn' | 'never'
  /** The store's schema: the first this many migrations (default: all of them). */
  readonly migrations?: number
  /** Extra SQL after the migrations (a candidate migration), and pragmas of the connection. */
  readonly sql?: string
  readonly pragmas?: readonly string[]
}

const VARIANTS: readonly Variant[] = [
  { name: 'main (4096, checkpoint in commit)', pageSize: 4096, checkpoint: 'in-commit' },
  { name: '2048, checkpoint next turn (the device\'s rule before the pause rule of src/store/db.ts)', pageSize: DEVICE_PAGE_SIZE, checkpoint: 'next-turn' },
  { name: '2048, checkpoint in commit', pageSize: DEVICE_PAGE_SIZE, checkpoint: 'in-commit' },
  { name: 'never checkpointed (4096)', pageSize: 4096, checkpoint: 'never' },
  { name: '1024', pageSize: 1024, checkpoint: 'next-turn' },
  { name: 'secure_delete fast (4096)', pageSize: 4096, checkpoint: 'in-commit', pragmas: ['secure_delete = FAST'] },
  { name: 'secure_delete off (4096)', pageSize: 4096, checkpoint: 'in-commit', pragmas: ['secure_delete = OFF'] }
]

type Shape = 'send' | 'receipt' | 'receive'
interface Tally { body: number, user: number, system: number, walls: number[], frames: number }
const zero = (): Tally => ({ body: 0, user: 0, system: 0, walls: [], frames: 0 })

class Side {
  readonly db: Database
  readonly h: History
  readonly #upsert
  readonly tally: Record<Shape, Tally> = { send: zero(), receipt: zero(), receive: zero() }
  #walPages = 0
  #frames = 0
  #scheduled = false
  /** CPU of the checkpoints (µs), in the commit or not. */
  checkpointCpu = 0

  #checkpoint (): void {
    const c = process.cpuUsage()
    this.db.pragma('wal_checkpoint(PASSIVE)')
    const d = process.cpuUsage(c)
    this.checkpointCpu += d.user + d.system
  }

  constructor (dir: string, readonly v: Variant) {
    this.db = openDatabase({ path: join(dir, 'store.db'), key: randomBytes(32), migrations: MIGRATIONS.slice(0, v.migrations), pageSize: v.pageSize, synchronous: SYNCHRONOUS })
    if (v.sql !== undefined) this.db.exec(v.sql)
    for (const p of v.pragmas ?? []) this.db.pragma(p)
    this.db.pragma('foreign_keys = OFF')
    // A WAL hook replaces SQLite's (and db.ts's): this one counts frames and checkpoints as the variant says.
    this.db.setWalHook((_name, pages) => {
      this.#frames += pages > this.#walPages ? pages - this.#walPages : pages
      this.#walPages = pages
      if (pages < WAL_CHECKPOINT_PAGES || v.checkpoint === 'never') return
      if (v.checkpoint === 'in-commit') { this.#checkpoint(); return }
      if (this.#scheduled) return
      this.#scheduled = true
      setImmediate(() => { this.#scheduled = false; this.#checkpoint() })
    })
    this.h = new History(this.db)
    // As SignalStores' (src/store/signal-stores.ts), padded where the schema has the padding (migration 17).
    this.#padded = this.db.prepare("SELECT 1 FROM pragma_table_info('signal_sessions') WHERE name = 'pad'").get() !== undefined
    this.#upsert = this.#padded
      ? this.db.prepare('INSERT INTO signal_sessions (address, record, pad) VALUES (?, ?, zeroblob(?)) ON CONFLICT (address) DO UPDATE SET record = excluded.record, pad = excluded.pad')
      : this.db.prepare('INSERT INTO signal_sessions (address, record) VALUES (?, ?) ON CONFLICT (address) DO UPDATE SET record = excluded.record')
  }

  readonly #padded: boolean
  #records = 0

  /** As SignalStores.commit: one transaction, the unit's session record first, then the caller's rows. */
  commit (shape: Shape, address: string, rows: () => void): void {
    const record = randomBytes(recordBytes(this.#records++))
    const t = this.tally[shape]
    const frames = this.#frames
    const w0 = performance.now()
    const c0 = process.cpuUsage()
    let c1 = c0
    this.db.transaction(() => {
      this.#upsert.run(this.#padded ? [address, record, sessionPad(record.length)] : [address, record])
      rows()
      c1 = process.cpuUsage()
    })()
    const c2 = process.cpuUsage(c1)
    t.walls.push(performance.now() - w0)
    t.body += c1.user + c1.system - c0.user - c0.system
    t.user += c2.user
    t.system += c2.system
    t.frames += this.#frames - frames
  }
}

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
      sender: new Side(mkdtempSync(join(root, `s${i}-`)), v),
      receiver: new Side(mkdtempSync(join(root, `r${i}-`)), v),
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
    for (const p of pairs) for (const s of [p.sender, p.receiver]) { for (const k of Object.keys(s.tally) as Shape[]) s.tally[k] = zero(); s.checkpointCpu = 0 }
    for (let done = 0; done < N; done += TURN) {
      for (const p of pairs) {
        for (let i = 0; i < TURN; i++) { message(p); await turn() }
      }
    }
    console.log(`${N} messages per variant, one at a time, synchronous=${SYNCHRONOUS} (load ${(loadavg()[0] ?? 0).toFixed(1)} at the end); per commit: CPU of the statements,`)
    console.log('CPU of the COMMIT (user/system), wall p50 and p99 (statements and COMMIT), WAL frames (pages written)')
    for (const p of pairs) {
      console.log(`${p.v.name}: checkpoints ${(p.sender.checkpointCpu / N).toFixed(0)} µs CPU per message sent, ${(p.receiver.checkpointCpu / N).toFixed(0)} per message received`)
      for (const [side, shape] of [[p.sender, 'send'], [p.sender, 'receipt'], [p.receiver, 'receive']] as const) {
        const t = side.tally[shape]
        const n = t.walls.length
        const per = (x: number): string => (x / n).toFixed(0)
        const walls = [...t.walls].sort((a, b) => a - b)
        const q = (f: number): string => ((walls[Math.min(n - 1, Math.floor(f * n))] ?? 0) * 1000).toFixed(0)
        console.log(`  ${shape.padEnd(8)} statements ${per(t.body)} µs, COMMIT ${per(t.user)}/${per(t.system)} µs, wall p50 ${q(0.5)} p99 ${q(0.99)} µs, ${(t.frames / n).toFixed(1)} frames`)
      }
    }
    for (const p of pairs) { p.sender.db.close(); p.receiver.db.close() }
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}

await main()
