// The web UI as a person keeps using it, in a real browser against real nodes (test/helpers/browser.ts):
// layouts at 390 and 1280 px (no horizontal scrolling, composer in view, a message each way), the text
// limit, bidirectional names and messages, scrolling, accessibility and contrast, notifications and
// the unread title, a dropped event socket, the node restarting with the chat open, and bad tokens.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Page, WebSocketRoute } from 'playwright-core'
import type { ContactView, MessageView } from '../../src/messenger/types.ts'
import { MAX_TEXT_BYTES } from '../../src/wire/text-limit.ts'
import { waitFor } from '../helpers/wait.ts'
import { api, browserHarness, CHROMIUM, chromiumMissing, horizontalOverflow, inViewport, lowContrast, requireChromiumInCi } from '../helpers/browser.ts'

/** Bob's name carries a right-to-left override: unisolated, it would flip the text after it. */
const BOB = 'Bob \u202Eevil'
const HEBREW = 'שלום, מה שלומך?'

/** A stand-in for the browser's Notification, installed before the page loads: counts permission
 * requests and records each notification (headless chromium has no notification UI). */
const FAKE_NOTIFICATION = `(() => {
  window.__asked = 0
  window.__notes = []
  window.__shown = []
  class FakeNotification {
    static permission = 'default'
    static async requestPermission () { window.__asked++; FakeNotification.permission = 'granted'; return 'granted' }
    constructor (title, o) { window.__notes.push({ title, body: o === undefined ? undefined : o.body }); window.__shown.push(this) }
    close () {}
  }
  window.Notification = FakeNotification
})()`

/** Fields, text areas and selects without a label (none may be). */
const UNLABELLED = `[...document.querySelectorAll('input, textarea, select')]
  .filter((el) => el.labels.length === 0 && !el.hasAttribute('aria-label') && !el.hasAttribute('aria-labelledby'))
  .map((el) => el.outerHTML.slice(0, 80))`

requireChromiumInCi()

test('browser: responsive layout, limits, bidi, scrolling, accessibility, notifications, reconnection and restart', { skip: chromiumMissing ? `${CHROMIUM} is missing (apt-get install chromium)` : false, timeout: 300_000 }, async (t) => {
  const h = await browserHarness(t)
  const a = await h.node('alice')
  const b = await h.node('bob')
  await api(a, 'POST', '/api/account', { name: 'Alice' })
  await api(b, 'POST', '/api/account', { name: BOB })
  const invite = await api<{ link: string }>(a, 'POST', '/api/invites', {})
  const bobToAlice = (await api<ContactView>(b, 'POST', '/api/contacts', { link: invite.link })).id
  const bobSays = async (text: string): Promise<void> => { await api(b, 'POST', `/api/contacts/${bobToAlice}/messages`, { text }) }
  await bobSays('hello from Bob')
  const aliceToBob = await waitFor(async () => (await api<ContactView[]>(a, 'GET', '/api/contacts'))[0]?.id, 'Alice learns Bob')

  const alice = await h.person('alice', { width: 1280, height: 800 })
  const bob = await h.person('bob', { width: 1280, height: 800 })
  await alice.ctx.addInitScript(FAKE_NOTIFICATION)
  // The event socket goes through a route the test can cut (a dropped connection) and hold down.
  let holdEvents = false
  let events: { page: WebSocketRoute, server: WebSocketRoute } | undefined
  await alice.ctx.routeWebSocket(/\/api\/events$/, (ws) => {
    if (holdEvents) { void ws.close(); return }
    events = { page: ws, server: ws.connectToServer() }
  })
  await alice.page.goto(a.api.uiUrl)
  await bob.page.goto(b.api.uiUrl)
  const { page } = alice
  const messagesIn = (p: Page, text: string): ReturnType<Page['locator']> => p.locator('[data-testid=message][data-direction=in]', { hasText: text })
  const noOverflow = async (p: Page, where: string): Promise<void> => { assert.equal(await horizontalOverflow(p), undefined, `no horizontal scrolling: ${where}`) }
  const noLowContrast = async (p: Page, where: string): Promise<void> => { assert.deepEqual(await lowContrast(p), [], `contrast at least 4.5:1: ${where}`) }

  // ---- Layouts: a message each way at 1280 and 390 px --------------------------------------------
  for (const width of [1280, 390]) {
    for (const p of [page, bob.page]) {
      await p.setViewportSize({ width, height: 800 })
      await p.getByTestId('nav-chat').click()
      // At 390 px one column: the list, then the chat over it, with a way back.
      await p.locator('[data-testid=contact]').first().click()
      await p.getByTestId('conversation').waitFor()
      if (width < 700) {
        assert.equal(await p.getByTestId('contacts').isVisible(), false, 'the list gives way to the chat')
        await p.getByTestId('back').click()
        await p.getByTestId('contacts').waitFor()
        assert.equal(await p.getByTestId('conversation').isVisible(), false, 'back shows the list alone')
        await noOverflow(p, `list at ${width}`)
        await p.locator('[data-testid=contact]').first().click()
      } else {
        assert.equal(await p.getByTestId('back').isVisible(), false, 'no back button beside the list')
      }
      await noOverflow(p, `chat at ${width}`)
      assert.ok(await inViewport(p, 'composer'), `composer in view at ${width}`)
      assert.ok(await inViewport(p, 'send'), `send in view at ${width}`)
    }
    const fromAlice = `Alice at ${width} px`
    await page.getByTestId('composer').fill(fromAlice)
    await page.getByTestId('send').click()
    await messagesIn(bob.page, fromAlice).waitFor()
    if (width >= 700) {
      // The list's preview follows what I send.
      await page.locator('[data-testid=contact] [data-testid=preview]', { hasText: `You: ${fromAlice}` }).waitFor()
    }
    const fromBob = `Bob at ${width} px`
    await bob.page.getByTestId('composer').fill(fromBob)
    await bob.page.keyboard.press('Enter')
    await messagesIn(page, fromBob).waitFor()
    await noOverflow(page, `after the exchange at ${width}`)
    await h.shot(page, `r-${width}-alice-chat`)
    await h.shot(bob.page, `r-${width}-bob-chat`)
  }
  // Every panel, from 320 to 1920 px.
  for (const width of [320, 390, 1280, 1920]) {
    await page.setViewportSize({ width, height: 800 })
    for (const panel of ['invite', 'add', 'settings', 'network', 'chat']) {
      await page.getByTestId(`nav-${panel}`).click()
      await page.getByTestId(panel === 'chat' ? 'contacts' : panel === 'add' ? 'add-contact' : panel === 'invite' ? 'invite-link' : panel).waitFor()
      await noOverflow(page, `${panel} at ${width}`)
    }
    if (width === 320) await h.shot(page, 'r-320-alice-list')
  }
  await page.setViewportSize({ width: 1280, height: 800 })
  await page.locator('[data-testid=contact]').first().click()

  // ---- The text limit: a counter near it, refused over it (nothing sent, nothing cut) ----------
  const outCount = async (): Promise<number> => (await api<MessageView[]>(a, 'GET', `/api/contacts/${aliceToBob}/messages?limit=500`)).filter((m) => m.direction === 'out').length
  const before = await outCount()
  await page.getByTestId('composer').fill('a'.repeat(Math.ceil(MAX_TEXT_BYTES * 0.9)))
  assert.match(await page.getByTestId('composer-note').innerText(), new RegExp(`of ${MAX_TEXT_BYTES.toLocaleString('en-US')} bytes`))
  assert.equal(await page.getByTestId('send').isEnabled(), true)
  const tooLong = 'é'.repeat(MAX_TEXT_BYTES / 2 + 1)
  await page.getByTestId('composer').fill(tooLong)
  assert.match(await page.getByTestId('composer-note').innerText(), new RegExp(`Too long to send: ${(MAX_TEXT_BYTES + 2).toLocaleString('en-US')} bytes.*at most ${MAX_TEXT_BYTES.toLocaleString('en-US')}`))
  assert.equal(await page.getByTestId('send').isEnabled(), false, 'send is off over the limit')
  await page.getByTestId('composer').press('Enter')
  assert.equal(await page.getByTestId('composer').inputValue(), tooLong, 'the text is kept whole, not truncated')
  assert.equal(await outCount(), before, 'nothing was sent')
  await noLowContrast(page, 'chat with the limit note')
  await page.getByTestId('composer').fill('')

  // ---- Bidirectional text: names isolated, direction per message ---------------------------------
  const isolation = async (selector: string): Promise<string> => await page.locator(selector).first().evaluate((el) => getComputedStyle(el).unicodeBidi)
  assert.equal(await isolation('[data-testid=contact-name]'), 'isolate', 'the name in the list is isolated')
  assert.equal(await isolation('[data-testid=conversation-name] bdi'), 'isolate', 'the name over the chat is isolated')
  assert.equal(await page.locator('[data-testid=contact-name]').first().innerText(), BOB)
  await bobSays(HEBREW)
  const direction = async (text: string): Promise<string> => await messagesIn(page, text).locator('.text').evaluate((el) => getComputedStyle(el).direction)
  await messagesIn(page, HEBREW).waitFor()
  assert.equal(await direction(HEBREW), 'rtl', 'Hebrew lays out right to left')
  assert.equal(await direction('hello from Bob'), 'ltr')
  await h.shot(page, 'r-bidi')

  // ---- Scrolling: following at the end, a marker (no yank) when scrolled up; days; bubble widths --
  await page.setViewportSize({ width: 1280, height: 560 })
  for (let i = 1; i <= 16; i++) await bobSays(`filler ${i}`)
  await messagesIn(page, 'filler 16').waitFor()
  const scroll = async (): Promise<{ top: number, fromEnd: number }> => await page.getByTestId('messages').evaluate((el) => ({ top: el.scrollTop, fromEnd: el.scrollHeight - el.scrollTop - el.clientHeight }))
  assert.ok((await scroll()).fromEnd < 48, 'a reader at the end follows new messages')
  await page.getByTestId('messages').evaluate((el) => { el.scrollTop = 0 })
  await page.waitForFunction(() => document.querySelector('[data-testid=messages]')?.scrollTop === 0)
  await page.evaluate(async () => { await new Promise((resolve) => requestAnimationFrame(resolve)) })
  await bobSays('while you read')
  await messagesIn(page, 'while you read').waitFor({ state: 'attached' })
  await page.getByTestId('new-messages').filter({ hasText: '1 new message' }).waitFor()
  assert.equal((await scroll()).top, 0, 'the reader scrolled up is not moved')
  // A line marks where the new ones begin.
  assert.equal(await page.locator('[data-testid=new-line] + [data-testid=message]', { hasText: 'while you read' }).count(), 1)
  await noLowContrast(page, 'chat with the new-messages marker')
  await h.shot(page, 'r-new-messages-marker')
  await page.getByTestId('new-messages').click()
  assert.ok((await scroll()).fromEnd < 48, 'the marker leads to the end')
  assert.equal(await page.getByTestId('new-messages').count(), 0)
  assert.equal(await page.getByTestId('day').first().innerText(), 'Today', 'a date separator heads the day')
  const widths = await messagesIn(page, 'filler 1').first().evaluate((el) => {
    const bubble = el.getBoundingClientRect().width
    return { bubble, column: el.closest('[data-testid=messages]')?.getBoundingClientRect().width ?? 0 }
  })
  assert.ok(widths.bubble < widths.column * 0.3, `a short message has a narrow bubble (${widths.bubble} of ${widths.column} px)`)
  await page.setViewportSize({ width: 1280, height: 800 })

  // ---- Accessibility: landmarks, headings, labels, live region, unread badge text ---------------
  assert.equal(await page.locator('main').count(), 1, 'one main landmark')
  assert.ok(await page.locator('h1').count() >= 1 && await page.locator('h2').count() >= 1, 'headings')
  assert.match(await page.getByTestId('announce').textContent() ?? '', /while you read/, 'new messages are announced')
  assert.equal(await page.getByTestId('announce').getAttribute('aria-live'), 'polite')
  for (const panel of ['chat', 'invite', 'add', 'network', 'settings']) {
    await page.getByTestId(`nav-${panel}`).click()
    await page.getByTestId(panel === 'chat' ? 'contacts' : panel === 'add' ? 'add-contact' : panel === 'invite' ? 'invite-link' : panel).waitFor()
    assert.deepEqual(await page.evaluate(UNLABELLED), [], `every field has a label: ${panel}`)
    await noLowContrast(page, panel)
    // The dark scheme too.
    await page.emulateMedia({ colorScheme: 'dark' })
    await noLowContrast(page, `${panel}, dark`)
    await page.emulateMedia({ colorScheme: 'light' })
  }

  // ---- Notifications (settings is open): off by default, asked once, no text; the unread title ----
  assert.equal(await page.getByTestId('notify').isChecked(), false, 'off by default')
  assert.equal(await page.getByTestId('notify-text').isChecked(), false)
  await page.getByTestId('notify').click()
  await page.locator('[data-testid=notify]:checked').waitFor()
  await page.getByTestId('notify').click()
  await page.getByTestId('notify').click()
  await page.locator('[data-testid=notify]:checked').waitFor()
  assert.equal(await page.evaluate('window.__asked'), 1, 'permission is asked once')
  const secret = 'the secret is 4711'
  await bobSays(secret)
  await page.waitForFunction(() => (window as unknown as { __notes: unknown[] }).__notes.length === 1)
  const notes = await page.evaluate('window.__notes') as Array<{ title: string, body?: string }>
  assert.equal(notes[0]?.title, '0message1')
  assert.ok(!JSON.stringify(notes).includes('4711') && !JSON.stringify(notes).includes('Bob'), `no text, no name: ${JSON.stringify(notes)}`)
  await page.waitForFunction(() => document.title === '(1) 0message1')
  assert.equal(await page.locator('[data-testid=unread] .sr-only').textContent(), '1 unread', 'the badge says what it counts')
  // The person chooses to see the text.
  await page.getByTestId('notify-text').click()
  await bobSays('second secret 4712')
  await page.waitForFunction(() => (window as unknown as { __notes: unknown[] }).__notes.length === 2)
  assert.match(JSON.stringify(await page.evaluate('window.__notes[1]')), /second secret 4712/)
  await page.waitForFunction(() => document.title === '(2) 0message1')
  await h.shot(page, 'r-settings-notifications')
  // A click on the notification opens the conversation; its messages are read then.
  await page.evaluate(() => { (window as unknown as { __shown: Array<{ onclick: () => void }> }).__shown[1]?.onclick() })
  await page.getByTestId('conversation').waitFor()
  await page.waitForFunction(() => document.title === '0message1')

  // ---- A dropped event socket: what arrived meanwhile appears once it is back --------------------
  assert.ok(events !== undefined)
  holdEvents = true
  await events.server.close()
  await events.page.close()
  await page.getByTestId('live').filter({ hasText: 'offline' }).waitFor()
  await bobSays('sent while the socket was down')
  await waitFor(async () => (await api<MessageView[]>(a, 'GET', `/api/contacts/${aliceToBob}/messages`)).some((m) => m.text === 'sent while the socket was down'), 'Alice\'s node has it')
  assert.equal(await messagesIn(page, 'sent while the socket was down').count(), 0, 'not shown while the socket is down')
  holdEvents = false
  await messagesIn(page, 'sent while the socket was down').waitFor()
  await page.getByTestId('live').filter({ hasText: 'live' }).waitFor()

  // ---- The node stops with the chat open: banner, composer off with the reason -------------------
  await a.stop()
  await page.getByTestId('node-down').waitFor()
  assert.equal(await page.getByTestId('composer').isDisabled(), true)
  assert.match(await page.getByTestId('composer-note').innerText(), /not answering/)
  assert.doesNotMatch(await page.locator('body').innerText(), /Failed to fetch|NetworkError/)
  await noLowContrast(page, 'node down')
  await h.shot(page, 'r-node-down')
  await bobSays('while your node was down')
  // It starts again (a new token, as at every start): the page says to open the new address...
  await a.start()
  await page.locator('[data-testid=no-token][data-reason=refused]').waitFor()
  await noLowContrast(page, 'token refused')
  // ...which, pasted into this tab (only the fragment changes: no reload), opens the same chat, current:
  // what came meanwhile is there without a click.
  await page.goto(a.api.uiUrl)
  await page.getByTestId('conversation-name').filter({ hasText: 'Bob' }).waitFor()
  await messagesIn(page, 'while your node was down').waitFor()
  assert.equal(await page.evaluate(() => window.location.hash), '')
  await h.shot(page, 'r-after-restart')

  // ---- Wrong, malformed and missing tokens: a page that says what to do; the address is cleaned ---
  for (const bad of ['A'.repeat(43), 'cut-short']) {
    await page.goto(`${a.api.url}/#token=${bad}`)
    await page.locator('[data-testid=no-token][data-reason=refused]').waitFor()
    assert.equal(await page.evaluate(() => window.location.href), `${a.api.url}/`, 'the bad token left the address bar')
  }
  const stranger = await alice.ctx.newPage()
  await stranger.goto(a.api.url + '/')
  await stranger.locator('[data-testid=no-token][data-reason=missing]').waitFor()
  await stranger.close()

  // ---- Error sentences: garbage invites get a plain sentence ------------------------------------
  await bob.page.setViewportSize({ width: 1280, height: 800 })
  await bob.page.getByTestId('nav-add').click()
  for (const garbage of ['0m1:broken', '0m1:AAAAAAAA', '0m1:' + invite.link.slice(4, 60)]) {
    await bob.page.getByTestId('add-link').fill(garbage)
    await bob.page.getByTestId('add-submit').click()
    const said = await bob.page.getByTestId('add-error').innerText()
    assert.doesNotMatch(said, /Kyber|prekey|format version|Invalid request|\(in /, said)
    assert.match(said, /^This .*(copy|Copy)/, said)
  }

  // ---- The first screen of a new node, at the narrowest width ------------------------------------
  const c = await h.node('carol')
  await page.setViewportSize({ width: 320, height: 640 })
  await page.goto(c.api.uiUrl)
  await page.getByTestId('onboarding').waitFor()
  await noOverflow(page, 'onboarding at 320')
  assert.deepEqual(await page.evaluate(UNLABELLED), [], 'every field has a label: onboarding')
  await noLowContrast(page, 'onboarding')
  assert.equal(await page.locator('main h1').count(), 1)

  // Refused calls (401 after the restart, 422 for the invites), refused connections while the node was
  // down: expected. No page errors, no CSP violations.
  assert.deepEqual(h.problems.filter((p) => p.includes('page error') || /Content Security Policy/i.test(p)), [])
})
