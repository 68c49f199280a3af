// `<dataDir>/api.json` tells CLI commands where the running node of a data directory listens.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
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
  if (version !== 1 || typeof url !== 'string' || !/^http:\/\/[^/]+$/.test(url)) return undefined
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
  if (!existsSync(path)) return undefined
  const text = readFileSync(path, 'utf8')
  if (text.length > MAX_API_INFO_BYTES) return undefined
  try {
    return apiInfoOf(JSON.parse(text))
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
