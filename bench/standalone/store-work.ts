// The device store's CPU per message of the direct throughput run, without crypto or transport (issue 10): the
// rows a sender writes (texts queued 8 per commit with the session record, their receipts 8 per commit while 64
// are in flight) and a receiver writes (13 envelopes per commit: duplicate filter, message, session record), on
// the schema before migration 13 (search index written with each message, unread index by message id) and now.
// Sizes are the profiled ones: 100-byte texts, 700-byte envelopes, 4.8 KB session records.
// Run: node --import tsx bench/standalone/store-work.ts [messages=4000] [rounds=3]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes, randomUUID } from 'node:crypto'
import { openDatabase } from '../../src/store/db.ts'
import { MIGRATIONS } from '../../src/store/schema.ts'
import { History } from '../../src/messenger/history.ts'

const N = Number(process.argv[2] ?? 4000)
const ROUNDS = Number(process.argv[3] ?? 3)
const SEND_BATCH = 8
const IN_FLIGHT = 64
const RECEIVE_BATCH = 13
const BEFORE_13 = MIGRATIONS.findIndex((m) => m.name.startsWith('search index written in batches'))

const cpuUs = (): number => { const c = process.cpuUsage(); return c.user + c.system }

function run (schema: 'before 13' | 'now'): { sender: number, receiver: number } {
  const dir = mkdtempSync(join(tmpdir(), '0m1-store-work-'))
  try {
    const db = openDatabase({ path: join(dir, 'store.db'), key: randomBytes(32), migrations: schema === 'now' ? MIGRATIONS : MIGRATIONS.slice(0, BEFORE_13), synchronous: 'NORMAL' })
    // History's indexer reads search_pending; before migration 13 the triggers index at once and it stays empty.
    if (schema !== 'now') db.exec('CREATE TABLE search_pending (rowid INTEGER PRIMARY KEY, contact_id TEXT, direction TEXT, id TEXT)')
    db.pragma('foreign_keys = OFF')
    const h = new History(db)
    const session = db.prepare('INSERT INTO signal_sessions (address, record) VALUES (?, ?) ON CONFLICT (address) DO UPDATE SET record = excluded.record')
    const record = randomBytes(4800)
    let t = cpuUs()
    let seq = 1
    const inFlight: string[] = []
    for (let i = 0; i < N; i += SEND_BATCH) {
      h.transaction(() => {
        for (let j = 0; j < SEND_BATCH; j++) {
          const id = randomUUID()
          inFlight.push(id)
          h.queueOutgoing({ contactId: 'c1', id, seq: seq++, text: 'x'.repeat(100), at: Date.now(), envelope: randomBytes(700), expiresAt: Date.now() + 1e6 })
        }
        session.run(['bob.1', record])
      })
      if (inFlight.length < IN_FLIGHT) continue
      h.transaction(() => {
        for (const id of inFlight.splice(0, SEND_BATCH)) { h.removeOutbox('c1', id); h.advance('c1', id, 'delivered', { path: 'direct' }) }
        h.rememberEnvelope(randomBytes(32), 'c1', null, Date.now())
        session.run(['bob.1', record])
      })
    }
    const sender = (cpuUs() - t) / N
    t = cpuUs()
    seq = 1
    for (let i = 0; i < N; i += RECEIVE_BATCH) {
      h.transaction(() => {
        for (let j = 0; j < RECEIVE_BATCH; j++) {
          const hash = randomBytes(32)
          const id = randomUUID()
          h.seenEnvelope(hash)
          h.rememberEnvelope(hash, 'c2', id, Date.now())
          h.receive({ contactId: 'c2', id, seq: seq++, text: 'y'.repeat(100), sentAt: Date.now(), at: Date.now(), path: 'direct' })
        }
        session.run(['alice.1', record])
      })
    }
    const receiver = (cpuUs() - t) / N
    h.flush()
    db.close()
    return { sender, receiver }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

for (let r = 0; r < ROUNDS; r++) {
  for (const schema of ['before 13', 'now'] as const) {
    const { sender, receiver } = run(schema)
    console.log(`${schema.padEnd(9)}: store CPU per message ${sender.toFixed(0)} µs sending, ${receiver.toFixed(0)} µs receiving`)
  }
}
