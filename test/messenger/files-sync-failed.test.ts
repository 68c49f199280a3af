// A direct 1.2.0 receiver whose fdatasync fails (EIO): Linux marks the lost pages clean, so a later fdatasync
// succeeds without them ("fsyncgate"). Nothing past the last good sync may be confirmed durable or delivered from
// that state; the transfer starts again from what the last good sync covered and completes, hash checked.
import test from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { open } from 'node:fs/promises'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FileTransfers } from '../../src/messenger/files/transfers.ts'
import { createPeople, tempDir, type Person } from '../helpers/testnet.ts'
import { waitFor } from '../helpers/wait.ts'

const MiB = 1024 * 1024
const files = (p: Person): FileTransfers => p.m().files as FileTransfers
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

test('an fdatasync that fails mid direct transfer: nothing past the last good sync is confirmed, and the file still arrives whole', { timeout: 120_000 }, async (t) => {
  const { people: [alice, bob], contact } = await createPeople(t, { relays: 1 }) as unknown as { people: [Person, Person], contact: (a: Person, b: Person) => string }
  const dir = tempDir(t, '0m1-syncfail-')
  const path = join(dir, 'f.bin')
  const bytes = randomBytes(20 * MiB)
  writeFileSync(path, bytes)
  // The real FileHandle's fdatasync, failed once as a disk error would fail it.
  const probe = await open(path, 'r')
  const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> }
  await probe.close()
  const real = proto.datasync
  let armed = false
  let good = -1
  let failIdx = -1
  let messageId = ''
  const confirmed: number[] = []
  proto.datasync = async function (this: unknown) {
    if (armed) {
      armed = false
      good = files(bob).statsForTest(messageId)?.durableChunks ?? -1
      failIdx = confirmed.length
      throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' })
    }
    return await real.call(this)
  }
  t.after(() => { proto.datasync = real })
  files(alice).onConfirmedForTest((_id, n) => { confirmed.push(n) })
  const { message } = await files(alice).send(contact(alice, bob), path)
  messageId = message.id
  await waitFor(() => { const s = files(bob).statsForTest(message.id); return s !== undefined && s.receivedDirect >= 40 && s.durableChunks > 0 ? true : undefined }, 'bob takes 40 chunks, some durable')
  armed = true
  await waitFor(() => files(bob).list(contact(bob, alice)).find((x) => x.messageId === message.id)?.state === 'delivered' ? true : undefined, 'bob has the file', 90_000)
  assert.equal(armed, false, 'the injected failure ran')
  assert.ok(good > 0 && good < 320, `the failure came mid transfer (${good})`)
  // The sender's resume point never passed the last good sync on the stream where the sync failed.
  const after = confirmed.slice(failIdx)
  assert.ok(after.every((n) => n <= good), `confirmed after the failure: ${JSON.stringify(after)}, last good sync ${good}`)
  // The reopened chunk file was cut to the last good sync before its replay (the rest may be in the page cache only).
  const s = files(bob).statsForTest(message.id)
  assert.ok(s !== undefined && s.resumedAt <= good && s.resumedAt > 0, `replayed from ${s?.resumedAt}, last good sync ${good}`)
  const out = join(tempDir(t, '0m1-save-'), 'out.bin')
  await files(bob).save(message.id, out)
  assert.equal(sha(readFileSync(out)), sha(bytes))
})
