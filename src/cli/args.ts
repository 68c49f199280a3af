// Shared pieces of command-line handling: the parsed shape and the passphrase file.
import { readFileSync } from 'node:fs'
import { CliError } from './errors.ts'

/** A passphrase file is one line; anything bigger is the wrong file. */
const MAX_PASSPHRASE_FILE_BYTES = 4096

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>
  positionals: string[]
}

export function readPassphraseFile (path: string | undefined): string | undefined {
  if (path === undefined) return undefined
  let text: string
  try {
    const buf = readFileSync(path)
    if (buf.length > MAX_PASSPHRASE_FILE_BYTES) throw new CliError('USAGE', `The passphrase file ${path} is too large to be a passphrase file.`)
    text = buf.toString('utf8')
  } catch (err) {
    if (CliError.is(err)) throw err
    throw new CliError('FAILED', `Cannot read the passphrase file ${path}.`, { cause: err })
  }
  const passphrase = text.replace(/\r?\n$/, '')
  if (passphrase.length === 0) throw new CliError('USAGE', `The passphrase file ${path} is empty.`)
  return passphrase
}
