// The HistoryStore contract, run with the same assertions against the real History on SQLCipher and
// its in-memory twin (test/twins/memory-history.ts), so the twin the property tests use cannot drift:
// order by the sender's sequence numbers, visible gaps, states that only move forward, the outbox's
// life, envelope hashes, settings.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { openDatabase, resolveDatabaseKey } from '../../src/store/db.ts'
import { MIGRATIONS } from '../../src/store/schema.ts'
import { History } from '../../src/messenger/history.ts'
import type { HistoryStore } from '../../src/messenger/history-store.ts'
import type { MessageView } from '../../src/messenger/types.ts'
import { MemoryHistory } from '../twins/memory-history.ts'
import { tempDir } from '../helpers/testnet.ts'
import { olderPageCursor } from '../../src/api/page-cursor.ts'

type Teardown = { after: (fn: () => unknown) => void }

function sqlHistory (t: Teardown): HistoryStore {
  const dir = tempDir(t, '0m1-history-')
  const db = openDatabase({ path: join(dir, 'store.db'), key: resolveDatabaseKey(dir, { create: true }), migrations: MIGRATIONS })
  t.after(() => { db.close() })
  for (const [i, id] of ['c1', 'c2'].entries()) {
    const blob = Buffer.alloc(32, i)
    db.prepare(`INSERT INTO contacts (id, name, their_display_name, account_id, identity_key, address, created_at,
      their_mailbox_id, their_mailbox_key, their_relays, their_addresses, my_mailbox_id, my_mailbox_key,
      my_mailbox_private_key, my_mailbox_public_key, my_presence_secret)
      VALUES (?, 'c', 'c', ?, ?, ?, 0, ?, ?, '[]', '[]', ?, ?, ?, ?, ?)`).run([id, `acct-${id}`, blob, `addr-${id}`, blob, blob, blob, blob, blob, blob, blob])
  }
  return new History(db)
}

const IMPLEMENTATIONS: Array<[string, (t: Teardown) => HistoryStore]> = [
  ['SQLCipher History', sqlHistory],
  ['in-memory twin', () => new MemoryHistory()]
]

const incoming = (seq: number, at: number, contactId = 'c1') => ({ contactId, id: `m${seq}`, seq, text: `t${seq}`, sentAt: at, at: at + 1, path: 'direct' as const })
const outgoing = (id: string, seq: number, at: number, contactId = 'c1') => ({ contactId, id, seq, text: `o${seq}`, at, envelope: new Uint8Array([seq, 1, 2]), expiresAt: at + 1000 })

for (const [name, make] of IMPLEMENTATIONS) {
  test(`${name}: a message is placed by when it was written, never after it came here, and a repeated seq has one order`, (t) => {
    const h = make(t)
    const theirs = (id: string, seq: number, sentAt: number, at: number): void => {
      assert.ok(h.receive({ contactId: 'c1', id, seq, text: id, sentAt, at, path: 'direct' }))
    }
    theirs('i1', 1, 100, 101)
    h.queueOutgoing(outgoing('o1', 1, 150))
    // A contact's clock far ahead: its message stands where it came, in the page, not last or nowhere.
    theirs('i2', 2, Number.MAX_SAFE_INTEGER, 200)
    h.queueOutgoing(outgoing('o2', 2, 300))
    // A sender that repeats a seq: by sentAt, then id, whichever came first.
    theirs('i3b', 3, 400, 401)
    theirs('i3a', 3, 400, 402)
    theirs('i3c', 3, 390, 403)
    const ids = ['i1', 'o1', 'i2', 'o2', 'i3c', 'i3a', 'i3b']
    assert.equal(h.unread('c1'), 5)
    assert.deepEqual(h.messages('c1').map((m) => m.id), ids)
    assert.deepEqual(h.messages('c1', { limit: 4 }).map((m) => m.id), ids.slice(3))
    assert.deepEqual(h.messages('c1', { before: 300 }).map((m) => m.id), ['i1', 'o1', 'i2'])
  })

  test(`${name}: incoming messages are ordered by sequence number and a gap stays visible until filled`, (t) => {
    const h = make(t)
    assert.ok(h.receive(incoming(1, 100)))
    assert.ok(h.receive(incoming(4, 400)))
    let view = h.messages('c1')
    assert.deepEqual(view.map((m) => m.seq), [1, 4])
    assert.equal(view[1]?.gapBefore, 2)
    assert.ok(h.receive(incoming(3, 300)))
    view = h.messages('c1')
    assert.deepEqual(view.map((m) => m.seq), [1, 3, 4])
    assert.deepEqual(view.map((m) => m.gapBefore ?? 0), [0, 1, 0])
    assert.ok(h.receive(incoming(2, 200)))
    assert.deepEqual(h.messages('c1').map((m) => m.gapBefore ?? 0), [0, 0, 0, 0])
    // The same message id again is not stored twice.
    assert.equal(h.receive(incoming(2, 250)), undefined)
    assert.equal(h.messages('c1').length, 4)
    assert.deepEqual(h.message('c1', 'in', 'm2'), { id: 'm2', contactId: 'c1', direction: 'in', text: 't2', seq: 2, at: 201, sentAt: 200, state: 'delivered', path: 'direct' })
    assert.equal(h.unread('c1'), 4)
    assert.deepEqual(h.markRead('c1', 500).sort(), ['m1', 'm2', 'm3', 'm4'])
    assert.equal(h.unread('c1'), 0)
    assert.deepEqual(h.markRead('c1', 600), [])
    // Conversations are separate.
    assert.deepEqual(h.messages('c2'), [])
    assert.ok(h.receive(incoming(1, 100, 'c2')))
    assert.equal(h.unread('c2'), 1)
  })

  test(`${name}: a page interleaves both senders by time, each in sequence order, and honours limit and before`, (t) => {
    const h = make(t)
    h.queueOutgoing(outgoing('o1', h.nextSeq('c1', 10), 10))
    h.receive(incoming(1, 20))
    h.queueOutgoing(outgoing('o2', h.nextSeq('c1', 30), 30))
    h.receive(incoming(2, 25))
    // The sender's clock is off: seq 3 claims an earlier time than seq 2; it still follows 2.
    h.receive(incoming(3, 15))
    assert.deepEqual(h.messages('c1').map((m) => `${m.direction}${m.seq}`), ['out1', 'in1', 'in2', 'in3', 'out2'])
    assert.deepEqual(h.messages('c1', { limit: 2 }).map((m) => `${m.direction}${m.seq}`), ['in2', 'out2'])
    assert.deepEqual(h.messages('c1', { before: 25 }).map((m) => `${m.direction}${m.seq}`), ['out1', 'in1', 'in3'])
    assert.equal(h.messages('c1', { limit: 0 }).length, 1)
    // Paging back with the cursor each time from the page's least in the page order (olderPageCursor, what the CLI
    // and the web page send; not its first shown: in3 stands after in1 but is older by key) takes every message
    // once; as in2 is past in3 by key, the pages can only hold them in the other order.
    for (let limit = 1; limit <= 5; limit++) {
      const walked: string[] = []
      let page = h.messages('c1', { limit })
      for (let pages = 0; page.length > 0 && pages <= 5; pages++) {
        walked.unshift(...page.map((m) => `${m.direction}${m.seq}`))
        const c = olderPageCursor(page)
        assert.ok(c !== undefined)
        page = h.messages('c1', { limit, after: { direction: c.beforeDirection, id: c.beforeId } })
      }
      assert.deepEqual([...walked].sort(), ['in1', 'in2', 'in3', 'out1', 'out2'], `limit ${limit}`)
    }
    assert.deepEqual(h.last('c1'), { text: 'o2', at: 30, direction: 'out' })
    assert.equal(h.last('c2'), undefined)
  })

  test(`${name}: paging back with the cursor returns every message once, in display order, across equal keys`, (t) => {
    const h = make(t)
    const theirs = (id: string, seq: number, sentAt: number, at: number): void => {
      assert.ok(h.receive({ contactId: 'c1', id, seq, text: id, sentAt, at, path: 'direct' }))
    }
    h.queueOutgoing(outgoing('o1', 1, 50))
    // Three sends in one millisecond, and their messages written in it too (one with the id of one of mine).
    for (const [i, id] of ['o2', 'o3', 'o4'].entries()) h.queueOutgoing(outgoing(id, i + 2, 100))
    theirs('i1', 1, 100, 101)
    theirs('o3', 2, 100, 102)
    theirs('i3', 3, 120, 100)
    theirs('i4', 4, 150, 160)
    h.queueOutgoing(outgoing('o5', 5, 150))
    const all = h.messages('c1').map((m) => `${m.direction}:${m.id}`)
    assert.deepEqual(all, ['out:o1', 'out:o2', 'out:o3', 'out:o4', 'in:i1', 'in:o3', 'in:i3', 'out:o5', 'in:i4'])
    // Every page size, each time back from the first message of the page before (the cursor's rule here, where
    // each sender's keys rise with its seq).
    for (let limit = 1; limit <= all.length; limit++) {
      const walked: string[] = []
      let page = h.messages('c1', { limit })
      // Bounded: a cursor that does not move on would page forever.
      for (let pages = 0; page.length > 0 && pages <= all.length; pages++) {
        walked.unshift(...page.map((m) => `${m.direction}:${m.id}`))
        const first = page[0] as MessageView
        assert.deepEqual(olderPageCursor(page), { beforeId: first.id, beforeDirection: first.direction })
        page = h.messages('c1', { limit, after: { direction: first.direction, id: first.id } })
      }
      assert.deepEqual(walked, all, `limit ${limit}`)
    }
    // `before` alone pages as it did: by key only, so the messages that share the boundary's key are left out.
    assert.deepEqual(h.messages('c1', { limit: 2 }).map((m) => m.id), ['o5', 'i4'])
    assert.deepEqual(h.messages('c1', { limit: 3, before: 150 }).map((m) => `${m.direction}:${m.id}`), ['in:i1', 'in:o3', 'in:i3'])
    // An unknown row leaves `before` alone.
    assert.deepEqual(h.messages('c1', { before: 100, after: { direction: 'in', id: 'nope' } }).map((m) => m.id), ['o1'])
  })

  test(`${name}: sequence numbers count per conversation from 1`, (t) => {
    const h = make(t)
    assert.deepEqual([h.nextSeq('c1', 1), h.nextSeq('c1', 2), h.nextSeq('c2', 3), h.nextSeq('c1', 4)], [1, 2, 1, 3])
  })

  test(`${name}: queueOutgoing reserves the sequence number peekSeq gave, with the schedule asked for`, (t) => {
    const h = make(t)
    assert.equal(h.peekSeq('c1'), 1)
    assert.equal(h.peekSeq('c1'), 1, 'peeking reserves nothing')
    h.queueOutgoing({ ...outgoing('o1', h.peekSeq('c1'), 10), attempts: 1, nextAttemptAt: 5010 })
    assert.equal(h.peekSeq('c1'), 2)
    assert.equal(h.peekSeq('c2'), 1)
    assert.deepEqual([h.outbox('c1', 'o1')?.attempts, h.outbox('c1', 'o1')?.nextAttemptAt], [1, 5010])
    assert.equal(h.due(5000, 10).length, 0)
    // advanceLater: seen at once by every read, written with the next write, never moving a state back.
    assert.equal(h.advanceLater('c1', 'o1', 'sent', { path: 'direct' })?.state, 'sent')
    assert.deepEqual([h.message('c1', 'out', 'o1')?.state, h.message('c1', 'out', 'o1')?.path], ['sent', 'direct'])
    assert.equal(h.messages('c1')[0]?.state, 'sent')
    assert.equal(h.advanceLater('c1', 'o1', 'queued'), undefined)
    assert.deepEqual(h.advance('c1', 'o1', 'delivered'), { id: 'o1', contactId: 'c1', direction: 'out', text: 'o1', seq: 1, at: 10, state: 'delivered', path: 'direct' })
    h.flush()
    assert.equal(h.message('c1', 'out', 'o1')?.path, 'direct')
    h.queueOutgoing(outgoing('o2', h.peekSeq('c1'), 20))
    assert.equal(h.advanceLater('c1', 'o2', 'sent', { path: 'relayed' })?.path, 'relayed')
    h.flush()
    assert.deepEqual([h.message('c1', 'out', 'o2')?.state, h.message('c1', 'out', 'o2')?.path], ['sent', 'relayed'])
  })

  test(`${name}: outgoing states only move forward and the first path sticks`, (t) => {
    const h = make(t)
    const seq = h.nextSeq('c1', 10)
    const queued = h.queueOutgoing(outgoing('o1', seq, 10))
    assert.deepEqual(queued, { id: 'o1', contactId: 'c1', direction: 'out', text: 'o1', seq: 1, at: 10, state: 'queued' })
    assert.equal(h.outboxSize(), 1)
    assert.equal(h.due(10, 10).length, 1)
    assert.equal(h.advance('c1', 'o1', 'stored', { path: 'mailbox' })?.state, 'stored')
    assert.equal(h.advance('c1', 'o1', 'sent'), undefined)
    assert.equal(h.advance('c1', 'o1', 'delivered')?.state, 'delivered')
    assert.equal(h.advance('c1', 'o1', 'sent', { path: 'direct' }), undefined)
    const m = h.message('c1', 'out', 'o1')
    assert.equal(m?.state, 'delivered')
    assert.equal(m?.path, 'mailbox')
    assert.equal(h.advance('c1', 'o1', 'read')?.state, 'read')
    assert.equal(h.advance('c1', 'nope', 'read'), undefined)
    // A message first acknowledged without a path takes the path that arrives later, and no state back.
    h.queueOutgoing(outgoing('o2', h.nextSeq('c1', 11), 11))
    assert.equal(h.advance('c1', 'o2', 'delivered')?.path, undefined)
    const late = h.advance('c1', 'o2', 'sent', { path: 'relayed' })
    assert.equal(late?.state, 'delivered')
    assert.equal(late?.path, 'relayed')
    // 'failed' is final and carries its reason.
    h.queueOutgoing(outgoing('o3', h.nextSeq('c1', 12), 12))
    assert.equal(h.advance('c1', 'o3', 'failed', { failure: 'expired' })?.failure, 'expired')
    assert.equal(h.advance('c1', 'o3', 'delivered'), undefined)
    assert.equal(h.message('c1', 'out', 'o3')?.state, 'failed')
  })

  test(`${name}: the outbox is due in time order, rescheduled, retried early for a contact and emptied`, (t) => {
    const h = make(t)
    h.queueOutgoing(outgoing('o1', h.nextSeq('c1', 10), 10))
    h.queueControl('c1', 'r1', new Uint8Array([9]), 5, 100)
    h.queueControl('c2', 'r2', new Uint8Array([8]), 7, 100)
    assert.deepEqual(h.due(10, 10).map((r) => r.messageId), ['r1', 'r2', 'o1'])
    assert.deepEqual(h.due(10, 2).map((r) => r.messageId), ['r1', 'r2'])
    assert.deepEqual(h.due(6, 10).map((r) => r.messageId), ['r1'])
    const row = h.outbox('c1', 'o1')
    assert.deepEqual(row, { contactId: 'c1', messageId: 'o1', kind: 'text', envelope: row?.envelope, attempts: 0, nextAttemptAt: 10, expiresAt: 1010, state: 'pending' })
    assert.deepEqual([...(row?.envelope ?? [])], [1, 1, 2])
    assert.equal(h.outbox('c1', 'r1')?.kind, 'control')
    h.rescheduleOutbox('c1', 'o1', { attempts: 1, nextAttemptAt: 50, state: 'sent' })
    h.rescheduleOutbox('c1', 'r1', { attempts: 2, nextAttemptAt: 60 })
    h.rescheduleOutbox('c2', 'r2', { attempts: 1, nextAttemptAt: 70 })
    assert.equal(h.outbox('c1', 'o1')?.state, 'sent')
    assert.equal(h.outbox('c1', 'r1')?.state, 'pending')
    assert.equal(h.outbox('c1', 'r1')?.attempts, 2)
    assert.equal(h.due(40, 10).length, 0)
    assert.equal(h.nextDueAt(), 50)
    assert.equal(h.nextDueAt(50), 60)
    assert.equal(h.nextDueAt(70), undefined)
    h.retryContactNow('c1', 20)
    assert.deepEqual(h.due(20, 10).map((r) => r.messageId).sort(), ['o1', 'r1'])
    assert.equal(h.outbox('c2', 'r2')?.nextAttemptAt, 70)
    h.removeOutbox('c1', 'o1')
    h.removeOutbox('c1', 'o1')
    assert.equal(h.outbox('c1', 'o1'), undefined)
    assert.equal(h.outboxSize(), 2)
    h.removeOutbox('c1', 'r1')
    h.removeOutbox('c2', 'r2')
    assert.equal(h.outboxSize(), 0)
    assert.equal(h.nextDueAt(), undefined)
    // The message outlives its outbox row.
    assert.equal(h.message('c1', 'out', 'o1')?.state, 'queued')
  })

  test(`${name}: envelope hashes remember the message they carried and are pruned by age`, (t) => {
    const h = make(t)
    const hash = Buffer.alloc(32, 7)
    h.rememberEnvelope(hash, 'c1', 'm1', 100)
    h.rememberEnvelope(hash, 'c2', 'other', 200)
    h.rememberEnvelope(Buffer.alloc(32, 8), 'c1', null, 300)
    assert.deepEqual(h.seenEnvelope(hash), { contactId: 'c1', messageId: 'm1' })
    assert.deepEqual(h.seenEnvelope(Buffer.alloc(32, 8)), { contactId: 'c1', messageId: null })
    assert.equal(h.seenEnvelope(Buffer.alloc(32, 9)), undefined)
    h.pruneEnvelopes(50)
    assert.ok(h.seenEnvelope(hash))
    h.pruneEnvelopes(101)
    assert.equal(h.seenEnvelope(hash), undefined)
    assert.ok(h.seenEnvelope(Buffer.alloc(32, 8)))
  })

  test(`${name}: settings are stored and replaced, and a transaction returns its value`, (t) => {
    const h = make(t)
    assert.equal(h.setting('k'), undefined)
    h.setSetting('k', 'v1')
    h.setSetting('k', 'v2')
    assert.equal(h.setting('k'), 'v2')
    assert.equal(h.transaction(() => 42), 42)
  })
}
