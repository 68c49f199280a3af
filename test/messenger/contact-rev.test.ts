// The rev of a contact view (src/messenger/contact-rev.ts) on a real messenger: a view built later has a higher
// rev, whether it leaves as an event, as an action's answer or in the list, so the web UI can keep the newer of an
// answer and an event that overtook it (web/src/contact-list.ts). An action's answer and its event are one view.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { ContactView } from '../../src/messenger/types.ts'
import { twoMessengers } from '../helpers/two-messengers.ts'
import { waitFor } from '../helpers/wait.ts'

test('contact views: an action\'s answer has its event\'s rev; a later message\'s event and a later list have higher revs', async (t) => {
  const { a, b, close } = await twoMessengers()
  t.after(close)
  const events: ContactView[] = []
  a.core.subscribe((e) => { if (e.type === 'contact') events.push(e.contact) })
  const before = (await a.core.contacts())[0]
  assert.ok(before !== undefined && Number.isInteger(before.rev))

  const renamed = await a.core.rename(a.contactId, 'Bobby')
  assert.ok(renamed.rev > before.rev)
  assert.equal(events.at(-1)?.rev, renamed.rev, 'the rename\'s event is the answer\'s view')

  // A message comes after the rename's answer was built: its contact event (a later turn) is newer.
  const hello = await b.core.send(b.contactId, 'hello')
  const arrived = await waitFor(() => events.find((c) => c.unread === 1 && c.lastMessage?.text === 'hello'), `contact event of ${hello.id.slice(0, 6)}`)
  assert.ok(arrived.rev > renamed.rev, 'the message\'s event outranks the older answer')
  assert.equal(arrived.name, 'Bobby', 'and holds the rename')

  const reloaded = (await a.core.contacts())[0]
  assert.ok(reloaded !== undefined && reloaded.rev > arrived.rev)
  const blocked = await a.core.setBlocked(a.contactId, true)
  assert.ok(blocked.rev > reloaded.rev)
  assert.equal(events.at(-1)?.rev, blocked.rev, 'the block\'s event is the answer\'s view')
  assert.equal(blocked.unread, 1)
})

test('contact views: a text I send makes a contact event with its preview under a rev above every view built before it', async (t) => {
  const { a, close } = await twoMessengers()
  t.after(close)
  const events: ContactView[] = []
  a.core.subscribe((e) => { if (e.type === 'contact') events.push(e.contact) })
  // A reload of the list built before the send: the page must not take its older preview over the send's.
  const before = (await a.core.contacts())[0]
  assert.ok(before !== undefined)
  const sent = await a.core.send(a.contactId, 'mine')
  // A display frame later (src/messenger/contact-updates.ts), whatever the network does meanwhile.
  const after = await waitFor(() => events.find((c) => c.lastMessage?.text === 'mine'), 'a contact event follows the send')
  assert.ok(after.rev > before.rev)
  assert.deepEqual(after.lastMessage, { text: 'mine', at: sent.at, direction: 'out' })
})
