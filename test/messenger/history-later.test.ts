// Issue 10: a message's 'sent' state, kept in memory by advanceLater, is written by the message's next advance
// (its receipt) in the same UPDATE, or once more than a bounded number wait, or at flush(). Read here through a
// second History on the same database, which sees only what was written.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { openDatabase, resolveDatabaseKey, type Database } from '../../src/store/db.ts'
import { MIGRATIONS } from '../../src/store/schema.ts'
import { History } from '../../src/messenger/history.ts'
import { createLogger } from '../../src/platform/logger.ts'
import { tempDir } from '../helpers/testnet.ts'

function store (t: { after: (fn: () => unknown) => void }, o: { closedByTest?: boolean } = {}): Database {
  const dir = tempDir(t, '0m1-history-later-')
  const db = openDatabase({ path: join(dir, 'store.db'), key: resolveDatabaseKey(dir, { create: true }), migrations: MIGRATIONS })
  if (o.closedByTest !== true) t.after(() => { db.close() })
  const blob = Buffer.alloc(32, 1)
  db.prepare(`INSERT INTO contacts (id, name, their_display_name, account_id, identity_key, address, created_at,
    their_mailbox_id, their_mailbox_key, their_relays, their_addresses, my_mailbox_id, my_mailbox_key,
    my_mailbox_private_key, my_mailbox_public_key, my_presence_secret)
    VALUES ('c1', 'c', 'c', 'acct', ?, 'addr', 0, ?, ?, '[]', '[]', ?, ?, ?, ?, ?)`).run([blob, blob, blob, blob, blob, blob, blob, blob])
  return db
}

const outgoing = (id: string, seq: number) => ({ contactId: 'c1', id, seq, text: id, at: seq, envelope: new Uint8Array([seq]), expiresAt: seq + 1000 })

test('history: a kept sent state is written with the receipt\'s advance, path included', (t) => {
  const db = store(t)
  const h = new History(db)
  const disk = new History(db)
  h.queueOutgoing(outgoing('o1', 1))
  assert.equal(h.advanceLater('c1', 'o1', 'sent', { path: 'direct' })?.state, 'sent')
  // Another message's write does not carry it: only a few are kept, and this one's receipt will.
  h.queueOutgoing(outgoing('o2', 2))
  assert.equal(disk.message('c1', 'out', 'o1')?.state, 'queued')
  assert.equal(h.message('c1', 'out', 'o1')?.state, 'sent')
  const delivered = h.advance('c1', 'o1', 'delivered')
  assert.deepEqual([delivered?.state, delivered?.path], ['delivered', 'direct'])
  assert.deepEqual([disk.message('c1', 'out', 'o1')?.state, disk.message('c1', 'out', 'o1')?.path], ['delivered', 'direct'])
  // A receipt that does not move the state on still writes the kept change.
  h.advanceLater('c1', 'o2', 'sent', { path: 'relayed' })
  h.advance('c1', 'o2', 'queued')
  assert.deepEqual([disk.message('c1', 'out', 'o2')?.state, disk.message('c1', 'out', 'o2')?.path], ['sent', 'relayed'])
})

test('history: kept states are bounded — past the bound the next write transaction writes them all; flush writes the rest', (t) => {
  const db = store(t)
  const h = new History(db)
  const disk = new History(db)
  const n = 300
  for (let i = 1; i <= n; i++) h.queueOutgoing(outgoing(`o${i}`, i))
  for (let i = 1; i <= n; i++) h.advanceLater('c1', `o${i}`, 'sent', { path: 'direct' })
  assert.equal(disk.message('c1', 'out', 'o1')?.state, 'queued')
  h.queueOutgoing(outgoing('last', n + 1))
  assert.equal(disk.message('c1', 'out', 'o1')?.state, 'sent')
  assert.equal(disk.message('c1', 'out', `o${n}`)?.state, 'sent')
  h.advanceLater('c1', 'last', 'sent', { path: 'direct' })
  assert.equal(disk.message('c1', 'out', 'last')?.state, 'queued')
  h.flush()
  assert.equal(disk.message('c1', 'out', 'last')?.state, 'sent')
})

const full = (): Error => Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' })
const stateOf = (h: History, id: string): [string | undefined, string | undefined] => [h.message('c1', 'out', id)?.state, h.message('c1', 'out', id)?.path]

test('history: a kept sent state written by a transaction that rolls back is kept again, and written by the next advance', async (t) => {
  const db = store(t)
  const h = new History(db)
  const disk = new History(db)
  h.queueOutgoing(outgoing('o1', 1))
  h.queueOutgoing(outgoing('o2', 2))
  h.advanceLater('c1', 'o1', 'sent', { path: 'direct' })
  h.advanceLater('c1', 'o2', 'sent', { path: 'relayed' })
  // The history's own transaction, failing after the receipt's advance wrote o1's kept state with its own.
  assert.throws(() => h.transaction(() => { h.advance('c1', 'o1', 'delivered'); throw full() }), { code: 'SQLITE_FULL' })
  // A transaction around the history's (a device batch's commit), failing after the history's savepoint was released.
  assert.throws(() => db.transaction(() => { h.advance('c1', 'o2', 'delivered'); throw full() })(), { code: 'SQLITE_FULL' })
  assert.deepEqual(stateOf(disk, 'o1'), ['queued', undefined])
  assert.deepEqual(stateOf(h, 'o1'), ['sent', 'direct'])
  assert.deepEqual(stateOf(h, 'o2'), ['sent', 'relayed'])
  await Promise.resolve()
  assert.deepEqual(stateOf(h, 'o1'), ['sent', 'direct'], 'still kept once the transactions have ended')
  assert.deepEqual(stateOf(h, 'o2'), ['sent', 'relayed'])
  // The receipt comes again: its advance writes the kept path with it.
  h.advance('c1', 'o1', 'delivered')
  assert.deepEqual(stateOf(disk, 'o1'), ['delivered', 'direct'])
  h.flush()
  assert.deepEqual(stateOf(disk, 'o2'), ['sent', 'relayed'])
})

test('history: kept states written past the bound by a transaction that rolls back are all kept again', async (t) => {
  const db = store(t)
  const h = new History(db)
  const disk = new History(db)
  const n = 300
  for (let i = 1; i <= n; i++) h.queueOutgoing(outgoing(`o${i}`, i))
  for (let i = 1; i <= n; i++) h.advanceLater('c1', `o${i}`, 'sent', { path: 'direct' })
  assert.throws(() => h.transaction(() => { h.queueOutgoing(outgoing('last', n + 1)); throw full() }), { code: 'SQLITE_FULL' })
  await Promise.resolve()
  assert.equal(disk.message('c1', 'out', 'o1')?.state, 'queued')
  assert.equal(h.message('c1', 'out', 'o1')?.state, 'sent')
  assert.equal(h.message('c1', 'out', `o${n}`)?.state, 'sent')
  // A delivered receipt committed in the same turn as the write of its kept state reads delivered, not the kept 'sent'.
  h.queueOutgoing(outgoing('last', n + 1))
  h.advance('c1', 'o1', 'delivered')
  assert.deepEqual(stateOf(h, 'o1'), ['delivered', 'direct'])
  await Promise.resolve()
  assert.equal(disk.message('c1', 'out', `o${n}`)?.state, 'sent')
  assert.deepEqual(stateOf(h, 'o1'), ['delivered', 'direct'])
})

test('history: a store closed in the same turn as the write of a kept state raises nothing; the reason is logged by name', async (t) => {
  const db = store(t, { closedByTest: true })
  const lines: string[] = []
  const h = new History(db, { logger: createLogger({ level: 'warn', sink: (line) => { lines.push(line) } }) })
  h.queueOutgoing(outgoing('o1', 1))
  h.advanceLater('c1', 'o1', 'sent', { path: 'direct' })
  h.advance('c1', 'o1', 'delivered')
  db.close()
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(lines.length, 1)
  assert.match(lines[0] ?? '', /confirm-failed error=\w+$/)
})

test('history: a kept state whose write committed leaves memory: the row is read as stored', async (t) => {
  const db = store(t)
  const h = new History(db)
  h.queueOutgoing(outgoing('o1', 1))
  h.advanceLater('c1', 'o1', 'sent', { path: 'direct' })
  h.advance('c1', 'o1', 'queued')
  await Promise.resolve()
  // Set back behind the history's back: only a state still kept in memory would show 'sent' over it.
  db.prepare("UPDATE messages SET state = 'queued', path = NULL WHERE contact_id = 'c1' AND direction = 'out' AND id = 'o1'").run()
  assert.deepEqual(stateOf(h, 'o1'), ['queued', undefined])
})

test('history: the calls made inside transaction() join it, with no savepoint of their own, and a failure rolls it all back', (t) => {
  const db = store(t)
  const h = new History(db)
  const disk = new History(db)
  h.queueOutgoing(outgoing('o1', 1))
  h.queueOutgoing(outgoing('o2', 2))
  let opened = 0
  const transaction = db.transaction.bind(db)
  db.transaction = ((fn: (...a: never[]) => unknown) => { opened++; return transaction(fn) }) as Database['transaction']
  h.transaction(() => { h.removeOutbox('c1', 'o1'); h.advance('c1', 'o1', 'delivered', { path: 'direct' }); h.advance('c1', 'o2', 'sent') })
  assert.equal(opened, 1, 'one transaction, no savepoint per call')
  assert.deepEqual(stateOf(disk, 'o1'), ['delivered', 'direct'])
  assert.throws(() => h.transaction(() => { h.advance('c1', 'o2', 'delivered'); h.receive({ contactId: 'c1', id: 'i1', seq: 1, text: 'x', sentAt: 1, at: 1, path: 'direct' }); throw full() }), { code: 'SQLITE_FULL' })
  assert.deepEqual(stateOf(disk, 'o2'), ['sent', undefined], 'rolled back whole')
  assert.equal(disk.message('c1', 'in', 'i1'), undefined)
  assert.equal(opened, 2)
})

test('history: within() runs in the caller\'s transaction, which a failure rolls back whole', (t) => {
  const db = store(t)
  const h = new History(db)
  let opened = 0
  const transaction = db.transaction.bind(db)
  db.transaction = ((fn: (...a: never[]) => unknown) => { opened++; return transaction(fn) }) as Database['transaction']
  assert.throws(() => db.transaction(() => h.within(() => {
    h.queueOutgoing(outgoing('o1', 1))
    h.receive({ contactId: 'c1', id: 'i1', seq: 1, text: 'x', sentAt: 1, at: 1, path: 'direct' })
    throw full()
  }))(), { code: 'SQLITE_FULL' })
  assert.equal(opened, 1, 'the caller transaction only')
  assert.equal(h.message('c1', 'out', 'o1'), undefined)
  assert.equal(h.message('c1', 'in', 'i1'), undefined)
  db.transaction(() => h.within(() => { h.queueOutgoing(outgoing('o1', 1)) }))()
  assert.equal(h.message('c1', 'out', 'o1')?.state, 'queued')
})
