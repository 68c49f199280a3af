// `<dataDir>/api.json` tells CLI commands where the running node of a data directory listens.
import { closeSync, constants, lstatSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export const API_INFO_FILE = 'api.json'
/** The file is written by us, but a damaged one must not make the CLI misbehave. */
const MAX_API_INFO_BYTES = 4096

export interface ApiInfo {
  readonly version: 1
  readonly url: string
  readonly pid: number
}

/** Checked by hand, not with zod: `start` reads this file, and zod (~3 MB of heap once loaded) is otherwise needed
 * only by the API's routes, which load on the first API request (issue 10, device.idle_rss). */
function apiInfoOf (value: unknown): ApiInfo | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const { version, url, pid } = value as Record<string, unknown>
  // An origin only: scheme, host (a name, an IPv4 or a bracketed IPv6 address) and port; no path, no space, no newline.
  if (version !== 1 || typeof url !== 'string' || !/^http:\/\/[A-Za-z0-9.\-[\]:]{1,300}$/.test(url)) return undefined
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0) return undefined
  return { version, url, pid }
}

export function writeApiInfo (dataDir: string, info: { url: string, pid: number }): void {
  const value: ApiInfo = { version: 1, url: info.url, pid: info.pid }
  writeFileSync(join(dataDir, API_INFO_FILE), JSON.stringify(value) + '\n', { mode: 0o600 })
}

/** The recorded address, or undefined when there is none or it is damaged. */
export function readApiInfo (dataDir: string): ApiInfo | undefined {
  const path = join(dataDir, API_INFO_FILE)
  // A regular file only (a FIFO or a link to /dev/zero would hang or flood the read), and never more than the bound.
  let st
  try { st = lstatSync(path) } catch { return undefined }
  if (!st.isFile() || st.size > MAX_API_INFO_BYTES) return undefined
  const buf = Buffer.alloc(MAX_API_INFO_BYTES + 1)
  let n: number
  try {
    const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
    try { n = readSync(fd, buf, 0, buf.length, 0) } finally { closeSync(fd) }
  } catch {
    return undefined
  }
  if (n > MAX_API_INFO_BYTES) return undefined
  try {
    return apiInfoOf(JSON.parse(buf.subarray(0, n).toString('utf8')))
  } catch {
    return undefined
  }
}

/** Removes the file only if it still names this process (a newer node may have replaced it). */
export function removeApiInfo (dataDir: string, pid: number): void {
  const info = readApiInfo(dataDir)
  if (info !== undefined && info.pid !== pid) return
  rmSync(join(dataDir, API_INFO_FILE), { force: true })
}
