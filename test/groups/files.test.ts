// Files in groups (issue 12 with issue 11), with real nodes: libp2p on loopback, two relays with their blob stores,
// SQLCipher, libsignal sender keys. A group of three with one member offline: the file reaches both members, hash
// checked; the online one straight from the sender, the offline one from a relay after it returns; the relay copy
// is not deleted by the first member who fetched it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createRoutes, dispatch } from '../../src/api/routes.ts'
import { createApiServer } from '../../src/api/server.ts'
import { main } from '../../src/cli/main.ts'
import type { CliRuntime } from '../../src/cli/runtime.ts'
import type { EventSink } from '../../src/api/events.ts'
import { openApiDocument } from '../../src/api/openapi.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import type { GroupMessageView } from '../../src/messenger/groups/types.ts'
import type { FileTransfers } from '../../src/messenger/files/transfers.ts'
import type { FileView } from '../../src/messenger/files/types.ts'
import type { Groups } from '../../src/messenger/groups/types.ts'
import type { GroupManager } from '../../src/messenger/groups/manager.ts'
import { introduce, person, startTestRelay, tempDir, type Person } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'

const MiB = 1024 * 1024
const sink: EventSink = { attach: () => {}, broadcast: () => {} }
const g = (p: Person): Groups => { const x = p.m().groups; if (x === undefined) throw new Error('no groups'); return x }
const files = (p: Person): FileTransfers => { const f = p.m().files; if (f === undefined) throw new Error('no files'); return f as FileTransfers }
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

async function waitGroupFile (p: Person, groupId: string, messageId: string, ok: (f: FileView) => boolean, what: string): Promise<FileView> {
  return await waitFor(() => {
    const f = files(p).listGroup(groupId).find((x) => x.messageId === messageId)
    if (f?.state === 'failed') throw new Error(`${what}: failed: ${f.failure ?? ''}`)
    return f !== undefined && ok(f) ? f : undefined
  }, what, 90_000)
}

async function saved (t: { after: (fn: () => unknown) => void }, p: Person, messageId: string): Promise<Buffer> {
  const out = join(tempDir(t, '0m1-save-'), 'out.bin')
  await files(p).save(messageId, out)
  return readFileSync(out)
}

test('a file sent to a group of three reaches the online member directly and the offline one from a relay; the relay copy outlives the first fetch', { timeout: 180_000 }, async (t) => {
  const relays = [await startTestRelay(t), await startTestRelay(t)]
  const addrs = relays.map((r) => r.addr)
  const [alice, bob, carol] = [await person(t, 'alice', { relays: addrs }), await person(t, 'bob', { relays: addrs }), await person(t, 'carol', { relays: addrs })]
  const ab = await introduce(alice, bob)
  const ac = await introduce(alice, carol)
  const grp = await g(alice).create('photos', [ab.aToB, ac.aToB])
  for (const p of [alice, bob, carol]) {
    await waitFor(async () => (await g(p).list()).find((x) => x.id === grp.id)?.members.length === 3, `${p.name} sees three members`, 60_000)
  }
  // Carol's sender key and pairwise sessions are in place before she goes (a message both ways).
  await g(carol).send(grp.id, 'before the file')
  await waitFor(async () => (await g(alice).messages(grp.id)).some((m) => m.text === 'before the file'), 'alice has carol\'s text', 60_000)
  await carol.stop()

  const dir = tempDir(t, '0m1-gfile-')
  const bytes = randomBytes(3 * MiB + 12_345)
  const path = join(dir, 'holiday.jpg')
  writeFileSync(path, bytes)
  const { message, file } = await files(alice).sendToGroup(grp.id, path, 'our holiday')
  assert.equal(file.groupId, grp.id)
  assert.equal(file.type, 'image/jpeg')

  // Bob is online: the announcement comes as a group message with its caption, and the file follows, hash checked.
  await waitFor(async () => (await g(bob).messages(grp.id)).some((m) => m.id === message.id && m.text === 'our holiday'), 'bob has the announcement', 60_000)
  const atBob = await waitGroupFile(bob, grp.id, message.id, (f) => f.state === 'delivered', 'bob has the file')
  assert.equal(atBob.size, bytes.length)
  assert.equal(atBob.path, 'direct', 'bob is connected: the chunks came on the direct stream')
  assert.equal(sha(await saved(t, bob, message.id)), sha(bytes))

  // Carol is offline: alice parks one copy on the relays.
  const parked = await waitGroupFile(alice, grp.id, message.id, (f) => f.relayCopies === 2, 'alice parks the file on both relays for carol')
  assert.equal(parked.state, 'on-relay')
  assert.ok(relays.every((r) => r.handle.blobs.totalBytes() >= bytes.length), 'both relays hold an encrypted copy')
  // Bob fetched or was streamed the file and did not delete the group's copy.
  const blobBytes = relays.map((r) => r.handle.blobs.totalBytes())

  // Carol's host opens the announcement from her mailbox while it starts, before the transfers start: the group's
  // row must survive the transfers' start-up cleanup of rows whose message is gone.
  await carol.start()
  const atCarol = await waitGroupFile(carol, grp.id, message.id, (f) => f.state === 'delivered', 'carol fetches the file after returning')
  assert.equal(atCarol.path, 'relay')
  assert.equal(sha(await saved(t, carol, message.id)), sha(bytes))
  assert.ok((await g(carol).messages(grp.id)).some((m) => m.id === message.id && m.text === 'our holiday'))
  // Neither member deleted the shared copy: it stays until the sender deletes it or the relay's expiry.
  await new Promise((resolve) => setTimeout(resolve, 500))
  assert.deepEqual(relays.map((r) => r.handle.blobs.totalBytes()), blobBytes)
  // Nor could one: members hold the fetch token, not the sender's capability; the relay refuses their delete.
  const mine = files(alice).descriptorForTest(message.id)
  const theirs = files(carol).descriptorForTest(message.id)
  assert.ok(mine !== undefined && theirs !== undefined)
  assert.notDeepEqual(theirs.capability, mine.capability)
  assert.deepEqual(theirs.capability, new Uint8Array(createHash('sha256').update(mine.capability).digest()))
  for (const r of relays) {
    assert.equal(r.handle.blobs.delete(theirs.blobId, theirs.capability, Date.now()).ok, false, 'a member cannot delete the group\'s copy')
    assert.equal(r.handle.blobs.status(theirs.blobId, theirs.capability, Date.now()).ok, true)
  }
  // The group's files are listed under the group, not under a contact.
  assert.equal(files(alice).list(ab.aToB).length, 0)
  assert.equal(files(carol).listGroup(grp.id).length, 1)
})

test('group file API: upload to a group, the group\'s file list on both sides, content, refusals, OpenAPI paths', { timeout: 120_000 }, async (t) => {
  const relay = await startTestRelay(t)
  const alice = await person(t, 'alice', { relays: [relay.addr] })
  const bob = await person(t, 'bob', { relays: [relay.addr] })
  const ab = await introduce(alice, bob)
  const grp = await g(alice).create('pair', [ab.aToB])
  await waitFor(async () => (await g(bob).list()).find((x) => x.id === grp.id)?.members.length === 2, 'bob joins', 60_000)
  const api = (p: Person) => async (method: string, path: string, o: { body?: unknown, raw?: Buffer } = {}): Promise<{ status: number, body?: unknown, headers?: Readonly<Record<string, string>> }> => {
    const url = new URL(path, 'http://x')
    return (await dispatch(createRoutes(p.host, sink), { method, pathname: url.pathname, query: url.searchParams, body: async () => o.body ?? {}, raw: async () => o.raw ?? Buffer.alloc(0) }, silentLogger)).reply
  }
  const png = randomBytes(70_000)
  const sent = await api(alice)('POST', `/api/groups/${grp.id}/files/upload?name=dot.png&text=look`, { raw: png })
  assert.equal(sent.status, 201)
  const { message, file } = sent.body as { message: GroupMessageView, file: FileView }
  assert.equal(message.text, 'look')
  assert.equal(file.groupId, grp.id)
  const listed = await waitFor(async () => {
    const list = (await api(bob)('GET', `/api/groups/${grp.id}/files`)).body as FileView[]
    return list.length === 1 && list[0]?.state === 'delivered' ? list : undefined
  }, 'bob has the group file', 60_000)
  assert.equal(listed[0]?.name, 'dot.png')
  assert.equal(listed[0]?.groupId, grp.id)
  const content = await api(bob)('GET', `/api/files/${message.id}/content`)
  assert.equal(content.status, 200)
  assert.equal(content.headers?.['Content-Type'], 'image/png')
  const chunks: Buffer[] = []
  for await (const c of content.body as AsyncIterable<Buffer>) chunks.push(c)
  assert.equal(sha(Buffer.concat(chunks)), sha(png))
  assert.equal(((await api(alice)('GET', `/api/groups/${grp.id}/files`)).body as FileView[]).length, 1)
  assert.equal((await api(alice)('POST', `/api/groups/${grp.id}/files`, { body: { path: '/nonexistent/file.bin' } })).status, 422)
  assert.equal((await api(alice)('POST', '/api/groups/00000000000000000000000000000000/files', { body: { path: '/etc/hostname' } })).status, 404)
  const paths = Object.keys((openApiDocument() as { paths: Record<string, unknown> }).paths)
  for (const p of ['/api/groups/{id}/files', '/api/groups/{id}/files/upload']) assert.ok(paths.includes(p), p)
})

test('CLI: `send GROUP --file PATH caption` sends to a group by name; `files list GROUP --json` lists it on the other member', { timeout: 120_000 }, async (t) => {
  const relay = await startTestRelay(t)
  const alice = await person(t, 'alice', { relays: [relay.addr] })
  const bob = await person(t, 'bob', { relays: [relay.addr] })
  const ab = await introduce(alice, bob)
  const grp = await g(alice).create('crew', [ab.aToB])
  await waitFor(async () => (await g(bob).list()).find((x) => x.id === grp.id)?.members.length === 2, 'bob joins', 60_000)
  for (const p of [alice, bob]) {
    const server = await createApiServer({ host: p.host, dataDir: p.dir, listen: '127.0.0.1:0', logger: silentLogger })
    t.after(async () => { await server.close() })
  }
  const cli = async (...argv: string[]): Promise<{ code: number, out: string, err: string }> => {
    const out: string[] = []
    const err: string[] = []
    const rt = { stdout: (s: string) => { out.push(s) }, stderr: (s: string) => { err.push(s) }, env: { ZEROM1_LOG: 'silent' } } as unknown as CliRuntime
    const code = await main(argv, rt)
    return { code, out: out.join(''), err: err.join('') }
  }
  const path = join(tempDir(t, '0m1-cli-gfile-'), 'plan.txt')
  const bytes = Buffer.from('the plan\n'.repeat(5000))
  writeFileSync(path, bytes)
  const sent = await cli('send', 'crew', '--file', path, 'read this', '--json', '--data', alice.dir)
  assert.equal(sent.code, 0, sent.err)
  const { message, file } = JSON.parse(sent.out) as { message: GroupMessageView, file: FileView }
  assert.equal(message.groupId, grp.id)
  assert.equal(message.text, 'read this')
  assert.equal(file.name, 'plan.txt')
  const listed = await waitFor(async () => {
    const r = await cli('files', 'list', 'crew', '--json', '--data', bob.dir)
    assert.equal(r.code, 0, r.err)
    const list = JSON.parse(r.out) as FileView[]
    return list.length === 1 && list[0]?.state === 'delivered' ? list : undefined
  }, 'bob lists the delivered group file', 60_000)
  assert.equal(listed[0]?.messageId, message.id)
  const out = join(tempDir(t, '0m1-cli-gsave-'), 'plan.txt')
  assert.equal((await cli('files', 'save', message.id, '--out', out, '--data', bob.dir)).code, 0)
  assert.equal(sha(readFileSync(out)), sha(bytes))
  const human = await cli('files', 'list', 'crew', '--data', alice.dir)
  assert.match(human.out, /sent {2}"plan\.txt"/)
})

test('a group file whose source is cut short mid-seal is cancelled: each member is told (file-cancel) and fails it with the reason', { timeout: 180_000 }, async (t) => {
  const relays = [await startTestRelay(t)]
  const addrs = relays.map((r) => r.addr)
  const [alice, bob] = [await person(t, 'alice', { relays: addrs }), await person(t, 'bob', { relays: addrs })]
  const ab = await introduce(alice, bob)
  const grp = await g(alice).create('docs', [ab.aToB])
  for (const p of [alice, bob]) {
    await waitFor(async () => (await g(p).list()).find((x) => x.id === grp.id)?.members.length === 2, `${p.name} sees two members`, 60_000)
  }
  const dir = tempDir(t, '0m1-gfile-')
  const path = join(dir, 'report.pdf')
  writeFileSync(path, randomBytes(4 * MiB))
  files(alice).holdSealingForTest(16)
  const sending = files(alice).sendToGroup(grp.id, path)
  const { messageId } = await waitFor(() => files(alice).listGroup(grp.id)[0], 'alice announced the file')
  await waitFor(() => files(bob).listGroup(grp.id).find((f) => f.messageId === messageId), 'bob has the announcement', 60_000)
  truncateSync(path, MiB)
  files(alice).releaseSealingForTest()
  const { file } = await sending
  assert.equal(file.state, 'failed')
  const view = await waitFor(() => files(bob).listGroup(grp.id).find((f) => f.messageId === messageId && f.state === 'failed'), 'bob marks the group file failed', 60_000)
  assert.match(view.failure ?? '', /sender stopped sending this file: it changed/)
})

test('a group file-cancel counts only from the member who announced the file: another member reusing its id for a text of its own changes nothing', { timeout: 180_000 }, async (t) => {
  const relays = [await startTestRelay(t)]
  const addrs = relays.map((r) => r.addr)
  const [alice, bob, carol] = [await person(t, 'alice', { relays: addrs }), await person(t, 'bob', { relays: addrs }), await person(t, 'carol', { relays: addrs })]
  const ab = await introduce(alice, bob)
  const ac = await introduce(alice, carol)
  const cb = await introduce(carol, bob)
  const grp = await g(alice).create('docs', [ab.aToB, ac.aToB])
  for (const p of [alice, bob, carol]) {
    await waitFor(async () => (await g(p).list()).find((x) => x.id === grp.id)?.members.length === 3, `${p.name} sees three members`, 60_000)
  }
  const dir = tempDir(t, '0m1-gfile-')
  const bytes = randomBytes(4 * MiB)
  const path = join(dir, 'report.pdf')
  writeFileSync(path, bytes)
  files(alice).holdSealingForTest(16)
  const sending = files(alice).sendToGroup(grp.id, path)
  const { messageId } = await waitFor(() => files(alice).listGroup(grp.id)[0], 'alice announced the file')
  await waitFor(() => files(bob).listGroup(grp.id).find((f) => f.messageId === messageId), 'bob has the announcement', 60_000)
  // Carol (a member) sends a group text of her own under alice's file id, then a file-cancel naming it.
  await (g(carol) as unknown as GroupManager).sendWithIdForTest(grp.id, 'same id', Buffer.from(messageId, 'hex'))
  await waitFor(async () => (await g(bob).messages(grp.id)).some((m) => m.id === messageId && m.text === 'same id'), 'bob has carol\'s text under the file id', 60_000)
  const core = carol.m() as unknown as { cancelFile: (contactId: string, messageId: string, reason: 'changed') => Promise<void> }
  await core.cancelFile(cb.aToB, messageId, 'changed')
  await waitFor(() => files(bob).cancelsOpenedForTest() === 1, 'bob opened carol\'s cancel', 60_000)
  assert.notEqual(files(bob).listGroup(grp.id).find((f) => f.messageId === messageId)?.state, 'failed')
  files(alice).releaseSealingForTest()
  await sending
  await waitGroupFile(bob, grp.id, messageId, (f) => f.state === 'delivered', 'bob still gets alice\'s file whole')
  assert.equal(sha(await saved(t, bob, messageId)), sha(bytes))
})
