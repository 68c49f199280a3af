import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { DATABASE_FILE, openDatabase, resolveDatabaseKey, schemaVersion } from '../../src/store/db.ts'
import { MIGRATIONS } from '../../src/store/schema.ts'
import { tempDir } from '../e2ee/helpers.ts'

test('schema migrations: numbered 1..n, apply step by step, and an upgrade keeps the data', (t) => {
  assert.deepEqual(MIGRATIONS.map((m) => m.version), MIGRATIONS.map((_m, i) => i + 1))
  const dir = tempDir(t, '0m1-schema-')
  const key = resolveDatabaseKey(dir, { create: true })
  const path = join(dir, DATABASE_FILE)
  const v1 = openDatabase({ path, key, migrations: MIGRATIONS.slice(0, 1) })
  assert.equal(schemaVersion(v1), 1)
  v1.prepare("INSERT INTO signal_sessions (address, record) VALUES ('x', x'00')").run()
  v1.close()
  const all = openDatabase({ path, key, migrations: MIGRATIONS })
  assert.equal(schemaVersion(all), MIGRATIONS.length)
  assert.equal(all.prepare('SELECT count(*) AS n FROM signal_sessions').get()?.n, 1)
  const tables = all.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all().map((r) => r.name)
  for (const name of ['account', 'contacts', 'conversations', 'messages', 'outbox', 'pending_invites', 'settings', 'signal_identities', 'signal_kyber_prekeys', 'signal_kyber_used', 'signal_prekeys', 'signal_sessions', 'signal_signed_prekeys']) {
    assert.ok(tables.includes(name), name)
  }
  // One account per store, enforced by the schema itself.
  all.prepare("INSERT INTO account VALUES (1, x'00', 1, 'a', 0, 1, 1, 2, 2, x'00')").run()
  assert.throws(() => all.prepare("INSERT INTO account VALUES (2, x'00', 1, 'b', 0, 1, 1, 2, 2, x'00')").run())
  all.close()
})
