// Issue 13 chat features in a real browser against real nodes (test/helpers/browser.ts): an invite made
// in one UI and accepted in the other, a reply with its quote, an edit, a delete for everyone seen on the
// other side, a search hit that opens its conversation, a block that keeps the contact's messages out,
// and a pending invite revoked. Screenshots go to test/artifacts/browser/.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Page } from 'playwright-core'
import type { ContactView, MessageView } from '../../src/messenger/types.ts'
import QRCode from 'qrcode'
import { waitFor } from '../helpers/wait.ts'
import { api, browserHarness, CHROMIUM, chromiumMissing } from '../helpers/browser.ts'

test('browser: invite accepted in the other UI, reply, edit, delete for everyone, search, block, revoke', { skip: chromiumMissing ? `${CHROMIUM} is missing (apt-get install chromium)` : false, timeout: 300_000 }, async (t) => {
  const h = await browserHarness(t)
  const a = await h.node('alice')
  const b = await h.node('bob')
  await api(a, 'POST', '/api/account', { name: 'Alice' })
  await api(b, 'POST', '/api/account', { name: 'Bob' })
  const alice = await h.person('alice', { width: 1280, height: 800 })
  const bob = await h.person('bob', { width: 1280, height: 800 })
  await alice.page.goto(a.api.uiUrl)
  await bob.page.goto(b.api.uiUrl)
  const { page } = alice
  const inMsg = (p: Page, text: string): ReturnType<Page['locator']> => p.locator('[data-testid=message][data-direction=in]', { hasText: text })
  const outMsg = (p: Page, text: string): ReturnType<Page['locator']> => p.locator('[data-testid=message][data-direction=out]', { hasText: text })

  // ---- A short invite: made in Alice's UI (link and QR code), accepted in Bob's ---------------------
  await page.getByTestId('nav-invite').click()
  await waitFor(async () => (await page.getByTestId('invite-link').inputValue()).startsWith('0m1:'), 'invite link shown')
  await page.getByTestId('short-invite').click()
  const link = await waitFor(async () => { const v = await page.getByTestId('short-invite-link').inputValue(); return v.startsWith('0m1s:') && v }, 'short link shown')
  assert.ok(link.length <= 120, `short link of ${link.length} characters`)
  // The QR code shown encodes exactly the short link: its modules, read off the image, are those of the link's code.
  const expected = QRCode.create(link, { errorCorrectionLevel: 'M' }).modules
  const qrModules = await page.getByTestId('short-invite-qr').evaluate(async (img: HTMLImageElement, size: number) => {
    await img.decode()
    const c = document.createElement('canvas')
    c.width = img.naturalWidth
    c.height = img.naturalHeight
    const g = c.getContext('2d') as CanvasRenderingContext2D
    g.drawImage(img, 0, 0)
    const cell = img.naturalWidth / (size + 8)
    const dark: number[] = []
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const px = g.getImageData(Math.floor((x + 4.5) * cell), Math.floor((y + 4.5) * cell), 1, 1).data
        dark.push((px[0] ?? 255) < 128 ? 1 : 0)
      }
    }
    return dark
  }, expected.size)
  assert.deepEqual(qrModules, [...expected.data].map((v) => v === 0 ? 0 : 1), 'the QR code encodes the short link')
  await h.shot(page, 'c-alice-short-invite')
  await bob.page.getByTestId('nav-add').click()
  await bob.page.getByTestId('add-link').fill(link)
  await bob.page.getByTestId('add-submit').click()
  await bob.page.getByTestId('conversation').waitFor()
  const bobToAlice = await waitFor(async () => (await api<ContactView[]>(b, 'GET', '/api/contacts'))[0]?.id, 'Bob has Alice')
  await waitFor(async () => (await api<ContactView[]>(a, 'GET', '/api/contacts')).length === 1, 'Alice learns Bob')

  // ---- Reply: Bob asks, Alice replies quoting it, Bob sees the quote ------------------------------
  await bob.page.getByTestId('composer').fill('Are we meeting at the station?')
  await bob.page.getByTestId('send').click()
  await page.getByTestId('nav-chat').click()
  await page.locator('[data-testid=contact]').first().click()
  const question = inMsg(page, 'Are we meeting at the station?')
  await question.waitFor()
  await question.getByTestId('message-actions').click()
  await question.getByTestId('reply').click()
  await page.getByTestId('reply-bar').waitFor()
  await page.getByTestId('composer').fill('Yes, at noon')
  await page.getByTestId('send').click()
  const reply = inMsg(bob.page, 'Yes, at noon')
  await reply.waitFor()
  assert.match(await reply.getByTestId('quote').innerText(), /Are we meeting at the station\?/)
  assert.equal(await page.getByTestId('reply-bar').count(), 0, 'the reply bar closes after sending')

  // ---- Edit: Alice corrects her reply; Bob sees the new text and "edited" -------------------------
  const mine = outMsg(page, 'Yes, at noon')
  await mine.getByTestId('message-actions').click()
  page.once('dialog', (d) => { void d.accept('Yes, at one') })
  await mine.getByTestId('edit').click()
  await inMsg(bob.page, 'Yes, at one').getByTestId('edited').waitFor()

  // ---- Delete for everyone: Alice's message shows "deleted" on Bob's side -------------------------
  await page.getByTestId('composer').fill('oops, wrong chat')
  await page.getByTestId('send').click()
  await inMsg(bob.page, 'oops, wrong chat').waitFor()
  const oops = outMsg(page, 'oops, wrong chat')
  await oops.getByTestId('message-actions').click()
  await oops.getByTestId('delete-everyone').click()
  await bob.page.locator('[data-testid=message][data-direction=in] [data-testid=deleted]').waitFor()
  assert.equal(await inMsg(bob.page, 'oops, wrong chat').count(), 0, 'the text is gone on Bob\'s side')
  // Bob's UI offers no "delete for everyone" on Alice's messages.
  const theirs = inMsg(bob.page, 'Yes, at one')
  await theirs.getByTestId('message-actions').click()
  assert.equal(await theirs.getByTestId('delete-everyone').count(), 0)
  await h.shot(bob.page, 'c-bob-reply-edit-deleted')

  // ---- Search: a hit in Alice's store opens the conversation --------------------------------------
  await page.getByTestId('nav-search').click()
  await page.getByTestId('search-q').fill('stat')
  await page.getByTestId('search-go').click()
  const hit = page.getByTestId('search-hit')
  await hit.waitFor()
  assert.equal(await hit.count(), 1)
  assert.match(await hit.locator('mark').innerText(), /station/i)
  await page.getByTestId('search-q').fill('wrong chat')
  await page.getByTestId('search-go').click()
  await page.getByTestId('search-none').waitFor()
  await page.getByTestId('search-q').fill('station')
  await page.getByTestId('search-go').click()
  await page.getByTestId('search-hit').click()
  await page.getByTestId('conversation').waitFor()
  await h.shot(page, 'c-alice-after-search')

  // ---- Block: nothing Bob sends is kept or shown; after unblock his messages arrive ---------------
  await page.getByTestId('block').click()
  await page.getByTestId('blocked').waitFor()
  const blockedMsg = await api<MessageView>(b, 'POST', `/api/contacts/${bobToAlice}/messages`, { text: 'are you ignoring me?' })
  await waitFor(async () => {
    const m = (await api<MessageView[]>(b, 'GET', `/api/contacts/${bobToAlice}/messages`)).find((x) => x.id === blockedMsg.id)
    return m !== undefined && (m.state === 'sent' || m.state === 'stored')
  }, 'Bob\'s message handed over')
  await page.getByTestId('block').click()
  await waitFor(async () => await page.getByTestId('blocked').count() === 0, 'unblocked')
  await api(b, 'POST', `/api/contacts/${bobToAlice}/messages`, { text: 'hello again' })
  await inMsg(page, 'hello again').waitFor()
  assert.equal(await inMsg(page, 'are you ignoring me?').count(), 0, 'what came while blocked is not shown')
  const onBob = (await api<MessageView[]>(b, 'GET', `/api/contacts/${bobToAlice}/messages`)).find((x) => x.id === blockedMsg.id)
  assert.notEqual(onBob?.state, 'delivered', 'no delivery receipt while blocked')

  // ---- Pending invites: opening the panel made one (the first was answered); "New invite" another ----
  await page.getByTestId('nav-invite').click()
  await waitFor(async () => await page.getByTestId('pending-invite').count() === 1, 'the invite shown is pending')
  const shown = await page.getByTestId('invite-link').inputValue()
  await page.getByTestId('nav-chat').click()
  await page.getByTestId('nav-invite').click()
  await waitFor(async () => await page.getByTestId('invite-link').inputValue() === shown, 'the same pending invite is shown again')
  await page.getByTestId('new-invite').click()
  await waitFor(async () => await page.getByTestId('pending-invite').count() === 2, 'a fresh invite is listed too')
  await page.getByTestId('revoke-invite').first().click()
  await waitFor(async () => await page.getByTestId('pending-invite').count() === 1, 'the revoked invite leaves the list')
  const left = await api<Array<{ link: string }>>(a, 'GET', '/api/invites')
  assert.equal(left.length, 1)
  assert.notEqual(left[0]?.link, shown, 'the older one was revoked')
  assert.deepEqual(h.problems, [])
})
