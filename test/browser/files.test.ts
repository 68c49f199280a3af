// Issue 12 in a real browser: Alice attaches an image in her UI; it crosses real nodes (direct stream or a
// relay) and Bob's UI renders it inline from the decrypted bytes; a non-image shows its name, size and a save button.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ContactView } from '../../src/messenger/types.ts'
import { png } from '../helpers/png.ts'
import { waitFor } from '../helpers/wait.ts'
import { api, browserHarness, CHROMIUM, chromiumMissing, requireChromiumInCi } from '../helpers/browser.ts'

requireChromiumInCi()

test('browser: an image sent from one UI is rendered in the other; another file shows name, size and save', { skip: chromiumMissing ? `${CHROMIUM} is missing (apt-get install chromium)` : false, timeout: 240_000 }, async (t) => {
  const h = await browserHarness(t)
  const a = await h.node('alice')
  const b = await h.node('bob')
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
