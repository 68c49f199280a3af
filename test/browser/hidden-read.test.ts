// A hidden tab sends no read receipts for a group (web/src/groups/useGroups.ts): when the event socket reconnects
// while the tab is hidden, the open group's messages are fetched again but not marked read (before, that reload
// always POSTed /read, so the sender saw "read" for a message nobody had seen). Once the tab is visible again,
// they are read.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { WebSocketRoute } from 'playwright-core'
import type { ContactView } from '../../src/messenger/types.ts'
import type { GroupView } from '../../src/messenger/groups/types.ts'
import { waitFor } from '../helpers/wait.ts'
import { api, browserHarness, CHROMIUM, chromiumMissing } from '../helpers/browser.ts'

const GROUP_MS = 60_000

test('browser: a group reloaded after a reconnection of a hidden tab is not marked read; it is once the tab is visible', { skip: chromiumMissing ? `${CHROMIUM} is missing (apt-get install chromium)` : false, timeout: 240_000 }, async (t) => {
  const h = await browserHarness(t)
  const a = await h.node('alice')
  const b = await h.node('bob')
  await api(a, 'POST', '/api/account', { name: 'Alice' })
  await api(b, 'POST', '/api/account', { name: 'Bob' })
  const { link } = await api<{ link: string }>(a, 'POST', '/api/invites', { fresh: true })
  await api(b, 'POST', '/api/contacts', { link, name: 'Alice' })
  await waitFor(async () => (await api<ContactView[]>(a, 'GET', '/api/contacts')).length === 1, 'Alice learns Bob', GROUP_MS)
  const bobId = (await api<ContactView[]>(a, 'GET', '/api/contacts'))[0]?.id
  const grp = await api<GroupView>(a, 'POST', '/api/groups', { name: 'Quiet', members: [bobId] })
  const bobGroup = async (): Promise<GroupView | undefined> => (await api<GroupView[]>(b, 'GET', '/api/groups')).find((g) => g.id === grp.id)
  await waitFor(async () => (await bobGroup())?.members.length === 2, 'Bob is a member', GROUP_MS)

  // Bob's page, its event socket routed through the test so the test can drop it.
  const bob = await h.person('bob', { width: 1280, height: 800 })
  const sockets: WebSocketRoute[] = []
  await bob.page.routeWebSocket(/\/api\/events/, (ws) => { ws.connectToServer(); sockets.push(ws) })
  // A string, not a function: tsx's helpers are not defined in the page.
  const setVisibility = async (state: 'hidden' | 'visible'): Promise<void> => {
    await bob.page.evaluate(`Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => '${state}' }); document.dispatchEvent(new Event('visibilitychange'))`)
  }
  const log: string[] = []
  bob.page.on('request', (r) => { if (r.url().includes(`/api/groups/${grp.id}/`)) log.push(`${r.method()} ${new URL(r.url()).pathname.split('/').at(-1) ?? ''}`) })
  bob.page.on('requestfinished', (r) => { if (r.method() === 'GET' && r.url().includes(`/api/groups/${grp.id}/messages`)) log.push('GET messages done') })
  await bob.page.goto(b.api.uiUrl)
  await bob.page.locator(`[data-testid=group-chat][data-name="Quiet"]`).click()
  await bob.page.getByTestId('group-conversation').waitFor()

  // The tab goes hidden; Alice writes; it comes in (live) but is not read.
  await setVisibility('hidden')
  await api(a, 'POST', `/api/groups/${grp.id}/messages`, { text: 'while you were away' })
  await bob.page.locator('[data-testid=group-message][data-direction=in]', { hasText: 'while you were away' }).waitFor({ timeout: GROUP_MS })
  assert.equal((await bobGroup())?.unread, 1)

  // The socket drops and reconnects while hidden: the open group is fetched again, and not marked read.
  const before = sockets.length
  log.push('reconnect')
  await sockets.at(-1)?.close()
  await waitFor(() => sockets.length > before, 'the page reconnects', GROUP_MS)
  await waitFor(() => log.slice(log.indexOf('reconnect')).includes('GET messages done'), 'the group is fetched again', GROUP_MS)
  assert.equal((await bobGroup())?.unread, 1, 'still unread')

  // Visible again: read now, and only now.
  log.push('visible')
  await setVisibility('visible')
  await waitFor(async () => (await bobGroup())?.unread === 0, 'read once visible', GROUP_MS)
  const afterReconnect = log.slice(log.indexOf('reconnect'))
  assert.ok(afterReconnect.indexOf('POST read') > afterReconnect.indexOf('visible'), `no read before the tab was visible: ${afterReconnect.join(', ')}`)
  assert.deepEqual(h.problems, [])
})
