// Opens one SQLCipher database per data directory and applies numbered migrations.
// The 32-byte database key comes from a random key file (mode 0600) or from a passphrase via Argon2id.
// The directory is kept 0700 and the database, its WAL and SHM 0600 (src/platform/private-files.ts).
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync, chmodSync, renameSync, rmSync, lstatSync, openSync, fsyncSync, closeSync } from 'node:fs'
import { dirname, join } from 'node:path'
import Database from '@signalapp/sqlcipher'
import sodium from 'sodium-native'
import type { Logger } from '../platform/logger.ts'
import { PRIVATE_FILE_MODE, ensurePrivateDir, ensurePrivateFile, isShared, tightenIfPresent } from '../platform/private-files.ts'
import { StoreError } from './errors.ts'

export type { Database }

export const DATABASE_FILE = 'store.db'
export const KEY_FILE = 'store.key'
export const SALT_FILE = 'store.salt'
/** SQLCipher raw key length: 256-bit AES key, no KDF inside SQLCipher (we do the KDF). */
export const DATABASE_KEY_BYTES = 32
/** Argon2id cost: libsodium's "moderate" profile (256 MiB, 3 passes) is too slow on a 2-core box
 * for every start; 64 MiB × 3 passes takes ~70 ms here and is the figure research/stack.md measured. */
export const ARGON2_MEMLIMIT = 64 * 1024 * 1024
export const ARGON2_OPSLIMIT = 3
/** SQLCipher's page size when none is named, and so the page size of every store made before one was. */
export const SQLCIPHER_DEFAULT_PAGE_SIZE = 4096
/** Every page size SQLite allows: an encrypted file does not say its own, so an open that fails tries these. */
const PAGE_SIZES = [512, 1024, 2048, 4096, 8192, 16384, 32768, 65536]
/** WAL pages after which a store's WAL is checkpointed into the database file: SQLite's own default. */
export const WAL_CHECKPOINT_PAGES = 1000
/** An 'idle' store past WAL_CHECKPOINT_PAGES checkpoints once it has committed nothing for this long. A checkpoint
 * copies the WAL's pages into the file and syncs both (3-13 ms measured on the benchmark machine, most of it the two
 * fsyncs, with the event loop blocked): made two turns after the commit that crossed the mark (as it was), it fell
 * inside the exchange of the next message once in every ~70 sent or received one at a time, which waited for it
 * (issue 10: the direct latency's tail); made in a pause, it holds no message back. */
export const CHECKPOINT_IDLE_MS = 100
/** WAL pages at which an 'idle' store checkpoints in the next turn without waiting for a pause: a device that never
 * pauses (a long burst) still copies its WAL every so often. ~8 MB of WAL at 2048-byte pages, some 270 messages' commits
 * of ~15 pages (DEVICE_PAGE_SIZE in schema.ts). */
export const WAL_CHECKPOINT_BUSY_PAGES = 4 * WAL_CHECKPOINT_PAGES
/** WAL pages at which an 'idle' store checkpoints inside the commit after all: commits in one long synchronous run
 * (a migration, a batch in one turn) never reach a next turn, and the WAL would grow by every page they write. Twice
 * the busy mark: ~16 MB of WAL at 2048-byte pages, which the messenger (it yields between messages) never meets; a run
 * that does meet it pays one copy per 8,000 pages (SQLite's own hook: per 1,000). */
export const WAL_CHECKPOINT_CAP_PAGES = 2 * WAL_CHECKPOINT_BUSY_PAGES
/** Bytes of the WAL file's header and of each frame's header (before its page): SQLite's file format. */
const WAL_HEADER_BYTES = 32
const WAL_FRAME_HEADER_BYTES = 24
/** Where a store is rewritten with another page size before it replaces the original (see convertPageSize). */
const CONVERTING_SUFFIX = '.converting'

export interface Migration {
  /** 1, 2, 3, ...: applied in order, each in its own transaction, recorded in PRAGMA user_version. */
  readonly version: number
  readonly name: string
  readonly up: string | ((db: Database) => void)
}

export interface OpenDatabaseOptions {
  /** Full path of the database file. */
  readonly path: string
  readonly key: Uint8Array
  readonly migrations: readonly Migration[]
  /** 'FULL' makes every commit durable before it returns (relays acknowledge deposits after it). */
  readonly synchronous?: 'FULL' | 'NORMAL'
  /**
   * SQLCipher page size of the store (bytes, a power of two from 512 to 65536). An encrypted file does not say its
   * own, so an open tries this one first (SQLCIPHER_DEFAULT_PAGE_SIZE when none is named), then the others. A store
   * found at another size than the one named here is rewritten with it once (convertPageSize; if that fails it stays
   * as it was and opens as such); with none named it opens at whatever size it has.
   */
  readonly pageSize?: number
  /**
   * When the WAL is copied into the database file once it holds WAL_CHECKPOINT_PAGES: 'in-commit' (SQLite's own
   * behaviour, the default) inside the COMMIT that crossed the mark, or 'idle': once the store has committed nothing
   * for CHECKPOINT_IDLE_MS (in the next turn past WAL_CHECKPOINT_BUSY_PAGES), so no commit (and nothing that waits for
   * one, a message's send or receipt) carries the copy of a thousand pages and its two fsyncs. The commit itself is as
   * durable either way: with synchronous=FULL the WAL is synced at each commit, which then survives a power cut; with
   * NORMAL (the device's default, DEFAULT_SYNCHRONOUS in src/e2ee/account.ts) it is synced only at checkpoints, so a
   * commit survives a crash of the process but a power cut may lose the last ones.
   */
  readonly checkpoint?: 'in-commit' | 'idle'
  /** Where a failed page-size conversion is reported (a reason code only: never a path or key). */
  readonly logger?: Logger
}

/** Derives the key of a passphrase-protected directory, or reads/creates its random key file. */
export function resolveDatabaseKey (dir: string, options: { passphrase?: string | undefined, create: boolean }): Buffer {
  const keyPath = join(dir, KEY_FILE)
  const saltPath = join(dir, SALT_FILE)
  if (existsSync(saltPath)) {
    if (options.passphrase === undefined) {
      throw new StoreError('PASSPHRASE_REQUIRED', 'This data directory is protected by a passphrase; give it with --passphrase-file.')
    }
    const salt = readFileSync(saltPath)
    if (salt.length !== sodium.crypto_pwhash_SALTBYTES) {
      throw new StoreError('KEY_FILE_INVALID', `The salt file ${saltPath} is damaged (wrong length).`)
    }
    return deriveKey(options.passphrase, salt)
  }
  if (existsSync(keyPath)) {
    // A key that other users could read protects nothing; say so rather than silently fix it, since
    // someone may already have copied it.
    if (isShared(keyPath)) {
      throw new StoreError('KEY_FILE_EXPOSED', `The key file ${keyPath} is readable by other users, so the store it locks may be exposed; make it private with \`chmod 600 ${keyPath}\` and start again.`)
    }
    const key = readFileSync(keyPath)
    if (key.length !== DATABASE_KEY_BYTES) {
      throw new StoreError('KEY_FILE_INVALID', `The key file ${keyPath} is damaged (wrong length).`)
    }
    return key
  }
  if (!options.create) {
    throw new StoreError('WRONG_KEY', `No key file or salt file in ${dir}: this is not a 0message1 data directory.`)
  }
  ensurePrivateDir(dir)
  if (options.passphrase !== undefined) {
    const salt = randomBytes(sodium.crypto_pwhash_SALTBYTES)
    writeFileSync(saltPath, salt, { mode: PRIVATE_FILE_MODE, flag: 'wx' })
    chmodSync(saltPath, PRIVATE_FILE_MODE)
    return deriveKey(options.passphrase, salt)
  }
  const key = randomBytes(DATABASE_KEY_BYTES)
  writeFileSync(keyPath, key, { mode: PRIVATE_FILE_MODE, flag: 'wx' })
  chmodSync(keyPath, PRIVATE_FILE_MODE)
  return key
}

function deriveKey (passphrase: string, salt: Uint8Array): Buffer {
  if (passphrase.length === 0) throw new RangeError('passphrase must not be empty')
  const out = Buffer.alloc(DATABASE_KEY_BYTES)
  sodium.crypto_pwhash(out, Buffer.from(passphrase, 'utf8'), Buffer.from(salt), ARGON2_OPSLIMIT, ARGON2_MEMLIMIT, sodium.crypto_pwhash_ALG_ARGON2ID13)
  return out
}

/** Opens (or creates) the database with its key, checks the key, applies pending migrations. */
export function openDatabase (options: OpenDatabaseOptions): Database {
  if (options.key.length !== DATABASE_KEY_BYTES) throw new RangeError(`key must be ${DATABASE_KEY_BYTES} bytes`)
  const pageSize = options.pageSize ?? SQLCIPHER_DEFAULT_PAGE_SIZE
  // SQLite would create the file 0644 (less the umask); made first, 0600, SQLite gives its WAL and
  // SHM the same mode. Files left looser by an older version are tightened here.
  ensurePrivateDir(dirname(options.path))
  ensurePrivateFile(options.path)
  let opened = openKeyed(options.path, options.key, pageSize)
  for (const other of PAGE_SIZES) {
    if ('db' in opened) break
    if (!isNotADatabase(opened.error)) throw cannotOpen(opened.error)
    if (other === pageSize) continue
    // A store made at another page size (a device store before issue 10 was at SQLCipher's default): the key is
    // right if it opens at that one. A wrong key fails at every size.
    const found = openKeyed(options.path, options.key, other)
    // A store written by a newer version is left as it is (migrate refuses it with SCHEMA_TOO_NEW below): that
    // version may want another page size, and this one must not rewrite what it does not know.
    if ('db' in found) opened = options.pageSize === undefined || schemaVersion(found.db) > options.migrations.length ? found : convertPageSize(found.db, options.path, options.key, pageSize, other, options.logger)
    else if (!isNotADatabase(found.error)) throw cannotOpen(found.error)
  }
  if ('error' in opened) {
    if (!isNotADatabase(opened.error)) throw cannotOpen(opened.error)
    throw new StoreError('WRONG_KEY', 'The database could not be opened: wrong passphrase or key file, or the file is not a 0message1 store.', { cause: opened.error })
  }
  const db = opened.db
  try {
    db.pragma('journal_mode = WAL')
    for (const suffix of ['-wal', '-shm']) tightenIfPresent(options.path + suffix)
    db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`)
    db.pragma('foreign_keys = ON')
    db.pragma('busy_timeout = 5000')
    // A WAL that grew past its mark (a long run of commits before a checkpoint) is cut back to this size when it next
    // starts over, instead of keeping its largest size on disk for good. An 'idle' store's mark is the busy one: its
    // WAL passes the first in any run of messages, and cutting a file of megabytes (ftruncate) took ~3 ms of the
    // commit that started it over, a message's.
    const walPages = options.checkpoint === 'idle' ? WAL_CHECKPOINT_BUSY_PAGES : WAL_CHECKPOINT_PAGES
    db.pragma(`journal_size_limit = ${walPages * (Number(db.pragma('page_size', { simple: true })) + WAL_FRAME_HEADER_BYTES) + WAL_HEADER_BYTES}`)
    migrate(db, options.migrations)
    if (options.checkpoint === 'idle') checkpointWhenIdle(db)
  } catch (err) {
    db.close()
    throw err
  }
  return db
}

/** Replaces SQLite's checkpoint inside the commit (its WAL hook) by one when the store pauses, or in a later turn of
 * the event loop once the WAL passes WAL_CHECKPOINT_BUSY_PAGES. A PASSIVE checkpoint, as SQLite's: it never waits for
 * a lock, and once it has copied every frame the next write starts the WAL over. A store closed before then is
 * checkpointed by its close. Commits that never yield let the WAL grow: at WAL_CHECKPOINT_CAP_PAGES the commit
 * checkpoints itself, as SQLite's own hook would. */
function checkpointWhenIdle (db: Database): void {
  let scheduled = false
  /** The pause timer, re-armed by itself (not by each commit) until no commit came for CHECKPOINT_IDLE_MS. */
  let idle: ReturnType<typeof setTimeout> | undefined
  let lastCommit = 0
  /** The WAL's pages after the last commit: a checkpoint in the next turn may have started it over meanwhile. */
  let walPages = 0
  const checkpoint = (): void => {
    try {
      db.pragma('wal_checkpoint(PASSIVE)')
    } catch {
      // Closed meanwhile, or busy: the next commit past the mark schedules it again.
    }
  }
  const whenIdle = (): void => {
    const quiet = performance.now() - lastCommit
    if (quiet < CHECKPOINT_IDLE_MS) { idle = setTimeout(whenIdle, CHECKPOINT_IDLE_MS - quiet).unref(); return }
    idle = undefined
    if (walPages >= WAL_CHECKPOINT_PAGES && !scheduled) checkpoint()
  }
  addWalHook(db, (_name, pages) => {
    walPages = pages
    lastCommit = performance.now()
    if (pages >= WAL_CHECKPOINT_CAP_PAGES) { checkpoint(); return }
    if (pages < WAL_CHECKPOINT_PAGES) return
    if (pages < WAL_CHECKPOINT_BUSY_PAGES) {
      idle ??= setTimeout(whenIdle, CHECKPOINT_IDLE_MS).unref()
      return
    }
    if (scheduled) return
    scheduled = true
    // Two hops: what the commit let out is written at the end of its turn, by a setImmediate queued after this one
    // (a message's envelope or ack: src/net/muxer-writes.ts); copying the WAL first would hold it back.
    setImmediate(() => {
      setImmediate(() => {
        scheduled = false
        checkpoint()
      })
    })
  })
}

type WalHook = (name: string, pages: number) => void
const walHooks = new WeakMap<Database, WalHook[]>()

/** Adds a WAL hook (called after each commit with the WAL's page count). A connection has one (setWalHook replaces
 * it, and with it an 'idle' store's checkpoints): every hook of this module's stores goes through this. */
export function addWalHook (db: Database, hook: WalHook): void {
  let hooks = walHooks.get(db)
  if (hooks === undefined) {
    const list: WalHook[] = []
    hooks = list
    walHooks.set(db, list)
    db.setWalHook((name, pages) => { for (const h of list) h(name, pages) })
  }
  hooks.push(hook)
}

type Keyed = { db: Database } | { error: unknown }

/** SQLITE_NOTADB is what a wrong key or page size gives at the first read (page 1 does not decrypt and check). */
function isNotADatabase (error: unknown): boolean {
  return sqliteCode(error) === 'SQLITE_NOTADB'
}

function sqliteCode (error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** Any other failure (locked, unreadable, I/O) is no wrong key: said as what it is, with SQLite's code. */
function cannotOpen (error: unknown): StoreError {
  const code = sqliteCode(error) ?? 'no SQLite code: the file could not be opened'
  return new StoreError('OPEN_FAILED', `The database could not be opened (${code}); check that no other process holds it, its permissions and the disk.`, { cause: error })
}

/** A connection with the key and page size whose first read succeeded, or the error of that read (closed). */
function openKeyed (path: string, key: Uint8Array, pageSize: number): Keyed {
  const db = new Database(path, { cacheStatements: true })
  try {
    // SQLCipher would print "hmac check failed" to stderr on a wrong key; we report StoreError instead.
    db.pragma('cipher_log_level = NONE')
    db.pragma(`key = "x'${Buffer.from(key).toString('hex')}'"`)
    db.pragma(`cipher_page_size = ${pageSize}`)
    // The first read is where a wrong key (or page size) shows (SQLITE_NOTADB); nothing has been written yet. The
    // connection is not read-only (the driver opens every file read-write, no URI): its close may checkpoint a WAL.
    db.prepare('SELECT count(*) FROM sqlite_master').get()
    return { db }
  } catch (error) {
    db.close()
    return { error }
  }
}

/**
 * Rewrites a store of page size `from` with `pageSize` (same key, same cipher and page HMAC) and opens it; `legacy`
 * (the store open at `from`) is closed. sqlcipher_export copies it into PATH.converting, which replaces the original
 * by rename only once written, synced and checked: a crash or error before then leaves the original as it was (the
 * next open tries again), after it the converted store. On error the original is opened as it is (at `from`).
 */
function convertPageSize (legacy: Database, path: string, key: Uint8Array, pageSize: number, from: number, logger: Logger | undefined): Keyed {
  const target = path + CONVERTING_SUFFIX
  const removeTarget = (): void => { for (const s of ['', '-journal', '-wal', '-shm']) rmSync(target + s, { force: true }) }
  try {
    // A symlinked store is opened as it is, never converted: the rename would put a regular file in place of the
    // link (the store would leave the place it points to), and a copy beside the link may be on another file system.
    if (lstatSync(path).isSymbolicLink()) throw new ConversionFailure('SYMLINK')
    removeTarget()
    // Everything in the WAL into the file first: the export reads the database, and the WAL is removed below.
    const [cp] = legacy.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>
    if (cp !== undefined && cp.busy !== 0) throw new ConversionFailure('IN_USE')
    const version = schemaVersion(legacy)
    ensurePrivateFile(target)
    legacy.prepare('ATTACH DATABASE ? AS converted KEY ?').run([target, `x'${Buffer.from(key).toString('hex')}'`])
    legacy.pragma(`converted.cipher_page_size = ${pageSize}`)
    legacy.prepare("SELECT sqlcipher_export('converted')").get()
    // sqlcipher_export copies schema and rows, not PRAGMA user_version (the migrations' count).
    legacy.pragma(`converted.user_version = ${version}`)
    legacy.exec('DETACH DATABASE converted')
    legacy.close()
    const check = openKeyed(target, key, pageSize)
    if ('error' in check) throw check.error
    try {
      if (schemaVersion(check.db) !== version || check.db.pragma('quick_check', { simple: true }) !== 'ok') throw new ConversionFailure('CHECK_FAILED')
    } finally {
      check.db.close()
    }
    fsyncFile(target)
    // The original's WAL was checkpointed into it and is empty: SQLite must not replay it over the new file.
    for (const s of ['-wal', '-shm']) rmSync(path + s, { force: true })
    renameSync(target, path)
    fsyncFile(dirname(path))
  } catch (err) {
    // Said once per start: the store stays usable at its old size, and the next start tries again.
    logger?.warn('store.page_size_conversion_failed', { reason: conversionFailureReason(err), from, to: pageSize })
    try { legacy.close() } catch { /* closed already */ }
    try { removeTarget() } catch { /* left for the next open */ }
    // Failed before the rename: the original, as it was. After it (syncing the directory): the converted store.
    const converted = openKeyed(path, key, pageSize)
    return 'db' in converted ? converted : openKeyed(path, key, from)
  }
  return openKeyed(path, key, pageSize)
}

/** Why a conversion stopped, for the log: our own reasons, or the code of a file-system (ENOSPC, EACCES...) or SQLite
 * (SQLITE_FULL...) error. Never the error's message: a file-system message names the path. */
class ConversionFailure extends Error {
  constructor (readonly reason: 'IN_USE' | 'CHECK_FAILED' | 'SYMLINK') { super(reason) }
}

function conversionFailureReason (err: unknown): string {
  if (err instanceof ConversionFailure) return err.reason
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code) ? code : 'UNKNOWN'
}

function fsyncFile (path: string): void {
  const fd = openSync(path, 'r')
  try { fsyncSync(fd) } finally { closeSync(fd) }
}

export function schemaVersion (db: Database): number {
  return Number(db.pragma('user_version', { simple: true }))
}

/** Applies every migration newer than PRAGMA user_version, each atomically with its version bump. */
export function migrate (db: Database, migrations: readonly Migration[]): void {
  const sorted = [...migrations].sort((a, b) => a.version - b.version)
  sorted.forEach((m, i) => {
    if (m.version !== i + 1) throw new RangeError(`migrations must be numbered 1..n without gaps (found ${m.version} at ${i + 1})`)
  })
  const current = schemaVersion(db)
  if (current > sorted.length) {
    throw new StoreError('SCHEMA_TOO_NEW', `This data directory was written by a newer 0message1 (schema ${current}); upgrade to open it.`)
  }
  for (const m of sorted.slice(current)) {
    try {
      db.transaction(() => {
        if (typeof m.up === 'string') db.exec(m.up)
        else m.up(db)
        db.pragma(`user_version = ${m.version}`)
      })()
    } catch (err) {
      throw new StoreError('MIGRATION_FAILED', `Schema migration ${m.version} (${m.name}) failed; the store was left at version ${m.version - 1}.`, { cause: err })
    }
  }
}
