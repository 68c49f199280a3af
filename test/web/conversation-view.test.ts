// The open conversation's marks (web/src/conversation-view.ts, used by web/src/screens/Conversation.tsx). The list is
// in the node's display order, so a live message can land mid-list: the screen took the last `added` messages as
// the new ones and the last one's direction as "I sent one", and placed the key-change line before each message
// that came after the change following one that came before it (twice, as `at` does not grow along the list).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { applyChange } from '../../web/src/message-list.ts'
import { dayLines, keyChangeIndex, messageKey, newMessages, shownStart } from '../../web/src/conversation-view.ts'
import type { MessageView } from '../../web/src/api.ts'

const msg = (id: string, direction: 'in' | 'out', at: number, o: Partial<MessageView> = {}): MessageView =>
  ({ id, contactId: 'c1', direction, text: `text-${id}`, seq: at, at, state: direction === 'in' ? 'delivered' : 'sent', ...o })
const seenOf = (l: readonly MessageView[]): Set<string> => new Set(l.map(messageKey))

test('conversation view: an incoming message that lands mid-list is new and counted; my last message is not new', () => {
  // The contact's clock is behind mine: its message was written before my last one, and lands before it.
  const shown = [msg('a', 'in', 1_000, { seq: 1, sentAt: 1_000 }), msg('b', 'out', 5_000, { seq: 1 })]
  const next = applyChange(shown, { type: 'upsert', message: msg('c', 'in', 9_000, { seq: 2, sentAt: 2_000 }) })
  assert.deepEqual(next.map(messageKey), ['in-a', 'in-c', 'out-b'])
  const fresh = newMessages(seenOf(shown), next)
  assert.equal(fresh.mine, false, 'the reader scrolled up is not taken to the end')
  assert.deepEqual(fresh.incoming.map(messageKey), ['in-c'])
  // An edit or a tick of a shown message is nothing new; a message removed meanwhile does not hide a new one.
  assert.deepEqual(newMessages(seenOf(next), next.map((m) => ({ ...m, text: 'edited' }))), { mine: false, incoming: [] })
  const removedAndNew = [next[0], msg('d', 'in', 9_500, { seq: 3, sentAt: 9_400 })] as MessageView[]
  assert.deepEqual(newMessages(seenOf(next), removedAndNew).incoming.map(messageKey), ['in-d'])
})

test('conversation view: a message I sent is found wherever it lands', () => {
  const shown = [msg('a', 'in', 3_500, { seq: 1, sentAt: 3_000 })]
  // Mine lands before the contact's (my clock was set back): the view still follows it.
  const next = applyChange(shown, { type: 'upsert', message: msg('b', 'out', 2_000, { seq: 1 }) })
  assert.deepEqual(next.map(messageKey), ['out-b', 'in-a'])
  assert.deepEqual(newMessages(seenOf(shown), next), { mine: true, incoming: [] })
})

test('conversation view: the key-change line has one place, before the first message that came after the change', () => {
  // In display order `at` goes 100, 300, 200, 400: two messages follow one that came before the change at 250.
  const list = [msg('a', 'in', 100), msg('b', 'in', 300), msg('c', 'out', 200), msg('d', 'in', 400)]
  assert.equal(keyChangeIndex(list, 250), 1)
  assert.equal(keyChangeIndex(list, 50), 0)
  assert.equal(keyChangeIndex(list, 400), -1, 'none came after it: the line goes at the end')
})

test('conversation view: a day line opens each day once, by when the messages were written, as the list is ordered', () => {
  // Days of 1,000 ms here (a real day is the local date): not at the mercy of the machine's time zone.
  const day = (ms: number): string => String(Math.floor(ms / 1_000))
  // b was written on day 0 and fetched on day 1: it stands among day 0's, and day 0 took a second line after it.
  const list = [msg('a', 'out', 900, { seq: 1 }), msg('b', 'in', 1_500, { seq: 1, sentAt: 950 }), msg('c', 'out', 990, { seq: 2 }),
    msg('d', 'out', 1_200, { seq: 3 }),
    // A sender's clock went back: e follows d (its seq), written before it by its clock; day 1 is not opened twice.
    msg('e', 'in', 1_600, { seq: 2, sentAt: 800 }), msg('f', 'in', 1_700, { seq: 3, sentAt: 1_650 }), msg('g', 'out', 2_100, { seq: 4 })]
  assert.deepEqual([...dayLines(list, day)], [[0, 900], [3, 1_200], [6, 2_100]])
  assert.deepEqual([...dayLines([], day)], [])
})

test('conversation view: an older page lands above the messages shown even when the first of them was removed meanwhile', () => {
  const shown = [msg('a', 'in', 3_000, { seq: 3 }), msg('b', 'out', 4_000, { seq: 1 }), msg('c', 'in', 5_000, { seq: 4 })]
  const keys = shown.map(messageKey)
  // Not landed yet: the messages shown still begin the list.
  assert.equal(shownStart(keys, shown), 0)
  // 'a' is deleted for everyone while the page (x, y) loads.
  const next = [msg('x', 'in', 1_000, { seq: 1 }), msg('y', 'in', 2_000, { seq: 2 }), shown[1], shown[2]] as MessageView[]
  const first = shownStart(keys, next)
  assert.equal(first, 2, 'the page is above the next message shown')
  assert.deepEqual(newMessages(seenOf(shown), next.slice(first)), { mine: false, incoming: [] }, 'the older messages are not new ones')
  assert.equal(shownStart(keys, [msg('x', 'in', 1_000, { seq: 1 })]), -1)
})
