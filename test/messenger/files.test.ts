// Files with real nodes (issue 12): messenger hosts on SQLCipher and libsignal, real relays with their blob store,
// real libp2p on loopback. Each test waits on conditions with a bound; sizes are the issue's.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import type { Connection, Stream } from '@libp2p/interface'
import { MessengerError } from '../../src/messenger/errors.ts'
import type { FileTransfers } from '../../src/messenger/files/transfers.ts'
import { SealJob } from '../../src/messenger/files/sealing.ts'
import type { FileView } from '../../src/messenger/files/types.ts'
import { createPeople, person, startTestRelay, tempDir, introduce, type Person } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'
import { FILE_PROTOCOL, FILE_PROTOCOL_V1, FILE_PROTOCOL_V1_1, FILE_PROTOCOLS, fileDurableApart, fileWindow, MAX_BLOB_PUTS_IN_FLIGHT, MAX_FILE_PUTS_IN_FLIGHT } from '../../src/wire/blob.ts'
import { FILE_CHUNK_BYTES, FILE_CIPHER_CHUNK_BYTES } from '../../src/wire/file.ts'
import { MAX_FILE_UNSYNCED_BYTES } from '../../src/messenger/files/transfers.ts'

const MiB = 1024 * 1024

function files (p: Person): FileTransfers {
  const f = p.m().files
  if (f === undefined) throw new Error('no file transfers')
  return f as FileTransfers
}

function sha (b: Uint8Array): string { return createHash('sha256').update(b).digest('hex') }

function fileOf (t: { after: (fn: () => unknown) => void }, size: number, name = 'data.bin'): { path: string, bytes: Buffer } {
  const dir = tempDir(t, '0m1-file-')
  const bytes = randomBytes(size)
  const path = join(dir, name)
  writeFileSync(path, bytes)
  return { path, bytes }
}

async function waitFile (p: Person, contactId: string, messageId: string, ok: (f: FileView) => boolean, what: string, timeoutMs = 60_000): Promise<FileView> {
  return await waitFor(() => {
    const f = files(p).list(contactId).find((x) => x.messageId === messageId)
    if (f?.state === 'failed') throw new Error(`${what}: failed: ${f.failure ?? ''}`)
    return f !== undefined && ok(f) ? f : undefined
  }, what, timeoutMs)
}

/** Stops `p` (its host, as a crash would cut the transfer) from inside the first progress event at half or more:
 * no polling lag, so a fast transfer cannot finish first. Resolves with the view at that moment. */
async function stopAtHalf (p: Person, messageId: string): Promise<FileView> {
  return await new Promise((resolve) => {
    let stopping = false
    const stop = (f: FileView): void => {
      if (stopping || f.messageId !== messageId || f.direction !== 'in' || f.doneChunks < f.chunks / 2) return
      stopping = true
      off()
      void p.stop().then(() => { resolve(f) })
    }
    const off = p.m().subscribe((e) => { if (e.type === 'file') stop(e.file) })
    // It may be there already: a fast transfer that reached a hold (holdIncomingForTest) before this subscribed had
    // its last event then, and no other comes until the stop.
    const now = files(p).get(messageId)
    if (now !== undefined) stop(now)
  })
}

async function saved (t: { after: (fn: () => unknown) => void }, p: Person, messageId: string): Promise<Buffer> {
  const out = join(tempDir(t, '0m1-save-'), 'out.bin')
  await files(p).save(messageId, out)
  return readFileSync(out)
}

test('a 30 MB file goes straight to an online contact over the direct connection, hash checked', { timeout: 120_000 }, async (t) => {
  const { people: [alice, bob], contact } = await createPeople(t, { relays: 1 }) as unknown as { people: [Person, Person], contact: (a: Person, b: Person) => string }
  const { path, bytes } = fileOf(t, 30 * MiB)
  // Every count alice takes as confirmed (her resume point) was on bob's disk then: an fdatasync had covered it.
  const ahead: string[] = []
  let confirmations = 0
  files(alice).onConfirmedForTest((id, n) => {
    confirmations++
    const onDisk = files(bob).statsForTest(id)?.durableChunks ?? 0
    if (n > onDisk) ahead.push(`${n} confirmed, ${onDisk} on disk`)
  })
  const { message } = await files(alice).send(contact(alice, bob), path, 'thirty megabytes')
  const out = await waitFile(alice, contact(alice, bob), message.id, (f) => f.state === 'delivered', 'alice sees the file delivered')
  assert.deepEqual(ahead, [])
  assert.ok(confirmations > 0)
  assert.equal(out.path, 'direct')
  const got = await waitFile(bob, contact(bob, alice), message.id, (f) => f.state === 'delivered', 'bob has the whole file')
  assert.equal(got.path, 'direct')
  assert.equal(got.size, 30 * MiB)
  assert.equal(sha(await saved(t, bob, message.id)), sha(bytes))
  // Nothing went through a relay: every chunk crossed the direct stream once.
  assert.equal(files(alice).statsForTest(message.id)?.sentRelay, 0)
  assert.equal(files(alice).statsForTest(message.id)?.sentDirect, got.chunks)
  const texts = await bob.m().messages(contact(bob, alice))
  assert.ok(texts.some((m) => m.id === message.id && m.text === 'thirty megabytes'))
})

test('a 10 MB file sent while the contact is offline is parked on two relays and completes when it returns', { timeout: 120_000 }, async (t) => {
  const { people: [alice, bob], contact, relays } = await createPeople(t, { relays: 2 }) as unknown as { people: [Person, Person], contact: (a: Person, b: Person) => string, relays: Array<Awaited<ReturnType<typeof startTestRelay>>> }
  await bob.stop()
  const { path, bytes } = fileOf(t, 10 * MiB, 'photo.png')
  const { message, file } = await files(alice).send(contact(alice, bob), path)
  assert.equal(file.type, 'image/png')
  const parked = await waitFile(alice, contact(alice, bob), message.id, (f) => f.relayCopies === 2, 'alice parks the file on both relays')
  assert.equal(parked.state, 'on-relay')
  assert.equal(parked.path, 'relay')
  for (const r of relays) assert.ok(r.handle.blobs.totalBytes() >= 10 * MiB, 'each relay holds a full encrypted copy')
  await bob.start()
  const got = await waitFile(bob, contact(bob, alice), message.id, (f) => f.state === 'delivered', 'bob fetches the file after returning')
  assert.equal(got.path, 'relay')
  assert.equal(sha(await saved(t, bob, message.id)), sha(bytes))
  // Bob deletes what he fetched from the relays.
  await waitFor(() => relays.every((r) => r.handle.blobs.totalBytes() === 0), 'relays drop the fetched blob', 10_000)
  // ... which tells Alice it was delivered.
  const done = await waitFile(alice, contact(alice, bob), message.id, (f) => f.state === 'delivered', 'alice sees the parked file delivered')
  assert.equal(done.path, 'relay')
})

test('a download interrupted at about half by killing the recipient resumes from the last confirmed chunk', { timeout: 120_000 }, async (t) => {
  const { people: [alice, bob], contact } = await createPeople(t, { relays: 1 }) as unknown as { people: [Person, Person], contact: (a: Person, b: Person) => string }
  await bob.stop()
  const { path, bytes } = fileOf(t, 30 * MiB)
  const { message, file } = await files(alice).send(contact(alice, bob), path)
  await waitFile(alice, contact(alice, bob), message.id, (f) => f.state === 'on-relay', 'alice parks the file')
  await bob.start()
  // Chunks past the half wait for the kill, so a fast download cannot finish before it.
  files(bob).holdIncomingForTest(Math.ceil(file.chunks / 2))
  const half = await stopAtHalf(bob, message.id) // the recipient dies mid-transfer
  const before = half.doneChunks
  assert.ok(before < half.chunks, 'the file was not complete when bob stopped')
  await bob.start()
  const got = await waitFile(bob, contact(bob, alice), message.id, (f) => f.state === 'delivered', 'bob completes after the restart')
  const stats = files(bob).statsForTest(message.id)
  assert.ok(stats !== undefined)
  // The restart resumed at (or after) the chunks confirmed before the kill, and fetched only the rest.
  assert.ok(stats.resumedAt >= before, `resumed at ${stats.resumedAt}, had ${before}`)
  assert.equal(stats.fetched, got.chunks - stats.resumedAt)
  assert.equal(sha(await saved(t, bob, message.id)), sha(bytes))
})

test('a tampered chunk on one relay is detected and fetched from the other relay', { timeout: 120_000 }, async (t) => {
  const { people: [alice, bob], contact, relays } = await createPeople(t, { relays: 2 }) as unknown as { people: [Person, Person], contact: (a: Person, b: Person) => string, relays: Array<Awaited<ReturnType<typeof startTestRelay>>> }
  await bob.stop()
  const { path, bytes } = fileOf(t, 2 * MiB)
  const { message } = await files(alice).send(contact(alice, bob), path)
  await waitFile(alice, contact(alice, bob), message.id, (f) => f.relayCopies === 2, 'alice parks the file on both relays')
  // Both relays hold the same blob id; alter chunk 5 on each one's copy in turn? No: on the first relay bob tries only.
  const [first] = relays
  assert.ok(first !== undefined)
  const blob = first.handle.db.prepare('SELECT id FROM blobs').get() as { id: Uint8Array }
  assert.ok(first.handle.blobs.tamperForTest(blob.id, 5))
  await bob.start()
  await waitFile(bob, contact(bob, alice), message.id, (f) => f.state === 'delivered', 'bob completes from the other relay')
  assert.ok((files(bob).statsForTest(message.id)?.badChunks ?? 0) >= 1, 'the altered chunk was refused')
  assert.equal(sha(await saved(t, bob, message.id)), sha(bytes))
})

test('a file over the limit is refused with one sentence before anything is sent', { timeout: 60_000 }, async (t) => {
  const { people: [alice, bob], contact } = await createPeople(t, { relays: 1 }) as unknown as { people: [Person, Person], contact: (a: Person, b: Person) => string }
  const dir = tempDir(t, '0m1-big-')
  const path = join(dir, 'big.bin')
  writeFileSync(path, '')
  truncateSync(path, files(alice).maxBytes + 1) // sparse: no 100 MB written
  const before = (await alice.m().messages(contact(alice, bob))).length
  await assert.rejects(files(alice).send(contact(alice, bob), path), (err: unknown) => {
    assert.ok(MessengerError.is(err, 'FILE_TOO_LARGE'))
    assert.match(err.message, /^The file is \d+ MB and files may be at most 100 MB; nothing was sent\.$/)
    return true
  })
  assert.equal((await alice.m().messages(contact(alice, bob))).length, before)
  assert.deepEqual(files(alice).list(contact(alice, bob)), [])
})

test('a relay over its blob quota refuses with a reason and the sender parks the file on its other relay', { timeout: 120_000 }, async (t) => {
  // The first relay takes at most 4 chunks of blobs; the second is ordinary.
  const small = await startTestRelay(t, { limits: { maxBlobTotalBytes: 4 * 65553 } })
  const big = await startTestRelay(t)
  const relays = [small.addr, big.addr]
  const alice = await person(t, 'alice', { relays })
  const bob = await person(t, 'bob', { relays })
  const { aToB, bToA } = await introduce(alice, bob)
  await waitFor(async () => (await bob.m().messages(bToA)).length >= 0 && (await alice.m().contacts()).length === 1, 'contacts ready')
  await bob.stop()
  const { path, bytes } = fileOf(t, 1 * MiB)
  const { message } = await files(alice).send(aToB, path)
  const parked = await waitFile(alice, aToB, message.id, (f) => f.relayCopies >= 1, 'alice parks the file on the relay with room')
  assert.equal(parked.state, 'on-relay')
  assert.equal(small.handle.blobService.refusals.get('QUOTA_BYTES') !== undefined, true, 'the full relay refused with QUOTA_BYTES')
  await bob.start()
  await waitFile(bob, bToA, message.id, (f) => f.state === 'delivered', 'bob fetches it from the relay that had room')
  assert.equal(sha(await saved(t, bob, message.id)), sha(bytes))
})

test('a direct transfer cut at about half by killing the recipient resumes without re-sending the confirmed chunks', { timeout: 120_000 }, async (t) => {
  const { people: [alice, bob], contact } = await createPeople(t, { relays: 1 }) as unknown as { people: [Person, Person], contact: (a: Person, b: Person) => string }
  const { path, bytes } = fileOf(t, 30 * MiB)
  // Chunks past the half wait for the kill, so the transfer cannot finish before bob stops (set at 3/4 until the
  // announcement gives the chunk count, then at the half).
  files(bob).holdIncomingForTest(Math.ceil(30 * MiB / FILE_CHUNK_BYTES * 3 / 4))
  const { message, file } = await files(alice).send(contact(alice, bob), path)
  files(bob).holdIncomingForTest(Math.ceil(file.chunks / 2))
  // Bob holds at the half; the kill comes once alice has what he took confirmed durable (1.2.0 confirms apart from
  // its answers: within FILE_SYNC_AFTER_MS of the last chunk). A kill before that is the next test's.
  const half = await waitFile(bob, contact(bob, alice), message.id, (f) => f.doneChunks >= f.chunks / 2, 'bob reaches the half')
  await waitFor(() => (files(alice).statsForTest(message.id)?.confirmedDirect ?? 0) >= half.doneChunks ? true : undefined, 'alice has the half confirmed durable')
  await bob.stop()
  const confirmed = half.doneChunks
  assert.ok(confirmed < half.chunks, 'the file was not complete when bob stopped')
  assert.equal(half.path, 'direct')
  await bob.start()
  const got = await waitFile(bob, contact(bob, alice), message.id, (f) => f.state === 'delivered', 'bob completes after the restart')
  const a = files(alice).statsForTest(message.id)
  const b = files(bob).statsForTest(message.id)
  assert.ok(a !== undefined && b !== undefined)
  assert.ok(b.resumedAt >= confirmed, `bob resumed at ${b.resumedAt}, had ${confirmed}`)
  // After the restart bob took only the chunks he lacked, by whichever path.
  assert.equal(b.fetched + b.receivedDirect, got.chunks - b.resumedAt)
  // Alice re-sent at most the chunks that were in flight, unconfirmed, when bob died (a direct stream's window),
  // and one relay window's worth (well under the half a restart from zero would re-send).
  const resent = a.sentDirect + a.sentRelay - got.chunks
  assert.ok(resent <= MAX_FILE_PUTS_IN_FLIGHT + MAX_BLOB_PUTS_IN_FLIGHT, `alice re-sent ${resent} chunks`)
  assert.ok(MAX_FILE_PUTS_IN_FLIGHT + MAX_BLOB_PUTS_IN_FLIGHT < got.chunks / 2, 'the bound would still catch a restart from zero')
  assert.equal(sha(await saved(t, bob, message.id)), sha(bytes))
})

test('chunks answered \'received\' but not yet durable are never counted confirmed: a receiver killed then, its unsynced chunks lost, gets the whole file from the durable point', { timeout: 120_000 }, async (t) => {
  const { people: [alice, bob], contact } = await createPeople(t, { relays: 1 }) as unknown as { people: [Person, Person], contact: (a: Person, b: Person) => string }
  const { path, bytes } = fileOf(t, 20 * MiB)
  // Bob's background fdatasyncs never start, and he takes 200 chunks (12.5 MiB, under MAX_FILE_UNSYNCED_BYTES, so no
  // backpressure sync either) and holds there: 200 answered 'received', none durable.
  files(bob).holdBackgroundSyncsForTest()
  files(bob).holdIncomingForTest(200)
  const { message } = await files(alice).send(contact(alice, bob), path)
  await waitFor(() => (files(bob).statsForTest(message.id)?.receivedDirect ?? 0) >= 200 ? true : undefined, 'bob answers 200 chunks received')
  // Time for any (wrong) confirmation to arrive: bob's writer sends 'durable' the moment a sync ends.
  await new Promise((resolve) => setTimeout(resolve, 300))
  assert.equal(files(bob).statsForTest(message.id)?.durableChunks, 0)
  assert.equal(files(alice).statsForTest(message.id)?.confirmedDirect, 0, 'alice counted chunks confirmed that were not on bob\'s disk')
  assert.equal(files(alice).list(contact(alice, bob)).find((f) => f.messageId === message.id)?.doneChunks, 0)
  // Bob dies, and (as a power cut would) what no sync covered is lost: his chunk file is cut to its durable point.
  await bob.stop()
  const inFile = chunkFiles(bob, 'in')
  assert.equal(inFile.length, 1)
  truncateSync(join(bob.dir, 'files', inFile[0] as string), 0)
  // Alice parks the file on the relay from her resume point, which must be the durable one (0): had she taken the
  // 'received' answers as confirmations, the relay would lack chunks 0-199 and bob could never complete it there.
  await waitFile(alice, contact(alice, bob), message.id, (f) => f.relayCopies >= 1, 'alice parks the file on the relay', 90_000)
  await bob.start()
  const got = await waitFile(bob, contact(bob, alice), message.id, (f) => f.state === 'delivered', 'bob completes the whole file', 90_000)
  assert.equal(files(bob).statsForTest(message.id)?.resumedAt, 0)
  // Parked whole, from the durable point, and fetched whole from there.
  assert.equal(files(alice).statsForTest(message.id)?.sentRelay, got.chunks)
  assert.equal(files(bob).statsForTest(message.id)?.fetched, got.chunks)
  assert.equal(sha(await saved(t, bob, message.id)), sha(bytes))
})

test('a receiver whose disk syncs lag holds its answers past MAX_FILE_UNSYNCED_BYTES not yet durable, and the file still completes', { timeout: 120_000 }, async (t) => {
  const { people: [alice, bob], contact } = await createPeople(t, { relays: 1 }) as unknown as { people: [Person, Person], contact: (a: Person, b: Person) => string }
  // 30 MiB: nearly twice the bound. Bob's background syncs never start: only the backpressure's syncs make chunks
  // durable, so without it nothing would be until the end, and the page cache would hold the whole file.
  const { path, bytes } = fileOf(t, 30 * MiB)
  files(bob).holdBackgroundSyncsForTest()
  const { message } = await files(alice).send(contact(alice, bob), path)
  const got = await waitFile(bob, contact(bob, alice), message.id, (f) => f.state === 'delivered', 'bob has the whole file')
  await waitFile(alice, contact(alice, bob), message.id, (f) => f.state === 'delivered', 'alice sees it delivered')
  const b = files(bob).statsForTest(message.id)
  assert.ok(b !== undefined)
  assert.equal(b.backgroundSyncs, 0)
  assert.ok(b.answerSyncs >= 1, 'no answer waited for a sync')
  const bound = Math.floor(MAX_FILE_UNSYNCED_BYTES / FILE_CIPHER_CHUNK_BYTES)
  // The bound, plus the puts already read ahead (the window) when it held the answers back.
  assert.ok(b.maxUnsyncedChunks > bound && b.maxUnsyncedChunks <= bound + MAX_FILE_PUTS_IN_FLIGHT, `at most ${b.maxUnsyncedChunks} chunks not durable at once`)
  assert.ok(got.chunks > bound + MAX_FILE_PUTS_IN_FLIGHT)
  assert.equal(sha(await saved(t, bob, message.id)), sha(bytes))
})

function chunkFiles (p: Person, prefix: 'in' | 'out'): string[] {
  return readdirSync(join(p.dir, 'files')).filter((n) => n.startsWith(`${prefix}-`) && n.endsWith('.chunks'))
}

test('a file message deleted for everyone goes on both sides (rows, chunks, content); the sender\'s chunks go once delivered', { timeout: 120_000 }, async (t) => {
  const { people: [alice, bob], contact } = await createPeople(t, { relays: 1 }) as unknown as { people: [Person, Person], contact: (a: Person, b: Person) => string }
  const { path } = fileOf(t, 1 * MiB)
  const { message } = await files(alice).send(contact(alice, bob), path)
  await waitFile(alice, contact(alice, bob), message.id, (f) => f.state === 'delivered', 'alice sees the file delivered')
  await waitFile(bob, contact(bob, alice), message.id, (f) => f.state === 'delivered', 'bob has the file')
  await waitFor(() => chunkFiles(alice, 'out').length === 0 ? true : undefined, 'alice drops her encrypted copy once delivered', 10_000)
  assert.equal(chunkFiles(bob, 'in').length, 1)
  await assert.rejects(files(alice).read(message.id), (e) => MessengerError.is(e, 'UNKNOWN_FILE'))
  await alice.m().deleteMessage(contact(alice, bob), message.id, { forEveryone: true })
  await waitFor(() => files(bob).list(contact(bob, alice)).length === 0 && chunkFiles(bob, 'in').length === 0 ? true : undefined, 'bob drops the deleted file', 30_000)
  assert.deepEqual(files(alice).list(contact(alice, bob)), [])
  await assert.rejects(files(bob).read(message.id), (e) => MessengerError.is(e, 'UNKNOWN_FILE'))
})

test('deleting a file message for me mid-download stops the download, removes its row and chunks, and deletes the relay copy', { timeout: 120_000 }, async (t) => {
  const { people: [alice, bob], contact, relays } = await createPeople(t, { relays: 1 }) as unknown as { people: [Person, Person], contact: (a: Person, b: Person) => string, relays: Array<Awaited<ReturnType<typeof startTestRelay>>> }
  await bob.stop()
  const { path } = fileOf(t, 10 * MiB)
  const { message } = await files(alice).send(contact(alice, bob), path)
  await waitFile(alice, contact(alice, bob), message.id, (f) => f.state === 'on-relay', 'alice parks the file')
  await bob.start()
  const deleted = new Promise<void>((resolve, reject) => {
    const off = bob.m().subscribe((e) => {
      if (e.type !== 'file' || e.file.messageId !== message.id || e.file.doneChunks === 0) return
      off()
      bob.m().deleteMessage(contact(bob, alice), message.id).then(() => { resolve() }, reject)
    })
  })
  await deleted
  await waitFor(() => files(bob).list(contact(bob, alice)).length === 0 && chunkFiles(bob, 'in').length === 0 ? true : undefined, 'bob drops the file', 30_000)
  const chunks = files(alice).get(message.id)?.chunks ?? 0
  assert.ok((files(bob).statsForTest(message.id)?.fetched ?? 0) < chunks, 'the download stopped before the end')
  await assert.rejects(files(bob).read(message.id), (e) => MessengerError.is(e, 'UNKNOWN_FILE'))
  // The receiver's delete takes the relay copy it could still fetch with it (its capability allows it): the relay
  // no longer holds the blob, though bob never completed (and so never fetched-and-deleted) it.
  const ref = { blobId: files(alice).descriptorForTest(message.id)?.blobId ?? new Uint8Array(16), capability: files(alice).descriptorForTest(message.id)?.capability ?? new Uint8Array(32) }
  await waitFor(() => relays[0]?.handle.blobs.totalBytes() === 0 ? true : undefined, 'the relay drops the blob bob deleted', 30_000)
  assert.equal(relays[0]?.handle.blobs.status(ref.blobId, ref.capability, Date.now()).ok, false)
})

test('deleting a contact removes its files; save refuses a planted partial file or link', { timeout: 120_000 }, async (t) => {
  const { people: [alice, bob], contact } = await createPeople(t, { relays: 1 }) as unknown as { people: [Person, Person], contact: (a: Person, b: Person) => string }
  const { path, bytes } = fileOf(t, 1 * MiB)
  const { message } = await files(alice).send(contact(alice, bob), path)
  await waitFile(bob, contact(bob, alice), message.id, (f) => f.state === 'delivered', 'bob has the file')
  // A link planted where save writes its partial file is not followed.
  const dir = tempDir(t, '0m1-plant-')
  const victim = join(dir, 'victim.txt')
  writeFileSync(victim, 'keep me')
  const out = join(dir, 'out.bin')
  symlinkSync(victim, `${out}.0m1-partial`)
  await assert.rejects(files(bob).save(message.id, out), (e) => {
    assert.ok(MessengerError.is(e, 'FILE_UNREADABLE'))
    assert.match(e.message, /is in the way/)
    return true
  })
  assert.equal(readFileSync(victim, 'utf8'), 'keep me')
  assert.equal(sha(await saved(t, bob, message.id)), sha(bytes))
  await bob.m().deleteContact(contact(bob, alice))
  await waitFor(() => files(bob).list(contact(bob, alice)).length === 0 && chunkFiles(bob, 'in').length === 0 ? true : undefined, 'bob drops the contact\'s files', 30_000)
  await assert.rejects(files(bob).read(message.id), (e) => MessengerError.is(e, 'UNKNOWN_FILE'))
})

test('an announced file over this device\'s own limit is marked failed with the reason and never downloaded', { timeout: 120_000 }, async (t) => {
  const relay = await startTestRelay(t)
  const alice = await person(t, 'alice', { relays: [relay.addr] })
  const bob = await person(t, 'bob', { relays: [relay.addr], maxFileBytes: 1 * MiB })
  const { aToB, bToA } = await introduce(alice, bob)
  const { path } = fileOf(t, 2 * MiB)
  const { message } = await files(alice).send(aToB, path)
  const f = await waitFor(() => files(bob).list(bToA).find((x) => x.messageId === message.id), 'bob has the announcement', 30_000)
  assert.equal(f.state, 'failed')
  assert.match(f.failure ?? '', /too large: over this device's limit of 1\.0 MB/)
  // Alice gets nowhere directly and parks it; bob still fetches nothing.
  await waitFile(alice, aToB, message.id, (x) => x.state === 'on-relay', 'alice parks the file', 60_000)
  files(bob).wake()
  const stats = files(bob).statsForTest(message.id)
  assert.equal((stats?.fetched ?? 0) + (stats?.receivedDirect ?? 0), 0)
  assert.deepEqual(chunkFiles(bob, 'in'), [])
  assert.equal(files(bob).get(message.id)?.state, 'failed')
})

test('a file to a blocked contact is refused with BLOCKED and leaves no chunks behind', { timeout: 60_000 }, async (t) => {
  const { people: [alice, bob], contact } = await createPeople(t, { relays: 1 }) as unknown as { people: [Person, Person], contact: (a: Person, b: Person) => string }
  await alice.m().setBlocked(contact(alice, bob), true)
  const { path } = fileOf(t, 200_000)
  await assert.rejects(files(alice).send(contact(alice, bob), path), (e) => MessengerError.is(e, 'BLOCKED'))
  assert.deepEqual(chunkFiles(alice, 'out'), [])
  assert.deepEqual(files(alice).list(contact(alice, bob)), [])
})

test('a relay that rate-limits the sender\'s uploads refuses with RATE_LIMITED and the sender parks the file on its other relay', { timeout: 120_000 }, async (t) => {
  // The first relay takes 4 chunks per hour from one uploader; the second is ordinary.
  const limited = await startTestRelay(t, { limits: { blobUploadBytesPerWindow: 4 * 65553 } })
  const other = await startTestRelay(t)
  const relays = [limited.addr, other.addr]
  const alice = await person(t, 'alice', { relays })
  const bob = await person(t, 'bob', { relays })
  const { aToB, bToA } = await introduce(alice, bob)
  await bob.stop()
  const { path, bytes } = fileOf(t, 1 * MiB)
  const { message } = await files(alice).send(aToB, path)
  const parked = await waitFile(alice, aToB, message.id, (f) => f.relayCopies >= 1, 'alice parks the file on the relay that takes it')
  assert.equal(parked.state, 'on-relay')
  assert.ok((limited.handle.blobService.refusals.get('RATE_LIMITED') ?? 0) >= 1, 'the rate-limited relay refused with RATE_LIMITED')
  assert.ok(other.handle.blobs.totalBytes() >= 1 * MiB, 'the other relay holds the whole file')
  await bob.start()
  await waitFile(bob, bToA, message.id, (f) => f.state === 'delivered', 'bob fetches it from the other relay')
  assert.equal(sha(await saved(t, bob, message.id)), sha(bytes))
})

test('a second announcement reusing a received file\'s blob id (another key) is refused and leaves the first file intact, also after it goes', { timeout: 120_000 }, async (t) => {
  const { people: [alice, bob], contact } = await createPeople(t, { relays: 1 }) as unknown as { people: [Person, Person], contact: (a: Person, b: Person) => string }
  const { path, bytes } = fileOf(t, 1 * MiB)
  const { message } = await files(alice).send(contact(alice, bob), path)
  await waitFile(bob, contact(bob, alice), message.id, (f) => f.state === 'delivered', 'bob has the file')
  const real = files(bob).descriptorForTest(message.id)
  assert.ok(real !== undefined)
  // What a hostile group member can forge: the blob id every member knows, with a key of its own.
  const forged = { ...real, key: new Uint8Array(randomBytes(real.key.length)) }
  files(bob).announced(contact(bob, alice), 'forged-message', forged, Date.now())
  files(bob).wake()
  const f = files(bob).get('forged-message')
  assert.equal(f?.state, 'failed')
  assert.match(f.failure ?? '', /duplicate file id/)
  assert.equal(files(bob).get(message.id)?.state, 'delivered')
  assert.equal(sha(await saved(t, bob, message.id)), sha(bytes))
  // The forged row has no message: the restart's orphan sweep forgets it, and must not take the real chunk file along.
  await bob.stop()
  await bob.start()
  assert.equal(files(bob).get('forged-message'), undefined)
  assert.equal(files(bob).get(message.id)?.state, 'delivered')
  assert.equal(sha(await saved(t, bob, message.id)), sha(bytes))
})

test('a chunk write that fails once during a relay download does not stall it: the download reopens from disk and completes', { timeout: 120_000 }, async (t) => {
  const { people: [alice, bob], contact } = await createPeople(t, { relays: 1 }) as unknown as { people: [Person, Person], contact: (a: Person, b: Person) => string }
  await bob.stop()
  const { path, bytes } = fileOf(t, 2 * MiB)
  const { message } = await files(alice).send(contact(alice, bob), path)
  await waitFile(alice, contact(alice, bob), message.id, (f) => f.state === 'on-relay', 'alice parks the file')
  await alice.stop()
  await bob.start()
  // Before bob's first chunk arrives (the fetch needs the network first): its first write fails.
  files(bob).failNextWriteForTest()
  const got = await waitFile(bob, contact(bob, alice), message.id, (f) => f.state === 'delivered', 'bob completes the file after the failed write', 60_000)
  assert.equal(got.path, 'relay')
  assert.equal(sha(await saved(t, bob, message.id)), sha(bytes))
})

test('a receiver that speaks only /0m1/file/1.0.0 (16 puts buffered) still gets the file straight, at the smaller window', { timeout: 120_000 }, async (t) => {
  const relay = await startTestRelay(t)
  const alice = await person(t, 'alice', { relays: [relay.addr] })
  // Bob as the first version was: only 1.0.0 served (1.2.0 and 1.1.0 unhandled as soon as his node is up).
  const bob = await person(t, 'bob', { relays: [relay.addr], onNetwork: (n) => { void n.libp2p.unhandle([FILE_PROTOCOL, FILE_PROTOCOL_V1_1]) } })
  const { aToB, bToA } = await introduce(alice, bob)
  // 4 MiB: 64 chunks, four times what a 1.0.0 receiver buffers, so a sender keeping the 1.1.0 window would overrun it.
  const { path, bytes } = fileOf(t, 4 * MiB)
  const { message } = await files(alice).send(aToB, path)
  const got = await waitFile(bob, bToA, message.id, (f) => f.state === 'delivered', 'bob has the whole file')
  assert.equal(got.path, 'direct')
  assert.equal(files(alice).statsForTest(message.id)?.sentRelay, 0)
  assert.equal(sha(await saved(t, bob, message.id)), sha(bytes))
  assert.equal(fileWindow(FILE_PROTOCOL_V1), MAX_BLOB_PUTS_IN_FLIGHT)
  assert.equal(fileWindow(FILE_PROTOCOL), MAX_FILE_PUTS_IN_FLIGHT)
})

test('a receiver that speaks only /0m1/file/1.1.0 (each put answered once durable) still gets the file straight', { timeout: 120_000 }, async (t) => {
  const relay = await startTestRelay(t)
  const alice = await person(t, 'alice', { relays: [relay.addr] })
  // Bob as the previous version was: 1.1.0 (and 1.0.0) served, 1.2.0 unhandled as soon as his node is up.
  const bob = await person(t, 'bob', { relays: [relay.addr], onNetwork: (n) => { void n.libp2p.unhandle(FILE_PROTOCOL) } })
  const { aToB, bToA } = await introduce(alice, bob)
  const protocols: string[] = []
  const f = files(bob) as unknown as { handleStream: (s: Stream, c: Connection) => void }
  const serve = f.handleStream
  f.handleStream = (s, c) => { protocols.push(s.protocol ?? ''); serve(s, c) }
  const { path, bytes } = fileOf(t, 8 * MiB)
  const { message } = await files(alice).send(aToB, path)
  const got = await waitFile(bob, bToA, message.id, (x) => x.state === 'delivered', 'bob has the whole file')
  await waitFile(alice, aToB, message.id, (x) => x.state === 'delivered', 'alice sees it delivered')
  assert.equal(got.path, 'direct')
  assert.deepEqual([...new Set(protocols)], [FILE_PROTOCOL_V1_1], 'the stream was 1.1.0')
  assert.equal(files(alice).statsForTest(message.id)?.sentRelay, 0)
  const b = files(bob).statsForTest(message.id)
  // 1.1.0: every answer waited for a sync; nothing ran in the background.
  assert.ok(b !== undefined && b.answerSyncs > 0 && b.backgroundSyncs === 0, `bob's syncs: ${JSON.stringify(b)}`)
  assert.equal(sha(await saved(t, bob, message.id)), sha(bytes))
  assert.equal(fileDurableApart(FILE_PROTOCOL_V1_1), false)
  assert.equal(fileDurableApart(FILE_PROTOCOL), true)
})

test('a file announced over a direct connection whose stream never comes still completes from a relay, and nothing is left expecting it', { timeout: 120_000 }, async (t) => {
  const relay = await startTestRelay(t)
  const alice = await person(t, 'alice', { relays: [relay.addr] })
  // Bob serves no file protocol: the announcement goes direct, no direct file stream can ever open.
  const bob = await person(t, 'bob', { relays: [relay.addr], onNetwork: (n) => { void n.libp2p.unhandle([...FILE_PROTOCOLS]) } })
  const { aToB, bToA } = await introduce(alice, bob)
  const { path, bytes } = fileOf(t, MiB)
  const { message } = await files(alice).send(aToB, path)
  const got = await waitFile(bob, bToA, message.id, (f) => f.state === 'delivered', 'bob has the file from the relay')
  assert.equal(got.path, 'relay')
  assert.equal((await bob.m().messages(bToA)).find((m) => m.id === message.id)?.path, 'direct', 'the announcement did not come direct')
  assert.equal(files(bob).statsForTest(message.id)?.receivedDirect ?? 0, 0)
  assert.equal(sha(await saved(t, bob, message.id)), sha(bytes))
  assert.equal(files(bob).expectingDirectForTest(), 0)
})

test('a sender stopped mid-seal seals the rest after its restart, byte-identical, without re-sending the chunks the contact confirmed', { timeout: 120_000 }, async (t) => {
  const { people: [alice, bob], contact } = await createPeople(t, { relays: 1 }) as unknown as { people: [Person, Person], contact: (a: Person, b: Person) => string }
  const { path, bytes } = fileOf(t, 20 * MiB)
  const aToB = contact(alice, bob)
  const bToA = contact(bob, alice)
  // Sealing stops after 128 chunks (8 MiB) until alice stops: the announcement and those chunks go out first.
  const held = 128
  files(alice).holdSealingForTest(held)
  const sending = files(alice).send(aToB, path)
  sending.catch(() => {})
  const out = await waitFor(() => files(alice).list(aToB)[0], 'alice announced the file')
  const messageId = out.messageId
  // Bob's stored chunks (his progress events are throttled; the count is not).
  await waitFor(() => (files(bob).statsForTest(messageId)?.receivedDirect ?? 0) >= held ? true : undefined, 'bob stored every chunk sealed so far')
  assert.equal(files(bob).statsForTest(messageId)?.receivedDirect, held, 'nothing past the sealed part reached bob')
  // Alice's resume point moves only on bob's durable confirmations (his fdatasyncs run beside the transfer, /0m1/file/
  // 1.2.0), and is what her store holds: stopped before it covers every chunk bob wrote, she rightly sends the rest
  // again (a loaded run stopped 16 chunks early).
  await waitFor(() => (files(alice).list(aToB)[0]?.doneChunks ?? 0) >= held ? true : undefined, 'alice stored bob\'s durable confirmation of every chunk sealed so far')
  // The crash: alice stops while the file is half sealed; send() returns (the file's row goes on).
  await alice.stop()
  await sending
  await alice.start()
  const got = await waitFile(bob, bToA, messageId, (f) => f.state === 'delivered', 'bob completes after alice\'s restart')
  await waitFile(alice, aToB, messageId, (f) => f.state === 'delivered', 'alice sees it delivered')
  const a = files(alice).statsForTest(messageId)
  assert.ok(a !== undefined)
  assert.equal(a.resealed, 1, 'the restart sealed the file again from its source')
  // After the restart alice sent only what bob lacked: re-sealed chunks bob holds did not go out again, and the ones
  // that did opened under the first run's stream state (bob's opener went on from chunk `held`).
  assert.equal(a.sentDirect + a.sentRelay, got.chunks - held)
  assert.equal(files(bob).statsForTest(messageId)?.badChunks, 0)
  assert.equal(sha(await saved(t, bob, messageId)), sha(bytes))
})

test('a sender stopped mid-seal before any durable confirmation was stored resumes after its restart where the contact\'s status (synced first) says, and the file completes once, byte-identical', { timeout: 120_000 }, async (t) => {
  const { people: [alice, bob], contact } = await createPeople(t, { relays: 1 }) as unknown as { people: [Person, Person], contact: (a: Person, b: Person) => string }
  const { path, bytes } = fileOf(t, 20 * MiB)
  const aToB = contact(alice, bob)
  const bToA = contact(bob, alice)
  // Bob's background fdatasyncs wait until the end and the sealed part (128 chunks, 8 MiB) is under
  // MAX_FILE_UNSYNCED_BYTES: he writes every chunk alice sends before her stop and confirms none durable.
  const held = 128
  const releaseSyncs = files(bob).holdBackgroundSyncsForTest()
  // Released below; also at the end if an assertion fails first, so no held sync outlives the test.
  t.after(releaseSyncs)
  files(alice).holdSealingForTest(held)
  const sending = files(alice).send(aToB, path)
  sending.catch(() => {})
  const { messageId } = await waitFor(() => files(alice).list(aToB)[0], 'alice announced the file')
  await waitFor(() => (files(bob).statsForTest(messageId)?.receivedDirect ?? 0) >= held ? true : undefined, 'bob wrote every chunk sealed so far')
  assert.equal(files(bob).statsForTest(messageId)?.durableChunks, 0)
  assert.equal(files(alice).statsForTest(messageId)?.confirmedDirect, 0)
  assert.equal(files(alice).list(aToB)[0]?.doneChunks, 0, 'alice stored no resume point')
  await alice.stop()
  await sending
  await alice.start()
  const got = await waitFile(bob, bToA, messageId, (f) => f.state === 'delivered', 'bob completes after alice\'s restart')
  releaseSyncs()
  await waitFile(alice, aToB, messageId, (f) => f.state === 'delivered', 'alice sees it delivered')
  const a = files(alice).statsForTest(messageId)
  assert.ok(a !== undefined)
  assert.equal(a.resealed, 1, 'the restart sealed the file again from its source')
  // Bob took each chunk once, whichever way the rest came.
  const b = files(bob).statsForTest(messageId)
  assert.equal((b?.receivedDirect ?? 0) + (b?.fetched ?? 0), got.chunks)
  assert.equal(b?.badChunks, 0)
  if (a.sentRelay === 0) {
    // Back on the direct connection (the usual case): her stored resume point was 0, but bob's answer to her status
    // request (a sync first) covered the chunks he wrote, so she sent only the rest.
    assert.equal(a.sentDirect, got.chunks - held)
  } else {
    // On a loaded machine the connection may not come back within DIRECT_WAIT_MS: she parks the file on the relay
    // from her stored resume point, and bob fetches only the chunks he lacks.
    assert.equal(b?.fetched, got.chunks - held)
  }
  // Once: one file and one message on bob's side, one chunk file, and the content whole.
  assert.deepEqual(files(bob).list(bToA).map((f) => f.messageId), [messageId])
  assert.equal((await bob.m().messages(bToA)).filter((m) => m.id === messageId).length, 1)
  assert.equal(chunkFiles(bob, 'in').length, 1)
  assert.equal(sha(await saved(t, bob, messageId)), sha(bytes))
})

test('a file changed between its announcement and a restart mid-seal fails with the reason and is never sealed again', { timeout: 120_000 }, async (t) => {
  const { people: [alice, bob], contact } = await createPeople(t, { relays: 1 }) as unknown as { people: [Person, Person], contact: (a: Person, b: Person) => string }
  const { path } = fileOf(t, 4 * MiB)
  const aToB = contact(alice, bob)
  files(alice).holdSealingForTest(16)
  const sending = files(alice).send(aToB, path)
  sending.catch(() => {})
  const { messageId } = await waitFor(() => files(alice).list(aToB)[0], 'alice announced the file')
  await alice.stop()
  await sending
  writeFileSync(path, randomBytes(4 * MiB))
  await alice.start()
  const failed = await waitFor(() => { const f = files(alice).get(messageId); return f?.state === 'failed' ? f : undefined }, 'alice marks it failed')
  assert.match(failed.failure ?? '', /changed/)
  assert.equal(files(alice).statsForTest(messageId)?.resealed, 1)
})

test('a file written to while it is being sealed fails with the reason on the sender, and the contact never completes it', { timeout: 120_000 }, async (t) => {
  const { people: [alice, bob], contact } = await createPeople(t, { relays: 1 }) as unknown as { people: [Person, Person], contact: (a: Person, b: Person) => string }
  const { path } = fileOf(t, 4 * MiB)
  const aToB = contact(alice, bob)
  files(alice).holdSealingForTest(16)
  const sending = files(alice).send(aToB, path)
  const { messageId } = await waitFor(() => files(alice).list(aToB)[0], 'alice announced the file')
  // The same size, other bytes: only the file's stamp (its times) tells.
  writeFileSync(path, randomBytes(4 * MiB))
  files(alice).releaseSealingForTest()
  const { file } = await sending
  assert.equal(file.state, 'failed')
  assert.match(file.failure ?? '', /changed/)
  // Bob never completes it: he is told (file-cancel) and fails it with the reason.
  const view = await waitFor(() => { const f = files(bob).get(messageId); return f?.state === 'failed' || f?.state === 'delivered' ? f : undefined }, 'bob ends the file')
  assert.equal(view.state, 'failed')
  assert.match(view.failure ?? '', /sender stopped sending this file: it changed/)
})

test('bytes sent with sendBytes survive a restart mid-seal: the staged copy (fsynced) stays until sealed, then goes', { timeout: 120_000 }, async (t) => {
  const { people: [alice, bob], contact } = await createPeople(t, { relays: 1 }) as unknown as { people: [Person, Person], contact: (a: Person, b: Person) => string }
  const bytes = randomBytes(20 * MiB)
  const aToB = contact(alice, bob)
  const held = 128
  files(alice).holdSealingForTest(held)
  const sending = files(alice).sendBytes(aToB, 'upload.bin', bytes)
  sending.catch(() => {})
  const { messageId } = await waitFor(() => files(alice).list(aToB)[0], 'alice announced the file')
  await waitFor(() => (files(bob).statsForTest(messageId)?.receivedDirect ?? 0) >= held ? true : undefined, 'bob stored every chunk sealed so far')
  const staged = (): string[] => readdirSync(join(alice.dir, 'files')).filter((n) => n.startsWith('upload-'))
  await alice.stop()
  await sending
  assert.equal(staged().length, 1, 'the staged copy is kept while the file is not sealed whole')
  await alice.start()
  await waitFile(bob, contact(bob, alice), messageId, (f) => f.state === 'delivered', 'bob completes after alice\'s restart')
  assert.equal(files(alice).statsForTest(messageId)?.resealed, 1)
  assert.equal(sha(await saved(t, bob, messageId)), sha(bytes))
  await waitFor(() => staged().length === 0, 'the staged copy goes once sealed')
})

test('a source cut short mid-seal: no chunk that was never sealed goes out, and the contact is told (file-cancel) and fails the file with the reason', { timeout: 120_000 }, async (t) => {
  const { people: [alice, bob], contact } = await createPeople(t, { relays: 1 }) as unknown as { people: [Person, Person], contact: (a: Person, b: Person) => string }
  const { path } = fileOf(t, 4 * MiB)
  const aToB = contact(alice, bob)
  files(alice).holdSealingForTest(16)
  const sending = files(alice).send(aToB, path)
  const { messageId } = await waitFor(() => files(alice).list(aToB)[0], 'alice announced the file')
  await waitFor(() => (files(bob).statsForTest(messageId)?.receivedDirect ?? 0) >= 16 ? true : undefined, 'bob stored the chunks sealed so far')
  // Cut to a quarter: the block read ahead before the cut is the last one that can be sealed.
  truncateSync(path, MiB)
  files(alice).releaseSealingForTest()
  const { file } = await sending
  assert.equal(file.state, 'failed')
  assert.match(file.failure ?? '', /changed/)
  const view = await waitFor(() => { const f = files(bob).get(messageId); return f?.state === 'failed' ? f : undefined }, 'bob marks the file failed')
  // Sealed before the cut: the first block, and the one read ahead of it. Nothing past them went out, by any path.
  const a = files(alice).statsForTest(messageId)
  assert.ok(a !== undefined)
  assert.ok(a.sentDirect + a.sentRelay <= 32, `chunks never sealed went out (${a.sentDirect} direct, ${a.sentRelay} to relays)`)
  assert.ok((files(bob).statsForTest(messageId)?.receivedDirect ?? 0) <= 32)
  assert.equal(a.sentRelay, 0)
  // Bob was told why (not left waiting, nor failing only at a hash check).
  assert.match(view.failure ?? '', /sender stopped sending this file: it changed/)
})

test('a restart mid-seal whose source changes during the re-seal sends nothing (hash and seal in one pass) and the contact fails the file with the reason', { timeout: 120_000 }, async (t) => {
  const { people: [alice, bob], contact } = await createPeople(t, { relays: 1 }) as unknown as { people: [Person, Person], contact: (a: Person, b: Person) => string }
  const { path } = fileOf(t, 4 * MiB)
  const aToB = contact(alice, bob)
  files(alice).holdSealingForTest(16)
  const sending = files(alice).send(aToB, path)
  sending.catch(() => {})
  const { messageId } = await waitFor(() => files(alice).list(aToB)[0], 'alice announced the file')
  await waitFor(() => (files(bob).statsForTest(messageId)?.receivedDirect ?? 0) >= 16 ? true : undefined, 'bob stored the chunks sealed so far')
  await alice.stop()
  await sending
  // The resumed job holds before its third block, the source is rewritten (same size), then it goes on.
  SealJob.holdNextForTest(32)
  await alice.start()
  const job = await waitFor(() => { const j = files(alice).sealJobForTest(messageId); return j?.heldForTest === true ? j : undefined }, 'the resumed seal is held')
  assert.equal(job.sealed, 0, 'nothing is released before the whole source hashed')
  writeFileSync(path, randomBytes(4 * MiB))
  job.release()
  const failed = await waitFor(() => { const f = files(alice).get(messageId); return f?.state === 'failed' ? f : undefined }, 'alice marks it failed')
  assert.match(failed.failure ?? '', /changed/)
  const view = await waitFor(() => { const f = files(bob).get(messageId); return f?.state === 'failed' ? f : undefined }, 'bob marks the file failed')
  assert.match(view.failure ?? '', /sender stopped sending this file/)
  const a = files(alice).statsForTest(messageId)
  assert.equal((a?.sentDirect ?? 0) + (a?.sentRelay ?? 0), 0, 'chunks of the changed source went out after the restart')
  assert.equal(files(bob).statsForTest(messageId)?.receivedDirect, 16)
})

test('a cancel that cannot be queued (refused at a stop) leaves the row as it was: the next start seals again, fails again and the contact is told', { timeout: 120_000 }, async (t) => {
  const { people: [alice, bob], contact } = await createPeople(t, { relays: 1 }) as unknown as { people: [Person, Person], contact: (a: Person, b: Person) => string }
  const { path } = fileOf(t, 4 * MiB)
  const aToB = contact(alice, bob)
  files(alice).holdSealingForTest(16)
  const sending = files(alice).send(aToB, path)
  sending.catch(() => {})
  const { messageId } = await waitFor(() => files(alice).list(aToB)[0], 'alice announced the file')
  await waitFor(() => files(bob).get(messageId), 'bob has the announcement')
  // The cancel is refused as at a shutdown (the core stopping under it).
  const core = alice.m() as unknown as { cancelFile: (contactId: string, messageId: string, reason: string) => Promise<void> }
  let refused = 0
  core.cancelFile = async () => { refused++; throw new MessengerError('STOPPED', 'The messenger is stopped.') }
  truncateSync(path, MiB)
  files(alice).releaseSealingForTest()
  await sending
  await waitFor(() => refused === 1 ? true : undefined, 'alice tried to queue the cancel')
  assert.notEqual(files(alice).get(messageId)?.state, 'failed', 'the row was failed before its cancel was queued')
  await alice.stop()
  await alice.start()
  const view = await waitFor(() => { const f = files(bob).get(messageId); return f?.state === 'failed' ? f : undefined }, 'bob is told after alice\'s restart', 60_000)
  assert.match(view.failure ?? '', /sender stopped sending this file: it changed/)
  await waitFor(() => files(alice).get(messageId)?.state === 'failed' ? true : undefined, 'alice marks it failed once the cancel is queued')
})

test('a file sent by a relative path and resumed after a restart in another working directory is sealed from the same file', { timeout: 120_000 }, async (t) => {
  const { people: [alice, bob], contact } = await createPeople(t, { relays: 1 }) as unknown as { people: [Person, Person], contact: (a: Person, b: Person) => string }
  const { path, bytes } = fileOf(t, 4 * MiB)
  const aToB = contact(alice, bob)
  files(alice).holdSealingForTest(16)
  const sending = files(alice).send(aToB, relative(process.cwd(), path))
  sending.catch(() => {})
  const { messageId } = await waitFor(() => files(alice).list(aToB)[0], 'alice announced the file')
  await alice.stop()
  await sending
  const cwd = process.cwd()
  t.after(() => { process.chdir(cwd) })
  // Deep enough that the relative path names another file (or none) from there.
  const elsewhere = join(tempDir(t, '0m1-elsewhere-'), 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h')
  mkdirSync(elsewhere, { recursive: true })
  process.chdir(elsewhere)
  await alice.start()
  await waitFile(bob, contact(bob, alice), messageId, (f) => f.state === 'delivered', 'bob completes after alice\'s restart elsewhere')
  process.chdir(cwd)
  assert.equal(sha(await saved(t, bob, messageId)), sha(bytes))
})

test('a file-cancel counts only from the contact that sent the file: another contact naming its id changes nothing', { timeout: 120_000 }, async (t) => {
  const { people: [alice, bob, carol], contact } = await createPeople(t, { relays: 1, people: 3 }) as unknown as { people: [Person, Person, Person], contact: (a: Person, b: Person) => string }
  const { path, bytes } = fileOf(t, 4 * MiB)
  files(alice).holdSealingForTest(16)
  const sending = files(alice).send(contact(alice, bob), path)
  const { messageId } = await waitFor(() => files(alice).list(contact(alice, bob))[0], 'alice announced the file')
  await waitFor(() => files(bob).get(messageId), 'bob has the announcement')
  // Carol names alice's file.
  // The core's own control (what a failed seal sends), as carol's device would send it.
  const core = carol.m() as unknown as { cancelFile: (contactId: string, messageId: string, reason: 'changed') => Promise<void> }
  await core.cancelFile(contact(carol, bob), messageId, 'changed')
  await waitFor(() => files(bob).cancelsOpenedForTest() === 1, 'bob opened carol\'s cancel')
  assert.notEqual(files(bob).get(messageId)?.state, 'failed')
  files(alice).releaseSealingForTest()
  await sending
  await waitFile(bob, contact(bob, alice), messageId, (f) => f.state === 'delivered', 'bob still gets the file whole')
  assert.equal(sha(await saved(t, bob, messageId)), sha(bytes))
})

test('at start, a staged copy that no transfer names any more (a crash between staging and announcing) is removed', { timeout: 120_000 }, async (t) => {
  const { people: [alice] } = await createPeople(t, { relays: 1 }) as unknown as { people: [Person, Person] }
  await alice.stop()
  const stray = join(alice.dir, 'files', 'upload-00112233445566')
  writeFileSync(stray, randomBytes(1000))
  await alice.start()
  await waitFor(() => !readdirSync(join(alice.dir, 'files')).includes('upload-00112233445566'), 'the stray staged copy goes')
})
