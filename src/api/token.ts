// The API token of a data directory: 32 random bytes (base64url) in `api.token`, mode 0600. Every
// API request must carry it; the file is readable only by the account's owner.
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto'
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ensurePrivateDir } from '../platform/private-files.ts'
import { ApiError } from './errors.ts'

export const TOKEN_FILE = 'api.token'
/** 256 bits: far beyond guessing over a loopback socket. */
export const TOKEN_BYTES = 32
/** base64url of 32 bytes, no padding: usable in a header, a URL fragment and a WebSocket subprotocol. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/

export function isTokenShaped (value: string): boolean {
  return TOKEN_PATTERN.test(value)
}

/** Reads the token of `dataDir`, creating it (and the directory, 0700) on first use. */
export function loadOrCreateToken (dataDir: string): string {
  const path = join(dataDir, TOKEN_FILE)
  if (existsSync(path)) {
    const token = readFileSync(path, 'utf8').trim()
    if (!isTokenShaped(token)) {
      throw new ApiError('TOKEN_FILE_INVALID', 500, `The API token file ${path} is damaged; delete it and start again.`)
    }
    // Someone may have copied the directory with a loose umask: the token must stay private.
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600)
    return token
  }
  ensurePrivateDir(dataDir)
  const token = randomBytes(TOKEN_BYTES).toString('base64url')
  writeFileSync(path, token + '\n', { mode: 0o600, flag: 'wx' })
  return token
}

/** Reads an existing token (client side); undefined when the file does not exist. */
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
