// Issue 12 in groups, in a real browser: the group chat's composer has the same attach button as a one-to-one
// chat; an image Alice attaches in her group chat crosses real nodes and renders inline in Bob's group chat.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ContactView } from '../../src/messenger/types.ts'
import { png } from '../helpers/png.ts'
import { waitFor } from '../helpers/wait.ts'
import { api, browserHarness, CHROMIUM, chromiumMissing } from '../helpers/browser.ts'

test('browser: an image attached in a group chat renders inline in another member\'s group chat', { skip: chromiumMissing ? `${CHROMIUM} is missing (apt-get install chromium)` : false, timeout: 240_000 }, async (t) => {
  const h = await browserHarness(t)
  const a = await h.node('alice')
  const b = await h.node('bob')
  await api(a, 'POST', '/api/account', { name: 'Alice' })
  await api(b, 'POST', '/api/account', { name: 'Bob' })
  const invite = await api<{ link: string }>(a, 'POST', '/api/invites', {})
  const bobToAlice = (await api<ContactView>(b, 'POST', '/api/contacts', { link: invite.link })).id
  await api(b, 'POST', `/api/contacts/${bobToAlice}/messages`, { text: 'hello' })
  const aliceToBob = await waitFor(async () => (await api<ContactView[]>(a, 'GET', '/api/contacts'))[0]?.id, 'Alice learns Bob')
  const group = await api<{ id: string }>(a, 'POST', '/api/groups', { name: 'Trip', members: [aliceToBob] })
  await waitFor(async () => (await api<Array<{ id: string, members: unknown[] }>>(b, 'GET', '/api/groups')).find((g) => g.id === group.id)?.members.length === 2, 'Bob joins the group', 60_000)

  const alice = await h.person('alice')
  const bob = await h.person('bob')
  for (const p of [alice, bob]) {
    await p.page.goto(p === alice ? a.api.uiUrl : b.api.uiUrl)
    await p.page.locator('[data-testid=group-chat][data-name="Trip"]').click()
    await p.page.getByTestId('group-conversation').waitFor()
  }
  const image = join(h.dir('files'), 'beach.png')
  writeFileSync(image, png(40, 30, [20, 140, 220]))
  await alice.page.getByTestId('group-conversation').getByTestId('file-input').setInputFiles(image)
  await alice.page.locator('[data-testid=group-conversation] [data-testid=file][data-name="beach.png"] [data-testid=file-image]').waitFor()
  const img = bob.page.locator('[data-testid=group-conversation] [data-testid=file][data-name="beach.png"] [data-testid=file-image]')
  await img.waitFor({ timeout: 60_000 })
  await waitFor(async () => await img.evaluate((el) => (el as HTMLImageElement).naturalWidth === 40 && (el as HTMLImageElement).naturalHeight === 30), 'the image decodes at its size', 30_000)
  await h.shot(bob.page, 'group-files-01-bob-sees-image')
  assert.deepEqual(h.problems, [])
})
