// Issue 14 item 6: data directories 0700 and every store file 0600 whatever the umask, also for a
// directory an older version left 0755; a key file readable by others is refused with one sentence.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Device } from '../../src/e2ee/device.ts'
import { DATABASE_FILE, KEY_FILE, resolveDatabaseKey, openDatabase } from '../../src/store/db.ts'
import { StoreError } from '../../src/store/errors.ts'
import { startRelay, RELAY_DATABASE_FILE } from '../../src/relay/service.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { MIGRATIONS } from '../../src/store/schema.ts'

const mode = (path: string): number => statSync(path).mode & 0o777

function root (t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), '0m1-modes-'))
  // The loosest umask: nothing the code creates may rely on the umask to be private.
  const old = process.umask(0)
  t.after(() => { process.umask(old); rmSync(dir, { recursive: true, force: true }) })
  return dir
}

/** A data directory as an older version (or `mkdir` with umask 022) left it. */
function looseDir (parent: string, name: string): string {
  const dir = join(parent, name)
  mkdirSync(dir)
  chmodSync(dir, 0o755)
  return dir
}

test('a device store: directory 0700, store.db, its WAL and SHM 0600, from a 0755 directory and umask 0', async (t) => {
  const dir = looseDir(root(t), 'device')
  const device = await Device.create(dir, { name: 'Modes' })
  await device.createInvite({ relays: ['/ip4/127.0.0.1/tcp/4001/p2p/relayA'], addresses: [] })
  assert.equal(mode(dir), 0o700)
  for (const f of [DATABASE_FILE, `${DATABASE_FILE}-wal`, `${DATABASE_FILE}-shm`, KEY_FILE]) assert.equal(mode(join(dir, f)), 0o600, f)
  device.close()
  // Files an older version left 0644 are tightened when the store is opened again.
  chmodSync(dir, 0o755)
  chmodSync(join(dir, DATABASE_FILE), 0o644)
  const again = await Device.open(dir)
  assert.equal(mode(dir), 0o700)
  for (const f of [DATABASE_FILE, `${DATABASE_FILE}-wal`, `${DATABASE_FILE}-shm`]) assert.equal(mode(join(dir, f)), 0o600, f)
  again.close()
})

test('a relay store: directory 0700, relay.db and its WAL/SHM 0600', async (t) => {
  const dir = looseDir(root(t), 'relay')
  const relay = await startRelay({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], logger: silentLogger, stun: 'off' })
  try {
    assert.equal(mode(dir), 0o700)
    for (const f of [RELAY_DATABASE_FILE, `${RELAY_DATABASE_FILE}-wal`, `${RELAY_DATABASE_FILE}-shm`, KEY_FILE]) assert.equal(mode(join(dir, f)), 0o600, f)
  } finally {
    await relay.stop()
  }
})

test('a key file readable by group or others is refused with KEY_FILE_EXPOSED and one sentence', async (t) => {
  const dir = looseDir(root(t), 'exposed')
  const device = await Device.create(dir, { name: 'Modes' })
  device.close()
  for (const loose of [0o640, 0o604, 0o644]) {
    chmodSync(join(dir, KEY_FILE), loose)
    assert.throws(() => resolveDatabaseKey(dir, { create: false }), (err: unknown) =>
      StoreError.is(err, 'KEY_FILE_EXPOSED') && /readable by other users/.test(err.message) && err.message.includes('chmod 600') && !err.message.includes('\n'))
    await assert.rejects(Device.open(dir), (err: unknown) => StoreError.is(err, 'KEY_FILE_EXPOSED'))
  }
  chmodSync(join(dir, KEY_FILE), 0o600)
  ;(await Device.open(dir)).close()
})

test('a passphrase store made under umask 0 has a private salt file and database', (t) => {
  const dir = looseDir(root(t), 'pass')
  const key = resolveDatabaseKey(dir, { create: true, passphrase: 'correct horse' })
  openDatabase({ path: join(dir, DATABASE_FILE), key, migrations: MIGRATIONS }).close()
  assert.equal(mode(dir), 0o700)
  assert.equal(mode(join(dir, 'store.salt')), 0o600)
  assert.equal(mode(join(dir, DATABASE_FILE)), 0o600)
})
