// Issue 10: the 'contact' event of a new message (unread count, last message) comes a display frame after the
// message's, once per contact for all the messages of that frame (src/messenger/contact-updates.ts), on two real
// messengers joined in process, and after the frames of the message's turn (its ack) were written, on real libp2p.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { ContactView, MessengerEvent } from '../../src/messenger/types.ts'
import { HoldClock, stateReached, twoMessengers } from '../helpers/two-messengers.ts'
import { waitFor } from '../helpers/wait.ts'

test('a new message: its contact event follows its message event and shows it; a burst ends on the true count', async (t) => {
  const w = await twoMessengers({ searchIdleMs: false })
  t.after(w.close)
  await waitFor(() => [w.a, w.b].every((s) => s.history.setting('announced-card') !== undefined && s.history.outboxSize() === 0), 'cards announced and outboxes empty')
  const events: MessengerEvent[] = []
  // A contact event emitted in the same synchronous run as a message event (before any microtask) is not deferred.
  let inMessageRun = false
  let inline = 0
  w.b.core.subscribe((e) => {
    if (e.type === 'message') { inMessageRun = true; queueMicrotask(() => { inMessageRun = false }) }
    if (e.type === 'contact' && inMessageRun) inline++
    if (e.type === 'message' || e.type === 'contact') events.push(e)
  })
  await w.a.core.send(w.a.contactId, 'first')
  await waitFor(() => events.some((e) => e.type === 'contact'), 'the contact event')
  const i = events.findIndex((e) => e.type === 'message' && e.message.text === 'first')
  const j = events.findIndex((e) => e.type === 'contact')
  assert.ok(i >= 0 && i < j, 'the message event first, then the contact event')
  const first = (events[j] as { contact: ContactView }).contact
  assert.equal(first.id, w.b.contactId)
  assert.equal(first.unread, 1)
  assert.equal(first.lastMessage?.text, 'first')

  // A burst: the contact events may be fewer than the messages (one per frame), but the last one is the true state.
  events.length = 0
  const N = 40
  await Promise.all(Array.from({ length: N }, async (_, k) => await w.a.core.send(w.a.contactId, `burst ${k}`)))
  await waitFor(() => events.filter((e) => e.type === 'message').length === N, 'every message of the burst')
  await waitFor(() => {
    const last = events.filter((e) => e.type === 'contact').at(-1) as { contact: ContactView } | undefined
    return last?.contact.unread === N + 1
  }, 'a contact event with every message counted')
  const contacts = events.filter((e) => e.type === 'contact') as Array<{ contact: ContactView }>
  // The newest by arrival time (the messages of one received batch share it, so any of those).
  const burst = events.filter((e) => e.type === 'message') as Array<{ message: { text: string, at: number } }>
  const newest = Math.max(...burst.map((e) => e.message.at))
  const shown = contacts.at(-1)?.contact.lastMessage
  assert.equal(shown?.at, newest, 'the last contact event shows a newest message')
  assert.ok(burst.some((e) => e.message.at === newest && e.message.text === shown?.text), `shown: ${shown?.text ?? 'none'}`)
  assert.ok(contacts.length <= N, `${contacts.length} contact events for ${N} messages`)
  console.log(`contact events for a burst of ${N} messages: ${contacts.length}`)
  assert.equal(inline, 0, 'every contact event of a new message comes on a later turn than its message event')
  // Read: the unread count goes back to zero (the event markRead sends is not deferred).
  await w.b.core.markRead(w.b.contactId)
  assert.equal((events.filter((e) => e.type === 'contact').at(-1) as { contact: ContactView }).contact.unread, 0)
})

test('messages one at a time: no contact event until the frame\'s timer runs, then one per side for them all', async (t) => {
  const clock = new HoldClock()
  const w = await twoMessengers({ clock, searchIdleMs: false })
  t.after(w.close)
  await waitFor(() => [w.a, w.b].every((s) => s.history.setting('announced-card') !== undefined && s.history.outboxSize() === 0), 'cards announced and outboxes empty')
  const sent: ContactView[] = []
  const received: ContactView[] = []
  w.a.core.subscribe((e) => { if (e.type === 'contact') sent.push(e.contact) })
  w.b.core.subscribe((e) => { if (e.type === 'contact') received.push(e.contact) })
  // The messenger's timers wait while the clock is held: a view built once per message (after each envelope or ack
  // went out, where the other device waits for this one's CPU) would come here, one per message.
  clock.hold()
  const N = 10
  for (let i = 0; i < N; i++) {
    const m = await w.a.core.send(w.a.contactId, `one at a time ${i}`)
    await stateReached(w.a, m.id, 'delivered')
    // Joined in process, the exchange is one chain of promise steps: a turn between messages, as the network gives.
    await new Promise((resolve) => setImmediate(resolve))
  }
  assert.deepEqual([sent.length, received.length], [0, 0], 'no contact event while the frame\'s timer waits')
  clock.release()
  await waitFor(() => sent.length > 0 && received.length > 0, 'the contact events')
  assert.deepEqual([sent.length, received.length], [1, 1], 'one view per side for the ten messages')
  assert.equal(sent[0]?.lastMessage?.text, `one at a time ${N - 1}`)
  assert.equal(received[0]?.lastMessage?.text, `one at a time ${N - 1}`)
  assert.equal(received[0]?.unread, N)
})
