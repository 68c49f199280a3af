// The real `0message1` bin as child processes: a relay, two device nodes (init, then start), and the
// client commands across them: invite, contacts add, send, messages --json, status --json. The bin runs
// the compiled dist/ as users do, so the sources are built first (incremental: seconds when unchanged).
import { before, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import type { ContactView, MessageView } from '../../src/messenger/types.ts'
import { waitFor } from '../helpers/wait.ts'
import { BIN, binLaunch } from '../helpers/launch.ts'

/** As a user's `0message1` starts Node (its first line), under this process's Node. */
const LAUNCH = binLaunch()
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
/** One CLI call: Node start-up plus one local request; generous for a loaded CI box. */
const CALL_MS = 60_000
/** A daemon prints its address after start-up (libp2p, SQLCipher open). */
const READY_MS = 60_000
/** Delivery over loopback takes well under a second; this bounds a slow CI box. */
const DELIVERY_MS = 30_000

async function run (args: string[], o: { expectCode?: number } = {}): Promise<{ out: string, err: string }> {
  const child = spawn(process.execPath, [...LAUNCH.execArgv, BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...LAUNCH.env, ZEROM1_LOG: 'warn' } })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, CALL_MS)
  const code = await new Promise<number | null>((resolve) => { child.on('exit', (c) => { resolve(c) }) })
  clearTimeout(timer)
  assert.equal(code, o.expectCode ?? 0, `0message1 ${args[0] ?? ''} exited ${String(code)}: ${err}`)
  return { out, err }
}

/** Starts a long-running command and resolves with the first stdout line matching `ready`. */
async function daemon (t: TestContext, args: string[], ready: RegExp): Promise<{ child: ChildProcess, match: RegExpExecArray, exit: () => Promise<number | null> }> {
  const child = spawn(process.execPath, [...LAUNCH.execArgv, BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...LAUNCH.env, ZEROM1_LOG: 'warn' } })
  let err = ''
  child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
  const exited = new Promise<number | null>((resolve) => { child.on('exit', (c) => { resolve(c) }) })
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`${args[0] ?? ''} not ready in ${READY_MS} ms: ${err}`)) }, READY_MS)
    lines.on('line', (line) => {
      const m = ready.exec(line)
      if (m !== null) { clearTimeout(timer); resolve(m) }
    })
    void exited.then((c) => { clearTimeout(timer); reject(new Error(`${args[0] ?? ''} exited ${String(c)}: ${err}`)) })
  })
  const exit = async (): Promise<number | null> => {
    child.kill('SIGTERM')
    const timer = setTimeout(() => { child.kill('SIGKILL') }, 15_000)
    const code = await exited
    clearTimeout(timer)
    return code
  }
  return { child, match, exit }
}

before(() => {
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' })
})

const until = async <T>(what: string, f: () => Promise<T | undefined>, ms = DELIVERY_MS): Promise<T> => await waitFor(f, what, ms)

test('cli: init, invite, contacts add, send, messages --json across two nodes and a relay', { timeout: 300_000 }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), '0m1-cli-real-'))
  t.after(() => { rmSync(root, { recursive: true, force: true }) })
  const A = join(root, 'alice')
  const B = join(root, 'bob')

  const relay = await daemon(t, ['relay', '--data', join(root, 'relay'), '--listen', '/ip4/127.0.0.1/tcp/0', '--json'], /^(\{.*\})$/)
  const relayAddr = (JSON.parse(relay.match[1] ?? '{}') as { addresses: string[] }).addresses[0]
  assert.ok(relayAddr !== undefined && relayAddr.startsWith('/ip4/127.0.0.1/tcp/'))

  const initA = JSON.parse((await run(['init', '--data', A, '--name', 'Alice', '--json'])).out) as { accountId: string }
  await run(['init', '--data', B, '--name', 'Bob'])
  const twice = await run(['init', '--data', A, '--name', 'Alice'], { expectCode: 1 })
  assert.match(twice.err, /^0message1: .+\n$/, 'one sentence on stderr')
  const notRunning = await run(['contacts', 'list', '--data', A], { expectCode: 1 })
  assert.match(notRunning.err, /No node is running/)

  const startA = await daemon(t, ['start', '--data', A, '--relay', relayAddr, '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0'], /^Web UI: (http:\/\/127\.0\.0\.1:\d+\/#token=[A-Za-z0-9_-]{43})$/)
  const startB = await daemon(t, ['start', '--data', B, '--relay', relayAddr, '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0'], /^Web UI: (http:\/\/127\.0\.0\.1:\d+\/#token=[A-Za-z0-9_-]{43})$/)
  // The printed address is the node's: its token opens the API.
  const uiA = new URL(startA.match[1] ?? '')
  const probe = await fetch(new URL('/api/state', uiA), { headers: { Authorization: `Bearer ${uiA.hash.slice('#token='.length)}` } })
  assert.deepEqual(await probe.json(), { state: 'ready' })
  assert.equal((await fetch(new URL('/api/state', uiA))).status, 401)

  const link = (await run(['invite', '--data', A])).out.trim()
  assert.match(link, /^0m1:[A-Za-z0-9_-]+$/)
  const added = JSON.parse((await run(['contacts', 'add', link, '--data', B, '--json'])).out) as ContactView
  assert.equal(added.name, 'Alice')
  assert.equal(added.accountId, initA.accountId)

  // Alice learns Bob from his card; then both write.
  await until('Alice to know Bob', async () => {
    const list = JSON.parse((await run(['contacts', 'list', '--json', '--data', A])).out) as ContactView[]
    return list.find((c) => c.name === 'Bob')
  })
  await run(['send', 'Alice', 'hello from bob', '--data', B])
  await run(['send', 'Bob', 'hello from alice', '--data', A])

  const delivered = (m: MessageView | undefined): boolean => m !== undefined && (m.state === 'delivered' || m.state === 'read')
  const bobView = await until('Bob\'s message delivered', async () => {
    const list = JSON.parse((await run(['messages', 'Alice', '--json', '--data', B])).out) as MessageView[]
    const out = list.find((m) => m.direction === 'out')
    const incoming = list.find((m) => m.direction === 'in')
    return delivered(out) && incoming !== undefined ? list : undefined
  })
  assert.equal(bobView.find((m) => m.direction === 'out')?.text, 'hello from bob')
  assert.equal(bobView.find((m) => m.direction === 'in')?.text, 'hello from alice')
  assert.ok(bobView.every((m) => m.path === 'direct' || m.path === 'relayed' || m.path === 'mailbox'), 'each message says its path')
  const aliceView = await until('Alice\'s message delivered', async () => {
    const list = JSON.parse((await run(['messages', 'Bob', '--json', '--data', A])).out) as MessageView[]
    return delivered(list.find((m) => m.direction === 'out')) ? list : undefined
  })
  assert.equal(aliceView.find((m) => m.direction === 'in')?.text, 'hello from bob')
  const human = (await run(['messages', 'Bob', '--data', A])).out
  assert.match(human, /Bob: hello from bob {2}\[/)

  // Paging back: a full page names the cursor of the page before it; --all pages back to the first message.
  await run(['send', 'Bob', 'third from alice', '--data', A])
  const whole = JSON.parse((await run(['messages', 'Bob', '--json', '--data', A])).out) as MessageView[]
  assert.equal(whole.length, 3)
  const newest = (await run(['messages', 'Bob', '--limit', '1', '--data', A])).out
  assert.match(newest, /me: third from alice/)
  const next = /^Older messages: `0message1 messages \S+ (--before (?:in|out):[0-9a-f]{32}) --limit 1`$/m.exec(newest)
  assert.ok(next?.[1] !== undefined, newest)
  const older = JSON.parse((await run(['messages', 'Bob', ...next[1].split(' '), '--limit', '1', '--json', '--data', A])).out) as MessageView[]
  assert.deepEqual(older.map((m) => m.id), [whole[1]?.id])
  const first = whole[0] as MessageView
  assert.equal((await run(['messages', 'Bob', '--before', `${first.direction}:${first.id}`, '--data', A])).out, 'No older messages.\n')
  const all = JSON.parse((await run(['messages', 'Bob', '--all', '--json', '--data', A])).out) as MessageView[]
  assert.deepEqual(all.map((m) => `${m.direction}:${m.id}`), whole.map((m) => `${m.direction}:${m.id}`))
  assert.doesNotMatch((await run(['messages', 'Bob', '--data', A])).out, /Older messages/, 'a page that is not full names no cursor')

  const status = JSON.parse((await run(['status', '--json', '--data', A])).out) as { state: string, peerId: string, relays: Array<{ address: string }> }
  assert.equal(status.state, 'ready')
  assert.match(status.peerId, /^12D3KooW/)
  assert.ok(status.relays.some((r) => r.address === relayAddr))

  // Ctrl+C ends each node cleanly and removes its api.json.
  assert.equal(await startA.exit(), 0)
  assert.equal(await startB.exit(), 0)
  assert.ok(!existsSync(join(A, 'api.json')))
  assert.equal(await relay.exit(), 0)
})
