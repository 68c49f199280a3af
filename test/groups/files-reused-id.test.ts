// Files in groups against a hostile member (issue 12 review), with real nodes: libp2p on loopback, a relay with its
// blob store, SQLCipher, libsignal sender keys. Group message ids are chosen by their senders, so a member can
// announce a file under another member's message id. A file row is bound to the member that announced it
// (src/messenger/files/group-files.ts): the honest file still arrives, under its sender, with its own bytes, and the
// hostile member can neither cancel nor read it by naming the id.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createRoutes, dispatch } from '../../src/api/routes.ts'
import type { EventSink } from '../../src/api/events.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { MessengerError } from '../../src/messenger/errors.ts'
import type { FileTransfers } from '../../src/messenger/files/transfers.ts'
import type { FileView } from '../../src/messenger/files/types.ts'
import type { FileDescriptor } from '../../src/wire/file.ts'
import type { GroupManager } from '../../src/messenger/groups/manager.ts'
import type { GroupMessageView, Groups } from '../../src/messenger/groups/types.ts'
import { introduce, person, startTestRelay, tempDir, type Person } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'

const MiB = 1024 * 1024
const g = (p: Person): Groups => { const x = p.m().groups; if (x === undefined) throw new Error('no groups'); return x }
const files = (p: Person): FileTransfers => { const f = p.m().files; if (f === undefined) throw new Error('no files'); return f as FileTransfers }
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** A file sent to the group under a chosen message id (the group manager's send, for this one call, uses it). */
async function sendFileWithId (p: Person, groupId: string, path: string, text: string, id: string): Promise<{ message: GroupMessageView, file: FileView }> {
  const mgr = g(p) as unknown as GroupManager & { send: Groups['send'] }
  // An own property over the class's method, for one call; deleting it brings the method back.
  mgr.send = async (gid, txt, o) => {
    Reflect.deleteProperty(mgr, 'send')
    return await mgr.sendWithIdForTest(gid, txt, Buffer.from(id, 'hex'), o)
  }
  return await files(p).sendToGroup(groupId, path, text)
}

/** Alice (admin), bob and mallory in one group, each pair contacts. */
async function trio (t: TestContext): Promise<{ alice: Person, bob: Person, mallory: Person, groupId: string, malloryToBob: string, bobToMallory: string }> {
  const relay = await startTestRelay(t)
  const [alice, bob, mallory] = [await person(t, 'alice', { relays: [relay.addr] }), await person(t, 'bob', { relays: [relay.addr] }), await person(t, 'mallory', { relays: [relay.addr] })]
  const ab = await introduce(alice, bob)
  const am = await introduce(alice, mallory)
  const mb = await introduce(mallory, bob)
  const grp = await g(alice).create('docs', [ab.aToB, am.aToB])
  for (const p of [alice, bob, mallory]) {
    await waitFor(async () => (await g(p).list()).find((x) => x.id === grp.id)?.members.length === 3, `${p.name} sees three members`, 60_000)
  }
  return { alice, bob, mallory, groupId: grp.id, malloryToBob: mb.aToB, bobToMallory: mb.bToA }
}

function fileAt (p: Person, groupId: string, id: string, sender: string): FileView | undefined {
  return files(p).listGroup(groupId).find((f) => f.messageId === id && f.senderAccountId === sender)
}

async function accountOf (p: Person, groupId: string): Promise<string> {
  const me = (await g(p).get(groupId)).members.find((m) => m.me)
  assert.ok(me !== undefined)
  return me.accountId
}

test('a member who announces a file under another member\'s message id first does not hide or replace it: the honest file arrives, under its sender, with its bytes', { timeout: 180_000 }, async (t) => {
  const { alice, bob, mallory, groupId } = await trio(t)
  const [aliceId, malloryId] = [await accountOf(alice, groupId), await accountOf(mallory, groupId)]
  const dir = tempDir(t, '0m1-greuse-')
  const id = randomBytes(16).toString('hex')
  const fake = randomBytes(200_000)
  writeFileSync(join(dir, 'fake.pdf'), fake)
  const honest = randomBytes(MiB + 4321)
  writeFileSync(join(dir, 'report.pdf'), honest)

  // Mallory's announcement under the id comes first, and her file is whole at bob before alice's announcement.
  await sendFileWithId(mallory, groupId, join(dir, 'fake.pdf'), 'fake', id)
  await waitFor(() => fileAt(bob, groupId, id, malloryId)?.state === 'delivered', 'bob has mallory\'s file', 60_000)
  const { message } = await sendFileWithId(alice, groupId, join(dir, 'report.pdf'), 'the report', id)
  assert.equal(message.id, id)

  const atBob = await waitFor(() => { const f = fileAt(bob, groupId, id, aliceId); return f?.state === 'delivered' ? f : undefined }, 'bob has alice\'s file too', 90_000)
  assert.equal(atBob.size, honest.length)
  assert.equal(atBob.name, 'report.pdf')
  assert.equal(atBob.groupId, groupId)
  // Shown under alice's message: bob's conversation has both messages under the id, each with its sender.
  const msgs = (await g(bob).messages(groupId)).filter((m) => m.id === id)
  assert.deepEqual(msgs.map((m) => `${m.senderAccountId}:${m.text}`).sort(), [`${aliceId}:the report`, `${malloryId}:fake`].sort())
  // Saved by the file's owner: alice's bytes; mallory's file is hers alone.
  const out = join(tempDir(t, '0m1-greuse-save-'), 'out.bin')
  await files(bob).save(id, out, atBob.contactId)
  assert.equal(sha(readFileSync(out)), sha(honest))
  const out2 = join(tempDir(t, '0m1-greuse-save-'), 'fake.bin')
  await files(bob).save(id, out2, fileAt(bob, groupId, id, malloryId)?.contactId)
  assert.equal(sha(readFileSync(out2)), sha(fake))
  // Each file has its own transfer stats (kept by row, not message id): mallory's counts only her file's chunks.
  const [mine, hers] = [files(bob).statsForTest(id, atBob.contactId), files(bob).statsForTest(id, fileAt(bob, groupId, id, malloryId)?.contactId)]
  assert.ok(mine !== undefined && hers !== undefined && mine !== hers, 'two files under one id share their stats')
  assert.ok(hers.fetched + hers.receivedDirect <= (fileAt(bob, groupId, id, malloryId)?.chunks ?? 0), 'alice\'s chunks counted as mallory\'s')
  // The id alone names no file now: never a guess that could hand out mallory's bytes for alice's message.
  await assert.rejects(files(bob).save(id, join(tempDir(t, '0m1-greuse-save-'), 'x.bin')), (err: unknown) => MessengerError.is(err, 'AMBIGUOUS_FILE'))
  assert.throws(() => files(bob).get(id), (err: unknown) => MessengerError.is(err, 'AMBIGUOUS_FILE'))
  // The same through the API the web UI uses: 409 for the id alone, alice's bytes for her file's owner.
  const sink: EventSink = { attach: () => {}, broadcast: () => {} }
  const content = async (query: string): Promise<{ status: number, body?: unknown }> => {
    const url = new URL(`/api/files/${id}/content${query}`, 'http://x')
    return (await dispatch(createRoutes(bob.host, sink), { method: 'GET', pathname: url.pathname, query: url.searchParams, body: async () => ({}), raw: async () => Buffer.alloc(0) }, silentLogger)).reply
  }
  assert.equal((await content('')).status, 409)
  const viaApi = await content(`?owner=${encodeURIComponent(atBob.contactId)}`)
  assert.equal(viaApi.status, 200)
  const chunks: Buffer[] = []
  for await (const c of viaApi.body as AsyncIterable<Buffer>) chunks.push(c)
  assert.equal(sha(Buffer.concat(chunks)), sha(honest))
})

test('a member\'s file-cancel naming another member\'s file id does nothing to that file, even when it announced a file under that id first', { timeout: 180_000 }, async (t) => {
  const { alice, bob, mallory, groupId, malloryToBob } = await trio(t)
  const [aliceId, malloryId] = [await accountOf(alice, groupId), await accountOf(mallory, groupId)]
  const dir = tempDir(t, '0m1-gcancel-')
  const id = randomBytes(16).toString('hex')
  writeFileSync(join(dir, 'fake.bin'), randomBytes(100_000))
  const honest = randomBytes(4 * MiB)
  writeFileSync(join(dir, 'report.pdf'), honest)
  // Mallory announces a file of hers under the id first (so a cancel from her names a file she did send).
  await sendFileWithId(mallory, groupId, join(dir, 'fake.bin'), 'fake', id)
  await waitFor(() => fileAt(bob, groupId, id, malloryId), 'bob has mallory\'s announcement', 60_000)
  // Alice's file under the same id is announced and held mid-seal: it is in progress at bob when the cancel comes.
  files(alice).holdSealingForTest(16)
  const sending = sendFileWithId(alice, groupId, join(dir, 'report.pdf'), 'the report', id)
  await waitFor(() => fileAt(bob, groupId, id, aliceId), 'bob has alice\'s announcement', 60_000)
  const core = mallory.m() as unknown as { cancelFile: (contactId: string, messageId: string, reason: 'changed') => Promise<void> }
  await core.cancelFile(malloryToBob, id, 'changed')
  await waitFor(() => files(bob).cancelsOpenedForTest() === 1, 'bob opened mallory\'s cancel', 60_000)
  assert.notEqual(fileAt(bob, groupId, id, aliceId)?.state, 'failed', 'mallory\'s cancel failed alice\'s file')
  files(alice).releaseSealingForTest()
  await sending
  const atBob = await waitFor(() => { const f = fileAt(bob, groupId, id, aliceId); if (f?.state === 'failed') throw new Error(`failed: ${f.failure ?? ''}`); return f?.state === 'delivered' ? f : undefined }, 'bob still gets alice\'s file whole', 90_000)
  const out = join(tempDir(t, '0m1-gcancel-save-'), 'out.bin')
  await files(bob).save(id, out, atBob.contactId)
  assert.equal(sha(readFileSync(out)), sha(honest))
})

test('deleting a contact\'s file that reuses a group file\'s message id does not stop the group file', { timeout: 180_000 }, async (t) => {
  const { alice, bob, groupId, bobToMallory } = await trio(t)
  const aliceId = await accountOf(alice, groupId)
  const honest = randomBytes(4 * MiB)
  const path = join(tempDir(t, '0m1-ggone-'), 'report.pdf')
  writeFileSync(path, honest)
  files(alice).holdSealingForTest(16)
  const sending = files(alice).sendToGroup(groupId, path, 'the report')
  const { messageId: id } = await waitFor(() => files(alice).listGroup(groupId)[0], 'alice announced the file')
  await waitFor(() => fileAt(bob, groupId, id, aliceId), 'bob has alice\'s announcement', 60_000)
  // Mallory, a contact of bob's too, announced a one-to-one file under the same id (as her device may: ids are the
  // sender's choice); bob deletes that message, which forgets her file.
  const fake: FileDescriptor = {
    name: 'fake.bin', type: 'application/octet-stream', size: 10, sha256: randomBytes(32), key: randomBytes(32), header: randomBytes(24),
    chunks: 1, blobId: randomBytes(16), capability: randomBytes(32), relays: []
  }
  files(bob).announced(bobToMallory, id, fake, Date.now())
  assert.equal(files(bob).list(bobToMallory).length, 1)
  // What bob's delete of that message emits (src/messenger/chat/features.ts).
  const core = bob.m() as unknown as { publish: (e: { type: 'message-removed', contactId: string, id: string, direction: 'in' }) => void }
  core.publish({ type: 'message-removed', contactId: bobToMallory, id, direction: 'in' })
  await waitFor(() => files(bob).list(bobToMallory).length === 0, 'bob forgot mallory\'s file', 10_000)
  files(alice).releaseSealingForTest()
  await sending
  const atBob = await waitFor(() => { const f = fileAt(bob, groupId, id, aliceId); if (f === undefined || f.state === 'failed') throw new Error(`alice's file went: ${f?.failure ?? 'no row'}`); return f.state === 'delivered' ? f : undefined }, 'bob still gets alice\'s file whole', 90_000)
  const out = join(tempDir(t, '0m1-ggone-save-'), 'out.bin')
  await files(bob).save(id, out, atBob.contactId)
  assert.equal(sha(readFileSync(out)), sha(honest))
})
