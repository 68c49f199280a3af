// The ContactStore contract, run with the same assertions against ContactRepository on SQLCipher
// and its in-memory twin (test/twins/memory-contacts.ts), so the twin cannot drift.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { openDatabase, resolveDatabaseKey } from '../../src/store/db.ts'
import { MIGRATIONS } from '../../src/store/schema.ts'
import { ContactRepository, type ContactRow, type ContactStore, type PendingInvite } from '../../src/store/contacts.ts'
import { MemoryContacts } from '../twins/memory-contacts.ts'
import { tempDir } from '../helpers/testnet.ts'

type Teardown = { after: (fn: () => unknown) => void }

function sqlContacts (t: Teardown): ContactStore {
  const dir = tempDir(t, '0m1-contacts-')
  const db = openDatabase({ path: join(dir, 'store.db'), key: resolveDatabaseKey(dir, { create: true }), migrations: MIGRATIONS })
  t.after(() => { db.close() })
  return new ContactRepository(db)
}

const IMPLEMENTATIONS: Array<[string, (t: Teardown) => ContactStore]> = [
  ['SQLCipher ContactRepository', sqlContacts],
  ['in-memory twin', () => new MemoryContacts()]
]

const b = (n: number, len = 32): Uint8Array => new Uint8Array(len).fill(n)

function row (n: number, o: Partial<ContactRow> = {}): ContactRow {
  return {
    id: `c${n}`, name: `name ${n}`, renamed: false, theirDisplayName: `name ${n}`, accountId: `acct${n}`, identityKey: b(n, 33),
    address: `addr${n}`, verified: false, createdAt: 100 + n, theirMailboxId: b(n), theirMailboxKey: b(n + 1), theirRelays: ['/r/1'],
    theirPeerId: `peer${n}`, theirAddresses: ['/a/1', '/a/2'], theirPresenceSecret: b(n + 2), theirCertificate: b(n + 3, 10),
    myMailboxId: b(n + 100), myMailboxKey: b(n + 101), myMailboxPrivateKey: b(n + 102, 48), myMailboxPublicKey: b(n + 103),
    myPresenceSecret: b(n + 104), myPresenceSigningKey: b(n + 105, 48), myPresencePublicKey: b(n + 106), theirPresenceKey: b(n + 107), ...o
  }
}

const same = (a: ContactRow | undefined, e: ContactRow): void => {
  assert.ok(a !== undefined)
  // Buffers compare as hex at any depth (SQLite returns Buffer, rows are built from Uint8Array).
  const norm = (v: unknown): unknown => v instanceof Uint8Array
    ? Buffer.from(v).toString('hex')
    : v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, norm(x)])) : v
  assert.deepEqual(norm(a), norm(e))
}

function pendingInvite (n: number, createdAt: number): PendingInvite {
  return { mailboxId: b(n), mailboxKey: b(n + 1), mailboxPrivateKey: b(n + 2, 48), mailboxPublicKey: b(n + 3), presenceSecret: b(n + 4), preKeyId: n, kyberPreKeyId: n + 1000, createdAt, expiresAt: createdAt + 10 }
}

for (const [name, make] of IMPLEMENTATIONS) {
  test(`${name}: contacts are stored whole, found by id and account id, listed oldest first`, (t) => {
    const s = make(t)
    const c2 = row(2)
    // The optional fields left out altogether.
    const omitted = new Set(['theirPeerId', 'theirPresenceSecret', 'theirCertificate', 'theirPresenceKey'])
    const bare: Record<string, unknown> = Object.fromEntries(Object.entries(row(1)).filter(([k]) => !omitted.has(k)))
    s.insert(c2)
    s.insert(bare as unknown as ContactRow)
    same(s.get('c2'), c2)
    same(s.get('c1'), bare as unknown as ContactRow)
    assert.equal('theirPeerId' in (s.get('c1') ?? {}), false)
    same(s.byAccountId('acct2'), c2)
    assert.equal(s.get('nope'), undefined)
    assert.equal(s.byAccountId('nope'), undefined)
    assert.deepEqual(s.all().map((c) => c.id), ['c1', 'c2'])
    s.insert(row(3, { createdAt: 101 }))
    assert.deepEqual(s.all().map((c) => c.id), ['c1', 'c3', 'c2'])
  })

  test(`${name}: id, account id, address and my mailbox id are unique`, (t) => {
    const s = make(t)
    s.insert(row(1))
    assert.throws(() => { s.insert(row(1, { accountId: 'other', address: 'other', myMailboxId: b(200) })) })
    assert.throws(() => { s.insert(row(2, { accountId: 'acct1' })) })
    assert.throws(() => { s.insert(row(3, { address: 'addr1' })) })
    assert.throws(() => { s.insert(row(4, { myMailboxId: b(101) })) })
    assert.deepEqual(s.all().map((c) => c.id), ['c1'])
  })

  test(`${name}: a card updates their side and keeps a name the user chose`, (t) => {
    const s = make(t)
    s.insert(row(1))
    s.insert(row(2))
    const card = { displayName: 'New Name', mailboxId: b(50), mailboxKey: b(51), relays: ['/r/9'], addresses: [], presenceSecret: b(52), presenceKey: b(54), certificate: b(53, 12) }
    s.updateTheirs('c1', { ...card, peerId: 'peerX' })
    const c1 = s.get('c1')
    assert.equal(c1?.name, 'New Name')
    assert.equal(c1?.theirDisplayName, 'New Name')
    assert.equal(c1?.theirPeerId, 'peerX')
    assert.deepEqual(c1?.theirRelays, ['/r/9'])
    assert.deepEqual(c1?.theirAddresses, [])
    assert.deepEqual([...(c1?.theirMailboxId ?? [])], [...b(50)])
    assert.equal(s.rename('c2', 'Mine'), true)
    s.updateTheirs('c2', card)
    const c2 = s.get('c2')
    assert.equal(c2?.name, 'Mine')
    assert.equal(c2?.renamed, true)
    assert.equal(c2?.theirDisplayName, 'New Name')
    assert.equal(c2?.theirPeerId, undefined, 'a card without a peer id clears it')
    assert.equal(s.rename('nope', 'x'), false)
    assert.equal(s.setVerified('c1', true), true)
    assert.equal(s.get('c1')?.verified, true)
    assert.equal(s.setVerified('c1', false), true)
    assert.equal(s.get('c1')?.verified, false)
    assert.equal(s.setVerified('nope', true), false)
  })

  test(`${name}: pending invites are kept oldest first, promise their prekeys and are deleted by mailbox id`, (t) => {
    const s = make(t)
    s.insertPending(pendingInvite(7, 300))
    s.insertPending(pendingInvite(3, 200))
    assert.throws(() => { s.insertPending(pendingInvite(7, 400)) })
    assert.deepEqual(s.pending().map((p) => p.preKeyId), [3, 7])
    assert.deepEqual([...s.pendingPreKeyIds()].sort(), [3, 7])
    const p = s.pending()[0]
    assert.equal(p?.kyberPreKeyId, 1003)
    assert.equal(p?.expiresAt, 210)
    assert.deepEqual([...(p?.mailboxPrivateKey ?? [])], [...b(5, 48)])
    s.deletePending(b(3))
    s.deletePending(b(99))
    assert.deepEqual(s.pending().map((x) => x.preKeyId), [7])
    assert.deepEqual([...s.pendingPreKeyIds()], [7])
  })
}

for (const [name, make] of IMPLEMENTATIONS) {
  test(`${name}: a retired invite mailbox is kept, marked switched once, stops being fetched, then is forgotten`, (t) => {
    const s = make(t)
    const retired = { mailboxId: b(70), mailboxKey: b(71), privateKey: b(72, 48), publicKey: b(73), fetching: true }
    s.insert(row(1, { retired }))
    same(s.get('c1'), row(1, { retired }))
    s.setSwitched('c1', 500)
    s.setSwitched('c1', 900)
    assert.equal(s.get('c1')?.retired?.switchedAt, 500, 'the first sighting counts')
    s.stopFetchingRetired('c1')
    assert.equal(s.get('c1')?.retired?.fetching, false)
    assert.deepEqual([...(s.get('c1')?.retired?.mailboxKey ?? [])], [...b(71)], 'the key still opens late copies')
    s.setMyPresenceKeys('c1', b(80, 48), b(81))
    assert.deepEqual([...(s.get('c1')?.myPresencePublicKey ?? [])], [...b(81)])
    s.dropRetired('c1')
    assert.equal(s.get('c1')?.retired, undefined)
  })
}
