// One contract, two stores: the in-memory double and the real SQLCipher store.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDatabase, resolveDatabaseKey } from '../../src/store/db.ts'
import { ACK_SQL, MemoryMailboxStore, PAGE_SQL, RELAY_MIGRATIONS, SqliteMailboxStore, SWEEP_SQL, type MailboxStore } from '../../src/relay/store.ts'

const quota = { maxCount: 3, maxBytes: 100, expiryMs: 1000 }
const mb = (v: number): Uint8Array => new Uint8Array(32).fill(v)
const e = (n: number, v = 1): Uint8Array => new Uint8Array(n).fill(v)

const kinds: Array<[string, (t: { after: (fn: () => void) => void }) => MailboxStore]> = [
  ['memory', () => new MemoryMailboxStore()],
  ['sqlcipher', (t) => {
    const dir = mkdtempSync(join(tmpdir(), '0m1-relaystore-'))
    const db = openDatabase({ path: join(dir, 'relay.db'), key: resolveDatabaseKey(dir, { create: true }), migrations: RELAY_MIGRATIONS, synchronous: 'FULL' })
    t.after(() => { db.close(); rmSync(dir, { recursive: true, force: true }) })
    return new SqliteMailboxStore(db)
  }]
]

for (const [kind, make] of kinds) {
  test(`${kind} store: a relay-wide byte limit holds across many mailboxes and frees with acks and expiry`, (t) => {
    const s = make(t)
    const q = { maxCount: 100, maxBytes: 1000, maxTotalBytes: 250, expiryMs: 1000 }
    const held: Array<[number, Uint8Array]> = []
    for (let i = 1; i <= 5; i++) {
      const r = s.deposit(mb(i), e(50, i), 0, q)
      assert.ok(r.ok)
      held.push([i, r.item.id])
    }
    const full = s.deposit(mb(9), e(50, 9), 0, q)
    assert.ok(!full.ok && full.reason === 'QUOTA_BYTES' && /relay is full/.test(full.message))
    const [first] = held
    assert.equal(s.ack(mb(first?.[0] as number), [first?.[1] as Uint8Array]), 1)
    assert.ok(s.deposit(mb(9), e(50, 9), 500, q).ok)
    assert.ok(!s.deposit(mb(10), e(50, 9), 500, q).ok)
    assert.equal(s.sweep(1000), 4)
    assert.ok(s.deposit(mb(10), e(50, 9), 1000, q).ok)
  })

  test(`${kind} store: quotas, paging in order, ack scoped to the mailbox, expiry`, (t) => {
    const s = make(t)
    assert.ok(s.deposit(mb(1), e(40, 1), 0, quota).ok)
    assert.ok(s.deposit(mb(1), e(40, 2), 1, quota).ok)
    const bytes = s.deposit(mb(1), e(40, 3), 2, quota)
    assert.ok(!bytes.ok && bytes.reason === 'QUOTA_BYTES')
    assert.ok(s.deposit(mb(1), e(10, 4), 3, quota).ok)
    const count = s.deposit(mb(1), e(1, 5), 4, quota)
    assert.ok(!count.ok && count.reason === 'QUOTA_COUNT')
    assert.ok(s.deposit(mb(2), e(5, 9), 5, quota).ok)
    assert.deepEqual(s.usage(mb(1)), { count: 3, bytes: 90 })

    const p1 = s.page(mb(1), 0, 2, 1000, 10)
    assert.equal(p1.items.length, 2)
    assert.ok(p1.more)
    assert.deepEqual(p1.items.map((i) => i.envelope[0]), [1, 2])
    const p2 = s.page(mb(1), p1.items[1]?.seq ?? 0, 2, 1000, 10)
    assert.deepEqual(p2.items.map((i) => i.envelope[0]), [4])
    assert.equal(p2.more, false)
    // byte bound: always at least one item, then stop before going over
    assert.equal(s.page(mb(1), 0, 10, 50, 10).items.length, 1)

    const other = s.page(mb(2), 0, 10, 1000, 10).items
    assert.equal(s.ack(mb(1), other.map((i) => i.id)), 0, 'ids of another mailbox are not deleted')
    assert.equal(s.ack(mb(1), [p1.items[0]?.id ?? new Uint8Array(16)]), 1)
    assert.equal(s.usage(mb(1)).count, 2)

    assert.equal(s.page(mb(1), 0, 10, 1000, 1001).items.length, 1, 'expired items are not served')
    assert.equal(s.sweep(1001), 1)
    assert.equal(s.sweep(2000), 2)
    assert.deepEqual(s.usage(mb(1)), { count: 0, bytes: 0 })
  })
}

test('sqlcipher store: the per-envelope statements use an index (EXPLAIN QUERY PLAN), and the quota needs no query', (t) => {
  const dir = mkdtempSync(join(tmpdir(), '0m1-relayplan-'))
  const db = openDatabase({ path: join(dir, 'relay.db'), key: resolveDatabaseKey(dir, { create: true }), migrations: RELAY_MIGRATIONS, synchronous: 'FULL' })
  t.after(() => { db.close(); rmSync(dir, { recursive: true, force: true }) })
  const s = new SqliteMailboxStore(db)
  // A few thousand rows, so the planner has statistics-free but realistic tables.
  const q = { maxCount: 100_000, maxBytes: 1 << 30, expiryMs: 1000 }
  s.depositMany(Array.from({ length: 3000 }, (_, i) => ({ mailboxId: mb(i % 7), envelope: e(10, i) })), 0, q)
  const plan = (sql: string): string => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all([new Uint8Array(32), 0, 0, 1].slice(0, (sql.match(/\?/g) ?? []).length)) as Array<{ detail: string }>).map((r) => r.detail).join(' | ')
  const page = plan(PAGE_SQL)
  assert.match(page, /SEARCH envelopes USING INDEX envelopes_by_mailbox \(mailbox=\? AND seq>\?\)/, page)
  assert.doesNotMatch(page, /SCAN|TEMP B-TREE/, page)
  const ack = plan(ACK_SQL)
  assert.match(ack, /SEARCH envelopes USING INDEX sqlite_autoindex_envelopes_1 \(id=\?\)/, ack)
  const sweep = plan(SWEEP_SQL)
  assert.match(sweep, /SEARCH envelopes USING (COVERING )?INDEX envelopes_by_expiry \(expires_at<\?\)/, sweep)
  // usage() reads the counters: it stays exact with no statement at all (the table is checked beside it).
  const truth = db.prepare('SELECT count(*) AS n, sum(size) AS b FROM envelopes WHERE mailbox = ?').get([Buffer.from(mb(3))]) as { n: number, b: number }
  assert.deepEqual(s.usage(mb(3)), { count: Number(truth.n), bytes: Number(truth.b) })
  // A reopened store reads the same counters back.
  assert.deepEqual(new SqliteMailboxStore(db).usage(mb(3)), s.usage(mb(3)))
})
