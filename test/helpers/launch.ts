// How the `0message1` command starts Node: the settings on the bin's first line (`#!/usr/bin/env -S NAME=value
// node FLAG`), read from there so that tests and benchmarks that start the bin, or a device process standing
// for it, under this process's own Node apply exactly what a user's `0message1` (or `npm start`) gets.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const BIN = fileURLToPath(new URL('../../bin/0message1.js', import.meta.url))

export interface Launch {
  /** Environment variables the line sets before Node starts. */
  readonly env: Readonly<Record<string, string>>
  /** Node's own flags, before the script. */
  readonly execArgv: readonly string[]
}

/** The launch settings of `bin`'s first line: `#!/usr/bin/env node` or `#!/usr/bin/env -S [NAME=value]... node [FLAG]...`
 * (plain words: env's quoting and `${NAME}` are refused, not half-read). */
export function binLaunch (bin: string = BIN): Launch {
  const first = readFileSync(bin, 'utf8').split('\n', 1)[0] ?? ''
  const m = /^#!\/usr\/bin\/env(?: -S)? (.+)$/.exec(first)
  if (m === null) throw new Error(`${bin}: its first line is not #!/usr/bin/env [-S] ... node`)
  const words = (m[1] ?? '').trim().split(/\s+/)
  if (words.some((w) => /["'\\$#]/.test(w))) throw new Error(`${bin}: its first line quotes or expands: read it by hand`)
  const at = words.indexOf('node')
  if (at < 0 || (!first.includes(' -S ') && words.length > 1)) throw new Error(`${bin}: its first line does not run node (several words need env -S)`)
  const env: Record<string, string> = {}
  for (const w of words.slice(0, at)) {
    const eq = w.indexOf('=')
    if (eq <= 0) throw new Error(`${bin}: '${w}' before node is not NAME=value`)
    env[w.slice(0, eq)] = w.slice(eq + 1)
  }
  return { env, execArgv: words.slice(at + 1) }
}
