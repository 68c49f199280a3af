// Paging back in the web UI (web/src/screens/Conversation.tsx, App.tsx loadOlder): a chat opens on its newest page
// (MESSAGE_PAGE = 200); "Load older messages" adds the page before it (the API's cursor, src/api/page-cursor.ts)
// above, keeps the message the reader was looking at where it was, and does not count the older ones as new.
// Each bubble shows when its message was written, its title in full (web/src/format.ts bubbleTime).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { ContactView } from '../../src/messenger/types.ts'
import { waitFor } from '../helpers/wait.ts'
import { api, browserHarness, CHROMIUM, chromiumMissing } from '../helpers/browser.ts'

const STEP_MS = 60_000
const COUNT = 205

test('browser: a long chat opens on its newest page; older messages load above without moving the view', { skip: chromiumMissing ? `${CHROMIUM} is missing (apt-get install chromium)` : false, timeout: 240_000 }, async (t) => {
  const h = await browserHarness(t)
  const a = await h.node('alice')
  const b = await h.node('bob')
  await api(a, 'POST', '/api/account', { name: 'Alice' })
  await api(b, 'POST', '/api/account', { name: 'Bob' })
  const { link } = await api<{ link: string }>(a, 'POST', '/api/invites', { fresh: true })
  await api(b, 'POST', '/api/contacts', { link, name: 'Alice' })
  await waitFor(async () => (await api<ContactView[]>(a, 'GET', '/api/contacts')).length === 1, 'Alice learns Bob', STEP_MS)
  const bobId = (await api<ContactView[]>(a, 'GET', '/api/contacts'))[0]?.id as string
  // Mine are in my history as soon as they are sent: the page has them whether or not Bob has them yet.
  for (let i = 1; i <= COUNT; i++) await api(a, 'POST', `/api/contacts/${bobId}/messages`, { text: `message ${i}` })

  const alice = await h.person('alice', { width: 1100, height: 760 })
  const page = alice.page
  await page.goto(a.api.uiUrl)
  await page.locator('[data-testid=contact][data-name="Bob"]').click()
  const bubbles = page.locator('[data-testid=message]')
  await waitFor(async () => await bubbles.count() === 200, 'the newest page', STEP_MS)
  assert.equal(await bubbles.first().locator('.text').innerText(), `message ${COUNT - 199}`)
  assert.equal(await bubbles.last().locator('.text').innerText(), `message ${COUNT}`)
  const title = await bubbles.last().getByTestId('message-time').getAttribute('title')
  assert.match(title ?? '', /^Sent \S/, 'the bubble says when it was written')

  // The reader scrolls to the top and asks for more.
  await page.getByTestId('messages').evaluate((el) => { el.scrollTop = 0 })
  const anchor = page.locator('[data-testid=message]', { hasText: new RegExp(`^message ${COUNT - 199}\\b`) })
  const offset = async (): Promise<number> => await anchor.evaluate((el) => el.getBoundingClientRect().top - (el.closest('[data-testid=messages]') as HTMLElement).getBoundingClientRect().top)
  const before = await offset()
  await page.getByTestId('load-older').click()
  await waitFor(async () => await bubbles.count() === COUNT, 'the older page', STEP_MS)
  const texts = await bubbles.locator('.text').allInnerTexts()
  assert.deepEqual(texts, Array.from({ length: COUNT }, (_, i) => `message ${i + 1}`))
  assert.ok(Math.abs(await offset() - before) <= 2, `the message read stays in place: ${before} -> ${await offset()}`)
  assert.equal(await page.getByTestId('load-older').count(), 0, 'a page that was not full: nothing older')
  assert.equal(await page.getByTestId('new-messages').count(), 0, 'older messages are not new ones')

  // A new message still lands at the end, counted while the reader is up the list.
  await api(b, 'POST', `/api/contacts/${(await api<ContactView[]>(b, 'GET', '/api/contacts'))[0]?.id as string}/messages`, { text: 'a new one' })
  await page.getByTestId('new-messages').filter({ hasText: '1 new message' }).waitFor({ timeout: STEP_MS })
  assert.deepEqual(h.problems, [])
})
