// One process per data directory (src/platform/dir-lock.ts): a live holder in another process refuses a
// second taker, a dead one's lock is taken over, and release removes only our own lock.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DirLockedError, LOCK_FILE, lockDir } from '../../src/platform/dir-lock.ts'

function tempDir (t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), '0m1-lock-'))
  t.after(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}

test('a directory held by a live process is refused with its pid; released, it can be taken again', async (t) => {
  const dir = tempDir(t)
  // Another process takes the lock the same way and holds it until its stdin closes.
  const holder = spawn(process.execPath, ['--import', 'tsx', '-e', `
    const { lockDir } = await import(${JSON.stringify(new URL('../../src/platform/dir-lock.ts', import.meta.url).href)})
    const lock = lockDir(${JSON.stringify(dir)})
    process.stdout.write('held\\n')
    process.stdin.resume()
    process.stdin.on('end', () => { lock.release(); process.exit(0) })
  `], { stdio: ['pipe', 'pipe', 'inherit'] })
  t.after(() => { holder.kill() })
  await new Promise<void>((resolve, reject) => {
    holder.stdout.on('data', (d: Buffer) => { if (d.toString().includes('held')) resolve() })
    holder.on('exit', (code) => { reject(new Error(`holder exited ${String(code)}`)) })
  })
  assert.throws(() => lockDir(dir), (err: unknown) => DirLockedError.is(err, 'DIR_LOCKED') && err.pid === holder.pid)
  holder.stdin.end()
  await new Promise((resolve) => holder.once('exit', resolve))
  assert.equal(existsSync(join(dir, LOCK_FILE)), false, 'the holder removed its lock on release')
  const mine = lockDir(dir)
  assert.equal(readFileSync(join(dir, LOCK_FILE), 'utf8').trim(), String(process.pid))
  assert.throws(() => lockDir(dir), (err: unknown) => DirLockedError.is(err) && err.pid === process.pid, 'this process cannot take it twice')
  mine.release()
  mine.release()
  assert.equal(existsSync(join(dir, LOCK_FILE)), false)
})

test('a lock left by a process that is gone, or by an earlier run with this pid, is taken over', async (t) => {
  const dir = tempDir(t)
  const dead = spawn(process.execPath, ['-e', ''])
  await new Promise((resolve) => dead.once('exit', resolve))
  writeFileSync(join(dir, LOCK_FILE), `${dead.pid}\n`)
  const lock = lockDir(dir)
  assert.equal(readFileSync(join(dir, LOCK_FILE), 'utf8').trim(), String(process.pid))
  lock.release()
  // A container's node is pid 1 at every start: a lock naming our pid that this process does not hold is an
  // earlier run's, left by a crash.
  writeFileSync(join(dir, LOCK_FILE), `${process.pid}\n`)
  const again = lockDir(dir)
  again.release()
  // Unreadable (no pid): not a lock being written (locks appear with their pid in them), so stale.
  writeFileSync(join(dir, LOCK_FILE), '')
  lockDir(dir).release()
  assert.deepEqual(readdirSync(dir), [], 'no temporary or stale files left behind')
})

test('racing takeovers of one stale lock: exactly one process gets the directory', async (t) => {
  const dir = tempDir(t)
  const dead = spawn(process.execPath, ['-e', ''])
  await new Promise((resolve) => dead.once('exit', resolve))
  writeFileSync(join(dir, LOCK_FILE), `${dead.pid}\n`)
  const url = JSON.stringify(new URL('../../src/platform/dir-lock.ts', import.meta.url).href)
  const racers = Array.from({ length: 6 }, () => spawn(process.execPath, ['--import', 'tsx', '-e', `
    const { lockDir } = await import(${url})
    let got = false
    try { lockDir(${JSON.stringify(dir)}); got = true } catch {}
    process.stdout.write(got ? 'got\\n' : 'refused\\n')
    process.stdin.resume()
    process.stdin.on('end', () => process.exit(0))
  `], { stdio: ['pipe', 'pipe', 'inherit'] }))
  t.after(() => { for (const r of racers) r.kill() })
  const answers = await Promise.all(racers.map(async (r) => await new Promise<string>((resolve) => {
    r.stdout.on('data', (d: Buffer) => { resolve(d.toString().trim()) })
  })))
  assert.equal(answers.filter((a) => a === 'got').length, 1, JSON.stringify(answers))
  for (const r of racers) r.stdin.end()
})

test('release leaves a lock that another process has since taken', (t) => {
  const dir = tempDir(t)
  const lock = lockDir(dir)
  writeFileSync(join(dir, LOCK_FILE), '999999999\n')
  lock.release()
  assert.equal(readFileSync(join(dir, LOCK_FILE), 'utf8').trim(), '999999999')
})
