// Data directories and the files in them are private to the account's owner: directories 0700, files
// 0600, whatever the umask, and also when an older version or a copy left them looser.
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs'

/** rwx for the owner only: other local users cannot list, read or plant files in a data directory. */
export const PRIVATE_DIR_MODE = 0o700
/** rw for the owner only: stores, WAL files, keys and tokens. */
export const PRIVATE_FILE_MODE = 0o600
/** Group and other bits: any of them set means another local user has some access. */
const SHARED_BITS = 0o077

/** True when a group or other permission bit is set on `path`. */
export function isShared (path: string): boolean {
  return (statSync(path).mode & SHARED_BITS) !== 0
}

/** Creates `dir` (and its parents) or tightens an existing one to PRIVATE_DIR_MODE. */
export function ensurePrivateDir (dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE })
  // mkdir leaves an existing directory as it was, and a umask could have removed owner bits.
  if ((statSync(dir).mode & 0o777) !== PRIVATE_DIR_MODE) chmodSync(dir, PRIVATE_DIR_MODE)
}

/** Creates an empty `path` or tightens an existing one to PRIVATE_FILE_MODE (chmod: the umask does not apply). */
export function ensurePrivateFile (path: string): void {
  if (!existsSync(path)) closeSync(openSync(path, 'a', PRIVATE_FILE_MODE))
  if ((statSync(path).mode & 0o777) !== PRIVATE_FILE_MODE) chmodSync(path, PRIVATE_FILE_MODE)
}

/** Tightens `path` to PRIVATE_FILE_MODE when it exists (files another program creates, e.g. SQLite's WAL). */
export function tightenIfPresent (path: string): void {
  if (existsSync(path) && (statSync(path).mode & 0o777) !== PRIVATE_FILE_MODE) chmodSync(path, PRIVATE_FILE_MODE)
}
