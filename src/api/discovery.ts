// `<dataDir>/api.json` tells CLI commands where the running node of a data directory listens.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'

export const API_INFO_FILE = 'api.json'
/** The file is written by us, but a damaged one must not make the CLI misbehave. */
const MAX_API_INFO_BYTES = 4096

const ApiInfoSchema = z.object({
  version: z.literal(1),
  url: z.string().regex(/^http:\/\/[^/]+$/),
  pid: z.number().int().positive()
})

export type ApiInfo = z.infer<typeof ApiInfoSchema>

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
    const parsed = ApiInfoSchema.safeParse(JSON.parse(text))
    return parsed.success ? parsed.data : undefined
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
