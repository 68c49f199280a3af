// One node per data directory. Two processes on one directory would each issue an API token (the second
// overwrites the first's, locking its UI and CLI out), open the same store and announce the same peer id.
// The API-socket probe in the CLI catches a node that already answers, but not two starts racing, nor a
// node whose socket path is too long to exist. An exclusively created lock file closes both gaps.
import { randomBytes } from 'node:crypto'
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CodedError } from './coded-error.ts'
import { PRIVATE_FILE_MODE } from './private-files.ts'

export const LOCK_FILE = 'node.lock'

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

/** Lock files this process holds. A lock naming our pid that is not in here was left by an earlier run that
 * had the same pid (a container's node is pid 1 at every start): it is stale, not ours. */
const HELD = new Set<string>()

/** The pid written in a lock file, or 0 when it holds none we can read. */
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

const unique = (path: string, what: string): string => `${path}.${what}.${process.pid}.${randomBytes(6).toString('hex')}`

function removeQuietly (path: string): void {
  try { unlinkSync(path) } catch { /* gone already */ }
}

/** Creates the lock file with our pid already in it: written beside, then hard-linked into place, which fails
 * when a lock exists. No other process ever sees a lock file without its pid. */
function create (path: string): boolean {
  const tmp = unique(path, 'new')
  writeFileSync(tmp, `${process.pid}\n`, { mode: PRIVATE_FILE_MODE })
  try {
    linkSync(tmp, path)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  } finally {
    removeQuietly(tmp)
  }
}

/**
 * Moves a stale lock (naming `stale`) out of the way. The rename is atomic: of two processes taking over the
 * same stale lock, one moves it and the other finds nothing to move. If what was moved is not the stale lock
 * but a live process's fresh one (it took over between our read and our rename), it is put back.
 */
function clearStale (path: string, stale: number, dir: string): void {
  const moved = unique(path, 'stale')
  try {
    renameSync(path, moved)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  const holder = holderOf(moved)
  if (holder !== stale && alive(holder) && holder !== process.pid) {
    try { linkSync(moved, path) } catch { /* another lock is in place again: it decides */ }
    removeQuietly(moved)
    throw new DirLockedError(holder, dir)
  }
  removeQuietly(moved)
}

/**
 * Takes `dir` for this process, or throws DirLockedError naming the live process that holds it. A lock
 * left by a process that is gone (a crash, SIGKILL), or by an earlier run with our pid, is taken over.
 */
export function lockDir (dir: string, file = LOCK_FILE): DirLock {
  const path = join(dir, file)
  if (HELD.has(path)) throw new DirLockedError(process.pid, dir)
  if (!create(path)) {
    const holder = holderOf(path)
    if (holder !== process.pid && alive(holder)) throw new DirLockedError(holder, dir)
    clearStale(path, holder, dir)
    if (!create(path)) throw new DirLockedError(holderOf(path), dir)
  }
  HELD.add(path)
  return {
    release: () => {
      if (!HELD.delete(path)) return
      if (holderOf(path) !== process.pid) return
      removeQuietly(path)
    }
  }
}
