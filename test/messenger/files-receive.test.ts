// The receiving side of a direct file (issue 12) beyond files.test.ts: a file announced over the direct connection
// is taken from the sender's stream alone, the relays not asked for it; and an incoming text costs no query of the
// file transfers (real SQLCipher store, the file transfers driven by their events).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { newFileKey } from '../../src/e2ee/file-crypto.ts'
import { FileTransfers, type FileCore } from '../../src/messenger/files/transfers.ts'
import type { MessageView, MessengerEvent } from '../../src/messenger/types.ts'
import type { BlobChannel } from '../../src/net/blob-client.ts'
import type { DeviceNode } from '../../src/net/node.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { openDatabase } from '../../src/store/db.ts'
import { MIGRATIONS } from '../../src/store/schema.ts'
import { blobIdOf, chunkCount, FILE_CIPHER_CHUNK_BYTES, FILE_HEADER_BYTES, type FileDescriptor } from '../../src/wire/file.ts'
import { introduce, person, startTestRelay, tempDir } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'

const MiB = 1024 * 1024

test('a file announced over the direct connection comes straight from the sender; the receiver fetches nothing from its relays', { timeout: 120_000 }, async (t) => {
  const relay = await startTestRelay(t)
  let relayFetches = 0
  let delivered = false
  // Every use of a relay for fetching before bob's file is complete, counted on his node (once complete, bob deletes
  // the relay copies through the same call).
  const countFetches = (n: DeviceNode): void => {
    const withBlobStore = n.withBlobStore.bind(n)
    n.withBlobStore = async <T>(addr: string, slot: 'send' | 'fetch', fn: (ch: BlobChannel) => Promise<T>, o?: { signal?: AbortSignal }): Promise<T> => {
      if (slot === 'fetch' && !delivered) relayFetches++
      return await withBlobStore(addr, slot, fn, o)
    }
  }
  const alice = await person(t, 'alice', { relays: [relay.addr] })
  const bob = await person(t, 'bob', { relays: [relay.addr], onNetwork: countFetches })
  const { aToB, bToA } = await introduce(alice, bob)
  bob.m().subscribe((e) => { if (e.type === 'file' && e.file.direction === 'in' && e.file.state === 'delivered') delivered = true })
  const bytes = randomBytes(3 * MiB)
  const path = join(tempDir(t, '0m1-file-'), 'photo.bin')
  writeFileSync(path, bytes)
  const sent = await alice.m().files?.send(aToB, path)
  assert.ok(sent !== undefined)
  const got = await waitFor(() => bob.m().files?.list(bToA).find((f) => f.messageId === sent.message.id && f.state === 'delivered'), 'bob has the file')
  assert.equal(got.path, 'direct')
  const announcement = (await bob.m().messages(bToA)).find((m) => m.id === sent.message.id)
  assert.equal(announcement?.path, 'direct', 'the announcement came over the direct connection')
  // Before: the announcement started a relay download at once while the sender opened its stream.
  assert.equal(relayFetches, 0, 'bob asked no relay for the file')
  const out = join(tempDir(t, '0m1-save-'), 'out.bin')
  await bob.m().files?.save(sent.message.id, out)
  assert.ok(readFileSync(out).equals(bytes), 'the saved file is the one sent')
})

test('an incoming text makes no query of the file transfers; an announced file is looked up and its download started', async (t) => {
  const dir = tempDir(t, '0m1-files-')
  const db = openDatabase({ path: join(dir, 'device.db'), key: randomBytes(32), migrations: MIGRATIONS })
  t.after(() => { db.close() })
  let queries = 0
  const prepare = db.prepare.bind(db)
  db.prepare = ((sql: string) => { if (sql.includes('file_transfers')) queries++; return prepare(sql) }) as typeof db.prepare
  const listeners = new Set<(e: MessengerEvent) => void>()
  const core: FileCore = {
    send: async () => { throw new Error('not sent in this test') },
    subscribe: (l) => { listeners.add(l); return () => { listeners.delete(l) } },
    publish: (e) => { for (const l of listeners) l(e) },
    messages: async () => []
  }
  const files = new FileTransfers({ db, dataDir: dir, net: () => undefined, contact: () => undefined, core, logger: silentLogger })
  files.start()
  t.after(async () => { await files.stop() })
  const incoming = (id: string): MessengerEvent => ({ type: 'message', message: { id, contactId: 'c1', direction: 'in', text: 'hi', seq: 1, at: 1, state: 'received', path: 'mailbox' } as unknown as MessageView })

  queries = 0
  for (let i = 0; i < 50; i++) core.publish(incoming(`text-${i}`))
  assert.equal(queries, 0, 'texts are not looked up in file_transfers')

  const capability = randomBytes(32)
  const size = 100_000
  const file: FileDescriptor = {
    name: 'a.bin', type: 'application/octet-stream', size, sha256: createHash('sha256').update('x').digest(), key: newFileKey(),
    header: new Uint8Array(FILE_HEADER_BYTES), chunks: chunkCount(size), blobId: blobIdOf(capability), capability, relays: []
  }
  files.announced('c1', 'file-1', file, 1)
  queries = 0
  core.publish(incoming('file-1'))
  assert.ok(queries > 0, 'the announced file is looked up')
  // Its download started: the chunk file was opened and replayed (nothing in it yet).
  await waitFor(() => files.statsForTest('file-1')?.resumedAt === 0, 'the download of the announced file starts')
  // Announced once: a second event for the same id is not looked up again.
  queries = 0
  core.publish(incoming('file-1'))
  assert.equal(queries, 0)
})

test('a direct receiver confirms a chunk only once an fdatasync that began after its write has finished', { timeout: 120_000 }, async (t) => {
  // FileHandle's own methods, watched in this process (both devices are in it; only the receiver writes chunks with
  // writev): the bytes whose write had completed (from the first, without a gap) when each fdatasync began are
  // durable once it returns. Writes and syncs are slowed, so chunks are verified while a sync runs and while
  // earlier writes are still under way: a sync that counted those would confirm more than is durable.
  const probe = await open(join(tempDir(t, '0m1-probe-'), 'p'), 'w')
  const proto = Object.getPrototypeOf(probe) as FileHandle
  await probe.close()
  const { writev, datasync } = proto // eslint-disable-line @typescript-eslint/unbound-method
  const pause = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
  const ends = new Map<number, number>()
  let written = 0
  let durable = 0
  proto.writev = async function (this: FileHandle, ...a: Parameters<FileHandle['writev']>) {
    await pause(4)
    const r = await writev.apply(this, a)
    ends.set(a[1] ?? 0, (a[1] ?? 0) + r.bytesWritten)
    for (let e = ends.get(written); e !== undefined; e = ends.get(written)) written = e
    return r
  } as FileHandle['writev']
  proto.datasync = async function (this: FileHandle) {
    const covered = written
    await pause(15)
    await datasync.call(this)
    durable = Math.max(durable, covered)
  }
  t.after(() => { proto.writev = writev; proto.datasync = datasync })

  const relay = await startTestRelay(t)
  const alice = await person(t, 'alice', { relays: [relay.addr] })
  const bob = await person(t, 'bob', { relays: [relay.addr] })
  const { aToB } = await introduce(alice, bob)
  const path = join(tempDir(t, '0m1-file-'), 'data.bin')
  writeFileSync(path, randomBytes(8 * MiB))
  // Alice's count of what bob confirmed, checked against what is durable at bob at that very moment.
  const seen: Array<{ confirmed: number, durable: number }> = []
  ;(alice.m().files as FileTransfers).onConfirmedForTest((_id, n) => { seen.push({ confirmed: n * FILE_CIPHER_CHUNK_BYTES, durable }) })
  const sent = await alice.m().files?.send(aToB, path)
  assert.ok(sent !== undefined)
  await waitFor(() => alice.m().files?.list(aToB).find((f) => f.messageId === sent.message.id && f.state === 'delivered'), 'alice sees the file delivered')
  assert.ok(seen.length >= 2, 'progress was seen')
  for (const s of seen) assert.ok(s.confirmed <= s.durable, `confirmed ${s.confirmed} bytes with ${s.durable} durable`)
})
