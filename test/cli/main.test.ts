// The CLI in-process against the in-memory host double: argument handling, output shapes, errors and
// exit codes. The real bin across real nodes and a relay: test/cli/real.test.ts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dataDirOf, main, resolveContact } from '../../src/cli/main.ts'
import { printable } from '../../src/cli/format.ts'
import type { CliRuntime } from '../../src/cli/runtime.ts'
import type { ContactView, MessageView, PendingSafetyNumberView } from '../../src/messenger/types.ts'
import { API_INFO_FILE } from '../../src/api/discovery.ts'
import { FakeHost, FakeNetwork } from '../helpers/fake-host.ts'
import { E2eeError } from '../../src/e2ee/errors.ts'
import { waitFor } from '../helpers/wait.ts'
import { MAX_TEXT_BYTES } from '../../src/wire/text-limit.ts'
import { MAX_API_PAGE } from '../../src/api/page-cursor.ts'
import { MAX_GROUP_PAGE } from '../../src/messenger/page-limits.ts'

interface Harness {
  run: (...argv: string[]) => Promise<{ code: number, out: string, err: string }>
  /** Starts `start` (in this process) and returns a function that stops it. */
  start: (dataDir: string, ...extra: string[]) => Promise<{ ui: string, stop: () => Promise<number> }>
  /** The fake host behind a data directory. */
  host: (dataDir: string) => FakeHost | undefined
}

function harness (t: { after: (fn: () => Promise<void> | void) => void }): Harness {
  const net = new FakeNetwork()
  const hosts = new Map<string, FakeHost>() // one fake "disk" per data directory
  const runtime = (out: string[], err: string[], extra: Partial<CliRuntime> = {}): CliRuntime => ({
    stdout: (s) => { out.push(s) },
    stderr: (s) => { err.push(s) },
    env: { ZEROM1_LOG: 'silent' },
    createDeviceHost: async (o) => {
      let h = hosts.get(o.dataDir)
      if (h === undefined) { h = new FakeHost(net); hosts.set(o.dataDir, h) }
      h.messenger()?.reopen()
      return h
    },
    initAccount: async (dataDir, o) => {
      let h = hosts.get(dataDir)
      if (h === undefined) { h = new FakeHost(net); hosts.set(dataDir, h) }
      if (h.state() !== 'no-account') throw new E2eeError('ACCOUNT_EXISTS', 'This data directory already has an account; there is one account per device.')
      const m = await h.createAccount(o)
      return { accountId: m.accountId }
    },
    startRelay: async () => ({ peerId: 'relay', addresses: ['/ip4/127.0.0.1/tcp/1/p2p/relay'], stop: async () => {} }),
    waitForStop: async () => { await new Promise(() => {}) },
    ...extra
  })
  return {
    host: (dataDir) => hosts.get(dataDir),
    run: async (...argv) => {
      const out: string[] = []
      const err: string[] = []
      const code = await main(argv, runtime(out, err))
      return { code, out: out.join(''), err: err.join('') }
    },
    start: async (dataDir, ...extra) => {
      let stop!: () => void
      const stopped = new Promise<void>((resolve) => { stop = resolve })
      let ready!: (info: Record<string, unknown>) => void
      const isReady = new Promise<Record<string, unknown>>((resolve) => { ready = resolve })
      const out: string[] = []
      const err: string[] = []
      const done = main(['start', '--data', dataDir, '--api', '127.0.0.1:0', ...extra], runtime(out, err, { waitForStop: async () => { await stopped }, onReady: (i) => { ready(i) } }))
      const info = await Promise.race([isReady, done.then((code) => { throw new Error(`start exited ${code}: ${err.join('')}`) })])
      let finished = false
      const stopIt = async (): Promise<number> => { if (finished) return 0; finished = true; stop(); return await done }
      t.after(async () => { await stopIt() })
      assert.match(out.join(''), /Web UI: http:\/\/127\.0\.0\.1:\d+\/#token=/)
      return { ui: String(info.uiUrl), stop: stopIt }
    }
  }
}

function tempDir (t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), '0m1-cli-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}

test('help, unknown commands and options: usage errors exit 2 with one sentence', async (t) => {
  const h = harness(t)
  const help = await h.run('--help')
  assert.equal(help.code, 0)
  assert.match(help.out, /Usage: 0message1/)
  assert.equal((await h.run()).code, 2)
  const unknown = await h.run('fly')
  assert.equal(unknown.code, 2)
  assert.equal(unknown.err, '0message1: Unknown command "fly"; see `0message1 --help`.\n')
  const badOpt = await h.run('status', '--colour')
  assert.equal(badOpt.code, 2)
  assert.equal(badOpt.err, '0message1: Unknown option --colour for `status`; see `0message1 --help`.\n')
  const missing = await h.run('send', 'bob')
  assert.equal(missing.code, 2)
  assert.match(missing.err, /needs the text to send/)
  const extra = await h.run('send', 'bob', 'hello', 'world')
  assert.equal(extra.code, 2)
  assert.match(extra.err, /quotes/)
  // Empty, whitespace-only and over-long messages are refused before the node is asked (none runs here).
  assert.match((await h.run('send', 'bob', '')).err, /needs the text to send/)
  for (const blank of ['   ', ' \n\t ']) {
    const r = await h.run('send', 'bob', blank)
    assert.equal(r.code, 2)
    assert.equal(r.err, '0message1: The message is empty; write the text to send, in quotes.\n')
  }
  const long = await h.run('send', 'bob', 'é'.repeat(MAX_TEXT_BYTES / 2 + 1))
  assert.equal(long.code, 2)
  assert.match(long.err, new RegExp(`is ${MAX_TEXT_BYTES + 2} bytes of UTF-8; one message holds at most ${MAX_TEXT_BYTES}\\. Split it\\.`))
  // Paging options are checked before the node is asked too (paging itself: test/cli/real.test.ts).
  for (const args of [['--before', 'ab'.repeat(16)], ['--before', 'in:xyz'], ['--all', '--limit', '5'], ['--all', '--before', `in:${'ab'.repeat(16)}`], ['--limit', '1001']]) {
    const r = await h.run('messages', 'bob', ...args)
    assert.equal(r.code, 2, args.join(' '))
    assert.match(r.err, /--before takes in:ID or out:ID|--all shows the whole conversation|--limit must be a whole number from 1 to 500 \(1000 for a group\)/, args.join(' '))
  }
})

test('commands that need the node say how to start it when it is not running', async (t) => {
  const h = harness(t)
  const dir = tempDir(t)
  const r = await h.run('contacts', 'list', '--data', dir)
  assert.equal(r.code, 1)
  assert.equal(r.err, `0message1: No node is running for ${dir}; start it with \`0message1 start --data ${dir}\`.\n`)
  assert.equal(r.out, '')
})

test('init once per data directory; an empty passphrase file is refused', async (t) => {
  const h = harness(t)
  const dir = tempDir(t)
  const first = await h.run('init', '--data', dir, '--name', 'Alice', '--json')
  assert.equal(first.code, 0, first.err)
  assert.equal((JSON.parse(first.out) as { dataDir: string }).dataDir, dir)
  const second = await h.run('init', '--data', dir, '--name', 'Alice')
  assert.equal(second.code, 1)
  assert.match(second.err, /already has an account/)
  const emptyPass = join(dir, 'pass')
  writeFileSync(emptyPass, '\n')
  const bad = await h.run('init', '--data', join(dir, 'other'), '--passphrase-file', emptyPass)
  assert.equal(bad.code, 2)
  assert.match(bad.err, /is empty/)
})

test('start, invite, contacts add/list, send, messages --json, status, verify between two fake nodes', async (t) => {
  const h = harness(t)
  const a = tempDir(t)
  const b = tempDir(t)
  assert.equal((await h.run('init', '--data', a, '--name', 'Alice')).code, 0)
  assert.equal((await h.run('init', '--data', b, '--name', 'Bob')).code, 0)
  const nodeA = await h.start(a)
  await h.start(b)
  assert.ok(existsSync(join(a, API_INFO_FILE)))
  const again = await h.run('start', '--data', a, '--api', '127.0.0.1:0')
  assert.equal(again.code, 1, 'a second start on the same directory is refused')
  assert.match(again.err, /already running|in use/)

  const invite = await h.run('invite', '--data', a)
  assert.equal(invite.code, 0, invite.err)
  const link = invite.out.trim()
  assert.match(link, /^0m1:/)
  const added = await h.run('contacts', 'add', link, '--data', b, '--json')
  assert.equal(added.code, 0, added.err)
  assert.equal((JSON.parse(added.out) as ContactView).name, 'Alice')
  const badLink = await h.run('contacts', 'add', 'nonsense', '--data', b)
  assert.equal(badLink.code, 1)
  assert.equal(badLink.err, '0message1: This is not a 0message1 invite link.\n')

  const list = await h.run('contacts', 'list', '--data', b)
  assert.match(list.out, /Alice/)
  const sent = await h.run('send', 'alice', 'hello \u001b[31mAlice', '--data', b)
  assert.equal(sent.code, 0, sent.err)
  let msgs: MessageView[] = []
  await waitFor(async () => {
    msgs = JSON.parse((await h.run('messages', 'Alice', '--json', '--data', b)).out) as MessageView[]
    return msgs[0]?.state === 'delivered'
  }, 'the message delivered', 30_000)
  assert.equal(msgs.length, 1)
  assert.equal(msgs[0]?.state, 'delivered')
  assert.equal(msgs[0]?.text, 'hello \u001b[31mAlice')
  const human = await h.run('messages', 'Bob', '--data', a)
  assert.equal(human.code, 0, human.err)
  assert.match(human.out, /Bob: hello \uFFFD\[31mAlice {2}\[delivered, via direct\]/)
  assert.ok(!human.out.includes(String.fromCharCode(0x1b)))
  const unknownContact = await h.run('messages', 'Carol', '--data', a)
  assert.equal(unknownContact.code, 1)
  assert.match(unknownContact.err, /No contact matches/)

  const status = JSON.parse((await h.run('status', '--json', '--data', a)).out) as { state: string, name: string, outbox: number }
  assert.equal(status.state, 'ready')
  assert.equal(status.name, 'Alice')
  assert.match((await h.run('status', '--data', a)).out, /Peer id: {6}12D3KooWFake/)
  assert.match((await h.run('safety-number', 'Bob', '--data', a)).out, /not verified/)
  assert.equal((await h.run('verify', 'Bob', '--data', a)).code, 0)
  const verified = JSON.parse((await h.run('safety-number', 'Bob', '--data', a, '--json')).out) as { verified: boolean }
  assert.equal(verified.verified, true)

  assert.equal(await nodeA.stop(), 0)
  assert.ok(!existsSync(join(a, API_INFO_FILE)), 'api.json is removed on stop')
})

test('messages --all: the whole conversation, oldest first, none skipped or repeated when one comes mid-walk; a cursor deleted mid-walk is a clear error; --limit by the page kind', async (t) => {
  const h = harness(t)
  const a = tempDir(t)
  const b = tempDir(t)
  assert.equal((await h.run('init', '--data', a, '--name', 'Alice')).code, 0)
  assert.equal((await h.run('init', '--data', b, '--name', 'Bob')).code, 0)
  await h.start(a)
  await h.start(b)
  assert.equal((await h.run('contacts', 'add', (await h.run('invite', '--data', a)).out.trim(), '--data', b)).code, 0)
  const bob = h.host(b)?.messenger()
  assert.ok(bob !== undefined)
  const alice = (await bob.contacts())[0] as ContactView
  // 1,201 messages: three pages of 500 and one more; the double's `at` rises with each.
  const n = 2 * MAX_API_PAGE + 201
  for (let i = 0; i < n; i++) await bob.send(alice.id, `m${i}`)
  const ids = (bob.messagesByContact.get(alice.id) ?? []).map((m) => m.id)
  const allJson = async (): Promise<string[]> => (JSON.parse((await h.run('messages', 'Alice', '--all', '--json', '--data', b)).out) as MessageView[]).map((m) => m.id)
  assert.deepEqual(await allJson(), ids, 'every message, oldest first')
  const human = await h.run('messages', 'Alice', '--all', '--data', b)
  assert.deepEqual([...human.out.matchAll(/me: (m\d+) /g)].map((m) => m[1]), ids.map((_, i) => `m${i}`))

  // A message with an old key (a mailbox text written while offline) lands in a page already read while the walk
  // runs: it is in the walk or not, and no other message is skipped or shown twice.
  const list = bob.messagesByContact.get(alice.id) ?? []
  const walk = bob.messages.bind(bob)
  let calls = 0
  bob.messages = async (id, o) => {
    if (++calls === 3) list.splice(list.length - MAX_API_PAGE - 10, 0, { ...(list[0] as MessageView), id: 'cd'.repeat(16), text: 'late' })
    return await walk(id, o)
  }
  assert.deepEqual((await allJson()).filter((id) => id !== 'cd'.repeat(16)), ids)
  list.splice(list.findIndex((m) => m.id === 'cd'.repeat(16)), 1)

  // The message an older page starts from is deleted while the walk runs: a clear error, and stdout stays empty.
  calls = 0
  bob.messages = async (id, o) => {
    if (++calls === 2) list.splice(list.length - MAX_API_PAGE, 1)
    return await walk(id, o)
  }
  const gone = await h.run('messages', 'Alice', '--all', '--json', '--data', b)
  assert.equal(gone.code, 1)
  assert.match(gone.err, /deleted while the conversation was read; run the command again/)
  assert.equal(gone.out, '')

  // A contact's page holds up to MAX_API_PAGE; a group's up to MAX_GROUP_PAGE: that much passes the check made before the node is asked.
  const big = await h.run('messages', 'Alice', '--limit', String(MAX_GROUP_PAGE), '--data', b)
  assert.equal(big.code, 2)
  assert.match(big.err, new RegExp(`from 1 to ${MAX_API_PAGE} for a contact`))
  assert.match((await h.run('messages', 'Alice', '--limit', String(MAX_GROUP_PAGE + 1), '--data', b)).err, new RegExp(`from 1 to ${MAX_API_PAGE} \\(${MAX_GROUP_PAGE} for a group\\)`))
})

test('key-change: the contact list and the conversation show it; compare, then accept or block', async (t) => {
  const h = harness(t)
  const a = tempDir(t)
  const b = tempDir(t)
  assert.equal((await h.run('init', '--data', a, '--name', 'Alice')).code, 0)
  assert.equal((await h.run('init', '--data', b, '--name', 'Bob')).code, 0)
  await h.start(a)
  await h.start(b)
  assert.equal((await h.run('contacts', 'add', (await h.run('invite', '--data', a)).out.trim(), '--data', b)).code, 0)
  const bob = h.host(b)?.messenger()
  assert.ok(bob !== undefined)
  const alice = (await bob.contacts())[0]
  assert.ok(alice !== undefined)

  const none = await h.run('key-change', 'Alice', '--data', b)
  assert.equal(none.code, 1)
  assert.match(none.err, /has not changed/)
  bob.simulateKeyChange(alice.id)
  assert.match((await h.run('contacts', 'list', '--data', b)).out, /SAFETY NUMBER CHANGED: see `0message1 key-change [0-9a-f]+`/)
  assert.match((await h.run('messages', 'Alice', '--data', b)).out, /-- Alice's safety number changed: 1 message\(s\) held; compare the new number/)
  const shown = await h.run('key-change', 'Alice', '--data', b)
  assert.equal(shown.code, 0, shown.err)
  assert.match(shown.out, /The new number:\n {2}99999 99999 99999 99999\n/)
  // The commands it suggests carry the number shown: the decision names what the user compared.
  const nines = '9'.repeat(60)
  assert.match(shown.out, new RegExp(`--accept ${nines}\`; if not: \`0message1 key-change [0-9a-f]+ --block ${nines}\``))
  assert.equal((await h.run('key-change', 'Alice', '--accept', nines, '--block', nines, '--data', b)).code, 2)
  assert.equal((await h.run('key-change', 'Alice', '--accept', '--data', b)).code, 2, '--accept needs the digits')

  const blocked = await h.run('key-change', 'Alice', '--block', nines, '--data', b)
  assert.equal(blocked.code, 0, blocked.err)
  assert.match(blocked.out, /Blocked Alice's new key/)
  assert.match((await h.run('messages', 'Alice', '--data', b)).out, /you blocked the new key/)
  bob.simulateKeyChange(alice.id)
  const eights = (JSON.parse((await h.run('key-change', 'Alice', '--json', '--data', b)).out) as PendingSafetyNumberView).digits
  // Another new key replaces it before the user accepts: the number they compared is refused, nothing changes.
  bob.simulateKeyChange(alice.id)
  const moved = await h.run('key-change', 'Alice', '--accept', eights, '--data', b)
  assert.equal(moved.code, 1)
  assert.match(moved.err, /not the one whose safety number you compared/)
  assert.equal((await bob.contacts())[0]?.keyChange?.state, 'pending')
  const current = (await bob.pendingSafetyNumber(alice.id)).digits
  assert.notEqual(current, eights)
  const accepted = JSON.parse((await h.run('key-change', 'Alice', '--accept', current, '--json', '--data', b)).out) as ContactView
  assert.deepEqual([accepted.keyChange?.state, accepted.verified], ['accepted', false])
  assert.doesNotMatch((await h.run('contacts', 'list', '--data', b)).out, /SAFETY NUMBER CHANGED/)
})

test('resolveContact: by id, account id prefix, or unique name; ambiguity is an error', () => {
  const c = (id: string, name: string, accountId: string): ContactView => ({ id, name, accountId, verified: false, unread: 0, rev: 1 })
  const list = [c('a1', 'Sam', 'ABCD-EFGH-JKLM'), c('b2', 'sam', 'ZZZZ-YYYY-XXXX'), c('c3', 'Kim', 'QQQQ-RRRR-SSSS')]
  assert.equal(resolveContact(list, 'b2').id, 'b2')
  assert.equal(resolveContact(list, 'abcdefgh').id, 'a1')
  assert.equal(resolveContact(list, 'kim').id, 'c3')
  assert.throws(() => resolveContact(list, 'SAM'), /More than one contact/)
  assert.throws(() => resolveContact(list, 'nobody'), /No contact matches/)
})

test('printable: terminal control characters from contacts are neutralised', () => {
  assert.equal(printable('a\u001b[2Jb\u0007c\u009bd'), 'a\uFFFD[2Jb\uFFFDc\uFFFDd')
  assert.equal(printable('bidi\u202eevil'), 'bidi\uFFFDevil')
  assert.equal(printable('two\nlines'), 'two\nlines')
})

test('data directory: --data, else ZEROM1_DATA, else ~/.0message1', () => {
  assert.equal(dataDirOf({ data: '/x/y' }, { ZEROM1_DATA: '/env' }), '/x/y')
  assert.equal(dataDirOf({}, { ZEROM1_DATA: '/env' }), '/env')
  assert.match(dataDirOf({}, {}), /\/\.0message1$/)
})

test('relay --stun: default 3478, a port, or off; anything else is a usage error', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), '0m1-cli-stun-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  const seen: Array<number | 'off' | undefined> = []
  const run = async (...argv: string[]): Promise<{ code: number, err: string }> => {
    const err: string[] = []
    const rt: CliRuntime = {
      stdout: () => {},
      stderr: (s) => { err.push(s) },
      env: { ZEROM1_LOG: 'silent' },
      createDeviceHost: async () => { throw new Error('not used') },
      initAccount: async () => { throw new Error('not used') },
      startRelay: async (o) => { seen.push(o.stun); return { peerId: 'relay', addresses: [], stop: async () => {} } },
      waitForStop: async () => {}
    }
    return { code: await main(['relay', '--data', dir, ...argv], rt), err: err.join('') }
  }
  assert.equal((await run()).code, 0)
  assert.equal((await run('--stun', '5000')).code, 0)
  assert.equal((await run('--stun', 'off')).code, 0)
  assert.deepEqual(seen, [3478, 5000, 'off'])
  for (const bad of ['nope', '70000', '1.5', '']) {
    const r = await run('--stun', bad)
    assert.equal(r.code, 2, bad)
    assert.match(r.err, /--stun takes a UDP port/)
  }
  assert.equal(seen.length, 3, 'a bad --stun never starts the relay')
})

test('start refuses a non-loopback --api unless --api-allow-remote is given, and then warns', async (t) => {
  const h = harness(t)
  const dir = tempDir(t)
  // 192.0.2.1 (TEST-NET-1) is no address of this machine: the test never opens a socket beyond
  // loopback, even on code that would bind it.
  const refused = await h.run('start', '--data', dir, '--api', '192.0.2.1:0')
  assert.equal(refused.code, 2, refused.err)
  assert.match(refused.err, /^0message1: --api 192\.0\.2\.1:0 is not a loopback address: .*plain HTTP.*--api-allow-remote/)
  assert.ok(!existsSync(join(dir, API_INFO_FILE)))
  // With the opt-in the warning comes first, then the bind fails.
  const allowed = await h.run('start', '--data', dir, '--api', '192.0.2.1:0', '--api-allow-remote')
  assert.match(allowed.err, /^0message1: warning: the API will listen on 192\.0\.2\.1:0 in plain HTTP/)
  assert.match(allowed.err, /not an address of this machine/)
  assert.equal(allowed.code, 1)
})

test('a second start on a directory whose API socket cannot exist is refused by the lock; the first keeps its token', async (t) => {
  const h = harness(t)
  // Unix socket paths stop at 107 bytes: this data directory has no API socket, so the running node
  // cannot be found by probing it (the lock file is what refuses the second start).
  const dir = join(tempDir(t), 'x'.repeat(110))
  const first = await h.start(dir)
  const token = readFileSync(join(dir, 'api.token'), 'utf8')
  const second = await h.run('start', '--data', dir, '--api', '127.0.0.1:0')
  assert.equal(second.code, 1)
  assert.match(second.err, new RegExp(`Another 0message1 process \\(pid ${process.pid}\\) is using`))
  assert.equal(readFileSync(join(dir, 'api.token'), 'utf8'), token, 'the first node\'s token is untouched')
  const init = await h.run('init', '--data', dir, '--name', 'Eve')
  assert.equal(init.code, 1, 'init beside a running node is refused too')
  assert.equal(await first.stop(), 0)
  assert.equal(existsSync(join(dir, 'node.lock')), false, 'stop releases the directory')
})

test('issue 13 commands: search, edit, delete, contacts block/unblock/delete, invites', async (t) => {
  const h = harness(t)
  const a = tempDir(t)
  const b = tempDir(t)
  assert.equal((await h.run('init', '--data', a, '--name', 'Alice')).code, 0)
  assert.equal((await h.run('init', '--data', b, '--name', 'Bob')).code, 0)
  await h.start(a)
  await h.start(b)
  assert.equal((await h.run('contacts', 'add', (await h.run('invite', '--data', a)).out.trim(), '--data', b)).code, 0)
  const sent = JSON.parse((await h.run('send', 'Alice', 'the meeting moved to Tuesday', '--json', '--data', b)).out) as MessageView
  const hits = await h.run('search', 'meeting', '--json', '--data', b)
  assert.equal(hits.code, 0, hits.err)
  assert.deepEqual((JSON.parse(hits.out) as Array<{ messageId: string }>).map((x) => x.messageId), [sent.id])
  assert.match((await h.run('search', 'meeting', '--data', b)).out, /the meeting moved to Tuesday/)
  assert.equal((await h.run('search', 'nothing-like-it', '--data', b)).out, 'No message matches.\n')
  const edit = await h.run('edit', 'Alice', sent.id, 'the meeting moved to Wednesday', '--data', b)
  assert.equal(edit.out, `Message ${sent.id} edited.\n`)
  const del = await h.run('delete', 'Alice', sent.id, '--everyone', '--data', b)
  assert.equal(del.out, 'Deleted for everyone.\n')
  const unknown = await h.run('delete', 'Alice', 'f'.repeat(32), '--data', b)
  assert.equal(unknown.code, 1)
  assert.match(unknown.err, /no message with that id/)
  assert.match((await h.run('contacts', 'block', 'Alice', '--data', b)).out, /^Blocked Alice/)
  assert.equal(h.host(b)?.messenger()?.blocked.size, 1)
  assert.match((await h.run('contacts', 'unblock', 'Alice', '--data', b)).out, /^Unblocked Alice/)
  assert.equal((await h.run('invites', '--data', a)).out, 'No pending invites.\n')
  assert.equal((await h.run('invites', 'short', '--data', a)).out, '0m1s:fake\n')
  assert.equal((await h.run('invites', 'revoke', 'ab'.repeat(32), '--data', a)).code, 0)
  assert.match((await h.run('contacts', 'delete', 'Alice', '--data', b)).out, /^Deleted Alice/)
  assert.deepEqual(JSON.parse((await h.run('contacts', 'list', '--json', '--data', b)).out), [])
})
