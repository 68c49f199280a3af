// The API token of a running node: 32 random bytes (base64url), new at every start, in `api.token`
// (mode 0600, data directory 0700). A token from an earlier run opens nothing: a process that took a
// crashed node's port and caught a request learns a dead token.
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto'
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PRIVATE_FILE_MODE, ensurePrivateDir } from '../platform/private-files.ts'
import { ApiError } from './errors.ts'

export const TOKEN_FILE = 'api.token'
/** 256 bits: far beyond guessing over a loopback socket. */
export const TOKEN_BYTES = 32
/** base64url of 32 bytes, no padding: usable in a header, a URL fragment and a WebSocket subprotocol. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/

export function isTokenShaped (value: string): boolean {
  return TOKEN_PATTERN.test(value)
}

/** Makes a fresh token for this start of the node and writes it (atomically, 0600) into `dataDir`. */
export function issueToken (dataDir: string): string {
  ensurePrivateDir(dataDir)
  const token = randomBytes(TOKEN_BYTES).toString('base64url')
  const path = join(dataDir, TOKEN_FILE)
  // Written beside and renamed: a CLI reading at that moment sees the old token or the new, never half.
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, token + '\n', { mode: PRIVATE_FILE_MODE })
  chmodSync(tmp, PRIVATE_FILE_MODE)
  renameSync(tmp, path)
  return token
}

/** Reads the running node's token (client side); undefined when the file does not exist. */
export function readToken (dataDir: string): string | undefined {
  const path = join(dataDir, TOKEN_FILE)
  if (!existsSync(path)) return undefined
  const token = readFileSync(path, 'utf8').trim()
  if (!isTokenShaped(token)) {
    throw new ApiError('TOKEN_FILE_INVALID', 0, `The API token file ${path} is damaged; delete it and restart the node.`)
  }
  return token
}

/** Constant-time comparison (hashing first makes the lengths equal). */
export function tokenMatches (expected: string, given: string | undefined): boolean {
  if (given === undefined) return false
  const a = createHash('sha256').update(expected).digest()
  const b = createHash('sha256').update(given).digest()
  return timingSafeEqual(a, b)
}
