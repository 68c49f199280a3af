// The layers point one way (docs: STYLE "Layers enforced, not remembered"). This test reads every
// import under src/ and fails on one that points from a lower layer to a higher one (or sideways
// between two layers of one rank). Runs in `npm test`.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const SRC = fileURLToPath(new URL('../../src/', import.meta.url))

/**
 * Rank of each directory of src/: a file may import only from its own directory or from a lower rank.
 * cli is the program and imports the API client; nothing imports cli, and only cli imports api.
 * relay is the relay program's service, beside the messenger: both sit on net, store and wire.
 */
export const RANKS: Readonly<Record<string, number>> = {
  cli: 5,
  api: 4,
  messenger: 3,
  relay: 3,
  net: 2,
  e2ee: 2,
  wire: 1,
  store: 1,
  identity: 1,
  platform: 0,
  types: 0
}

/** The import specifiers of one file: static, side-effect, re-export and dynamic imports. */
export function importsOf (text: string): string[] {
  const out: string[] = []
  for (const m of text.matchAll(/(?:\bfrom\s+|\bimport\s+|\bimport\s*\(\s*)['"]([^'"]+)['"]/g)) out.push(m[1] as string)
  return out
}

/** Upward or sideways imports among `files` (paths under src/ with their text). */
export function violations (files: ReadonlyArray<{ path: string, text: string }>): string[] {
  const found: string[] = []
  for (const f of files) {
    const from = f.path.split('/')[0] as string
    const fromRank = RANKS[from]
    if (fromRank === undefined) { found.push(`${f.path}: directory src/${from} has no rank in test/layers/imports.test.ts`); continue }
    for (const spec of importsOf(f.text)) {
      if (!spec.startsWith('.')) continue
      const target = relative(SRC, resolve(SRC, dirname(f.path), spec)).split(sep).join('/')
      if (target.startsWith('..')) { found.push(`${f.path} imports ${spec}, outside src/`); continue }
      const to = target.split('/')[0] as string
      if (to === from) continue
      const toRank = RANKS[to]
      if (toRank === undefined || toRank >= fromRank) found.push(`${f.path} (${from}, rank ${fromRank}) imports ${target} (${to}, rank ${toRank ?? '?'})`)
    }
  }
  return found
}

function sources (dir: string): Array<{ path: string, text: string }> {
  const out: Array<{ path: string, text: string }> = []
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) out.push(...sources(p))
    else if (/\.tsx?$/.test(name)) out.push({ path: relative(SRC, p).split(sep).join('/'), text: readFileSync(p, 'utf8') })
  }
  return out
}

test('no file under src/ imports from a higher (or same-rank other) layer', () => {
  const files = sources(SRC)
  assert.ok(files.length > 50, 'the walk found the sources')
  assert.deepEqual(violations(files), [])
})

test('the check catches an upward import, a sideways one and a dynamic one', () => {
  assert.deepEqual(violations([{ path: 'wire/deliver.ts', text: "import { NetError } from '../net/errors.ts'" }]).length, 1)
  assert.deepEqual(violations([{ path: 'net/node.ts', text: "import type { X } from '../e2ee/device.ts'" }]).length, 1)
  assert.deepEqual(violations([{ path: 'messenger/host.ts', text: "const m = await import('../api/server.ts')" }]).length, 1)
  assert.deepEqual(violations([{ path: 'api/routes.ts', text: "export { x } from '../cli/main.ts'" }]).length, 1)
  assert.deepEqual(violations([{ path: 'cli/main.ts', text: "import { ApiClient } from '../api/client.ts'\nimport { a } from './args.ts'" }]), [])
})
