// A bubble's time (web/src/format.ts bubbleTime, shown by MessageBubble and GroupMessageBubble): the day lines group
// messages by when they were written, so the bubble shows that time too, not when the message came here; the title
// tells when it came when that was a minute or more later.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { bubbleTime, time } from '../../web/src/format.ts'
import { dayLines } from '../../web/src/conversation-view.ts'
import type { MessageView } from '../../web/src/api.ts'

const at = (y: number, mo: number, d: number, h: number, mi: number): number => new Date(y, mo, d, h, mi).getTime()
const full = (ms: number): string => new Date(ms).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' })

test('bubble time: a message written at 23:50 and fetched the next morning shows 23:50 under its own day, received in its title', () => {
  const written = at(2026, 2, 14, 23, 50)
  const fetched = at(2026, 2, 15, 8, 10)
  const m: MessageView = { id: 'a', contactId: 'c1', direction: 'in', text: 'late', seq: 1, sentAt: written, at: fetched, state: 'delivered' }
  const t = bubbleTime(m)
  assert.equal(t.label, time(written))
  assert.notEqual(t.label, time(fetched))
  assert.equal(t.title, `Sent ${full(written)} · received ${full(fetched)}`)
  // The day line above it is the day it was written: the same time as its bubble.
  assert.deepEqual([...dayLines([m], (ms) => new Date(ms).toDateString())], [[0, written]])
})

test('bubble time: a sender clock ahead of mine shows when it came (never a time after that); under a minute late has no received time', () => {
  const now = at(2026, 2, 15, 9, 0)
  const ahead = bubbleTime({ sentAt: now + 3_600_000, at: now })
  assert.deepEqual(ahead, { label: time(now), title: `Sent ${full(now)}` })
  assert.deepEqual(bubbleTime({ sentAt: now - 59_999, at: now }), { label: time(now - 59_999), title: `Sent ${full(now - 59_999)}` })
  // Mine (no sentAt): when I wrote it.
  assert.deepEqual(bubbleTime({ at: now }), { label: time(now), title: `Sent ${full(now)}` })
})
