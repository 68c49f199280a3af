// Issue 12 in a real browser: Alice attaches an image in her UI; it crosses real nodes (direct stream or a
// relay) and Bob's UI renders it inline from the decrypted bytes; a non-image shows its name, size and a save button.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { crc32, deflateSync } from 'node:zlib'
import type { ContactView } from '../../src/messenger/types.ts'
import { call } from '../helpers/http.ts'
import { waitFor } from '../helpers/wait.ts'
import { CHROMIUM, browserHarness, chromiumMissing, type Node } from '../helpers/browser.ts'

/** A w×h PNG of one colour (RGB), made here so the test needs no image file. */
function png (w: number, h: number, rgb: [number, number, number]): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length)
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data])
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td))
    return Buffer.concat([len, td, crc])
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2
  const row = Buffer.concat([Buffer.from([0]), Buffer.concat(Array.from({ length: w }, () => Buffer.from(rgb)))])
  const raw = Buffer.concat(Array.from({ length: h }, () => row))
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))])
}

if (chromiumMissing && process.env.CI !== undefined) {
  test('browser: chromium is installed', () => { assert.fail(`${CHROMIUM} is missing; CI must install Debian's chromium (.ci/run does).`) })
}

test('browser: an image sent from one UI is rendered in the other; another file shows name, size and save', { skip: chromiumMissing ? `${CHROMIUM} is missing (apt-get install chromium)` : false, timeout: 240_000 }, async (t) => {
  const h = await browserHarness(t)
  const a = await h.node('alice')
  const b = await h.node('bob')
  const api = async <T>(n: Node, method: string, path: string, body?: unknown): Promise<T> => {
    const r = await call(n.api.url, method, path, { token: n.api.token, ...(body === undefined ? {} : { body }) })
    assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${r.text}`)
    return r.json() as T
  }
  await api(a, 'POST', '/api/account', { name: 'Alice' })
  await api(b, 'POST', '/api/account', { name: 'Bob' })
  const invite = await api<{ link: string }>(a, 'POST', '/api/invites', {})
  const bobToAlice = (await api<ContactView>(b, 'POST', '/api/contacts', { link: invite.link })).id
  await api(b, 'POST', `/api/contacts/${bobToAlice}/messages`, { text: 'send me the picture' })
  await waitFor(async () => (await api<ContactView[]>(a, 'GET', '/api/contacts'))[0]?.id, 'Alice learns Bob')

  const alice = await h.person('alice')
  const bob = await h.person('bob')
  await alice.page.goto(a.api.uiUrl)
  await bob.page.goto(b.api.uiUrl)
  await alice.page.locator('[data-testid=contact][data-name="Bob"]').click()
  await bob.page.locator('[data-testid=contact][data-name="Alice"]').click()

  const image = join(h.dir('files'), 'sunset.png')
  writeFileSync(image, png(64, 48, [250, 120, 30]))
  await alice.page.getByTestId('file-input').setInputFiles(image)
  // Alice sees her own image at once (she has the bytes), then delivered.
  await alice.page.locator('[data-testid=file][data-name="sunset.png"] [data-testid=file-image]').waitFor()
  await alice.page.locator('[data-testid=file][data-name="sunset.png"][data-state=delivered]').waitFor()
  // Bob's UI renders it inline once received and verified.
  const img = bob.page.locator('[data-testid=file][data-name="sunset.png"] [data-testid=file-image]')
  await img.waitFor()
  await waitFor(async () => await img.evaluate((el) => (el as HTMLImageElement).naturalWidth === 64 && (el as HTMLImageElement).naturalHeight === 48), 'the image decodes at its size', 30_000)
  await h.shot(bob.page, 'files-01-bob-sees-image')

  // A non-image: name, size and a save button, no preview.
  const doc = join(h.dir('doc'), 'notes.txt')
  writeFileSync(doc, 'minutes of the meeting\n'.repeat(100))
  await alice.page.getByTestId('file-input').setInputFiles(doc)
  const received = bob.page.locator('[data-testid=file][data-name="notes.txt"][data-state=delivered]')
  await received.waitFor()
  assert.match(await received.innerText(), /notes\.txt/)
  assert.match(await received.innerText(), /2\.2 KB/)
  assert.equal(await received.locator('[data-testid=file-image]').count(), 0)
  const download = bob.page.waitForEvent('download')
  await received.getByTestId('file-save').click()
  assert.equal((await download).suggestedFilename(), 'notes.txt')
  assert.deepEqual(h.problems, [])
})
