// One node per data directory. Two processes on one directory would each issue an API token (the second
// overwrites the first's, locking its UI and CLI out), open the same store and announce the same peer id.
// The API-socket probe in the CLI catches a node that already answers, but not two starts racing, nor a
// node whose socket path is too long to exist. An exclusively created lock file closes both gaps.
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { CodedError } from './coded-error.ts'
import { PRIVATE_FILE_MODE } from './private-files.ts'

export const LOCK_FILE = 'node.lock'
/** A lock file naming no pid is another process between its create and its write, unless it is this old
 * (then a crash left it there). */
const UNWRITTEN_LOCK_GRACE_MS = 10_000

export class DirLockedError extends CodedError<'DIR_LOCKED'> {
  static readonly name = 'DirLockedError'
  /** The process holding the directory (0 when the lock file named none we could read). */
  readonly pid: number

  constructor (pid: number, dir: string) {
    super('DIR_LOCKED', `Another 0message1 process (pid ${pid}) is using ${dir}; stop it first.`)
    this.pid = pid
  }
}

export interface DirLock {
  /** Removes the lock file if it is still ours. Idempotent. */
  release: () => void
}

/** The pid written in a lock file, or 0 when it holds none (a crash between create and write). */
function holderOf (path: string): number {
  try {
    const n = Number.parseInt(readFileSync(path, 'utf8').trim(), 10)
    return Number.isSafeInteger(n) && n > 0 ? n : 0
  } catch {
    return 0
  }
}

function alive (pid: number): boolean {
  if (pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: the process exists but belongs to someone else; it still holds the directory.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function create (path: string): boolean {
  let fd: number
  try {
    fd = openSync(path, 'wx', PRIVATE_FILE_MODE)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  }
  try {
    writeSync(fd, `${process.pid}\n`)
  } finally {
    closeSync(fd)
  }
  return true
}

/**
 * Takes `dir` for this process, or throws DirLockedError naming the live process that holds it. A lock
 * left by a process that is gone (a crash, SIGKILL) is taken over. Two processes taking over the same
 * stale lock at once: both unlink, one creates, the other's exclusive create fails and it is refused.
 */
export function lockDir (dir: string, file = LOCK_FILE): DirLock {
  const path = join(dir, file)
  if (!create(path)) {
    const holder = holderOf(path)
    if (holder === process.pid || alive(holder)) throw new DirLockedError(holder, dir)
    if (holder === 0 && Date.now() - statSync(path).mtimeMs < UNWRITTEN_LOCK_GRACE_MS) throw new DirLockedError(0, dir)
    try { unlinkSync(path) } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err }
    if (!create(path)) throw new DirLockedError(holderOf(path), dir)
  }
  let released = false
  return {
    release: () => {
      if (released) return
      released = true
      if (holderOf(path) !== process.pid) return
      try { unlinkSync(path) } catch { /* already gone: nothing to release */ }
    }
  }
}
