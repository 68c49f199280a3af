// Issue 13 chat features on two real messengers (libsignal, SQLCipher store with its FTS5 index) joined by
// the in-process network of two-messengers.ts: replies, edits (and the 15-minute window, on both sides),
// deletion for me and for everyone (only of one's own messages), search, blocking, deleting a contact,
// pending invites handed out again, listed and revoked.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { E2eeError } from '../../src/e2ee/errors.ts'
import { EDIT_WINDOW_MS } from '../../src/messenger/chat/rules.ts'
import { MessengerError } from '../../src/messenger/errors.ts'
import type { MessageView } from '../../src/messenger/types.ts'
import { stateReached, twoMessengers, type Side } from '../helpers/two-messengers.ts'
import { waitFor } from '../helpers/wait.ts'

async function inMessage (side: Side, id: string, ok: (m: MessageView) => boolean = () => true): Promise<MessageView> {
  return await waitFor(() => { const m = side.history.message(side.contactId, 'in', id); return m !== undefined && ok(m) ? m : undefined }, `message ${id.slice(0, 6)}`)
}

test('a reply carries the quoted message id and excerpt inside the encryption; the other side shows the quote', async (t) => {
  const { a, b, close } = await twoMessengers()
  t.after(close)
  const question = await a.core.send(a.contactId, 'Are you coming to the picnic on Saturday? '.repeat(5))
  await inMessage(b, question.id)
  const answer = await b.core.send(b.contactId, 'Yes, with cake', { replyTo: question.id })
  assert.equal(answer.replyTo?.id, question.id)
  assert.ok(answer.replyTo.quote.startsWith('Are you coming to the picnic'))
  assert.ok(answer.replyTo.quote.length <= 100, 'the quote is an excerpt, not the whole text')
  const got = await inMessage(a, answer.id)
  assert.deepEqual(got.replyTo, answer.replyTo)
  assert.equal(got.text, 'Yes, with cake')
  // Stored: the quote is there after reading the conversation again.
  assert.deepEqual((await a.core.messages(a.contactId)).find((m) => m.id === answer.id)?.replyTo, answer.replyTo)
  // A receipt came back for the reply like for any text.
  await stateReached(b, answer.id, 'delivered')
  await assert.rejects(b.core.send(b.contactId, 'x', { replyTo: randomBytes(16).toString('hex') }), (e) => MessengerError.is(e, 'UNKNOWN_MESSAGE'))
})

test('an edit within 15 minutes shows "edited" on both sides; after 15 minutes it is refused by the sender and by the receiver', async (t) => {
  let bNow = Date.now()
  const { a, b, close } = await twoMessengers({ now: () => bNow })
  t.after(close)
  const m = await b.core.send(b.contactId, 'see you at 5')
  await inMessage(a, m.id)
  const edited = await b.core.editMessage(b.contactId, m.id, 'see you at 6')
  assert.equal(edited.text, 'see you at 6')
  assert.equal(typeof edited.editedAt, 'number')
  const seen = await inMessage(a, m.id, (x) => x.text === 'see you at 6')
  assert.equal(seen.editedAt, edited.editedAt)
  // Only the sender may edit: Alice cannot edit Bob's message.
  await assert.rejects(a.core.editMessage(a.contactId, m.id, 'hijacked'), (e) => MessengerError.is(e, 'NOT_YOURS'))
  // The sender's device refuses after the window.
  bNow += EDIT_WINDOW_MS + 1000
  await assert.rejects(b.core.editMessage(b.contactId, m.id, 'too late'), (e) => MessengerError.is(e, 'EDIT_WINDOW') && /15 minutes/.test(e.message))
  // A device that sends one anyway (forged times inside a valid session): the receiver refuses it too.
  const late = await b.device.seal(b.contactId, { kind: 'edit', id: randomBytes(16), seq: 0, target: Buffer.from(m.id, 'hex'), editedAt: m.at + EDIT_WINDOW_MS + 1000, text: 'too late' })
  await a.core.receiveEnvelope(late, 'direct')
  assert.equal(a.history.message(a.contactId, 'in', m.id)?.text, 'see you at 6')
})

test('delete for everyone: only my own message, honoured by the contact (shown deleted, gone from search); delete for me is local', async (t) => {
  const { a, b, close } = await twoMessengers()
  t.after(close)
  const mine = await a.core.send(a.contactId, 'the secret password is swordfish')
  const theirs = await b.core.send(b.contactId, 'noted the password')
  await inMessage(b, mine.id)
  await inMessage(a, theirs.id)
  assert.equal((await b.core.search('swordfish')).length, 1)
  // Alice cannot delete Bob's message for everyone.
  await assert.rejects(a.core.deleteMessage(a.contactId, theirs.id, { forEveryone: true }), (e) => MessengerError.is(e, 'NOT_YOURS'))
  const deleted = await a.core.deleteMessage(a.contactId, mine.id, { forEveryone: true })
  assert.equal(deleted?.deleted, true)
  assert.equal(deleted.text, '')
  const onBob = await inMessage(b, mine.id, (x) => x.deleted === true)
  assert.equal(onBob.text, '')
  assert.deepEqual(await b.core.search('swordfish'), [])
  // A forged deletion naming one of Bob's own messages (sent by Alice's session): Bob's device ignores it.
  const forged = await a.device.seal(a.contactId, { kind: 'delete', id: randomBytes(16), seq: 0, target: Buffer.from(theirs.id, 'hex'), deletedAt: Date.now() })
  await b.core.receiveEnvelope(forged, 'direct')
  assert.equal(b.history.message(b.contactId, 'out', theirs.id)?.deleted, undefined)
  assert.equal(b.history.message(b.contactId, 'out', theirs.id)?.text, 'noted the password')
  // Delete for me: gone here, still on the other side.
  const fromTheirs = { after: { direction: 'in' as const, id: theirs.id } }
  assert.deepEqual((await a.core.messages(a.contactId, fromTheirs)).map((m) => m.id), [mine.id])
  assert.equal(await a.core.deleteMessage(a.contactId, theirs.id), undefined)
  assert.equal(a.history.message(a.contactId, 'in', theirs.id), undefined)
  assert.equal(b.history.message(b.contactId, 'out', theirs.id)?.text, 'noted the password')
  // A paging cursor deleted since its page is refused: paging from the newest again would repeat messages as older.
  await assert.rejects(a.core.messages(a.contactId, fromTheirs), (e) => MessengerError.is(e, 'UNKNOWN_MESSAGE'))
})

test('search finds words and prefixes across conversations, ignores FTS syntax, refuses empty queries', async (t) => {
  const { a, b, close } = await twoMessengers()
  t.after(close)
  const one = await a.core.send(a.contactId, 'Meet me at the Café Müller tomorrow')
  await a.core.send(a.contactId, 'bring the umbrella')
  await inMessage(b, one.id)
  const hits = await b.core.search('cafe mull')
  assert.equal(hits.length, 1)
  assert.equal(hits[0]?.messageId, one.id)
  assert.equal(hits[0]?.contactId, b.contactId)
  assert.ok((hits[0]?.snippet ?? '').includes('\u0002Café\u0003'), 'the matched word is marked')
  assert.equal((await a.core.search('UMBRELLA')).length, 1)
  assert.deepEqual(await a.core.search('"unbalanced OR NEAR('), [])
  await assert.rejects(a.core.search('   '), (e) => MessengerError.is(e, 'INVALID_QUERY'))
  await assert.rejects(a.core.search('x'.repeat(201)), (e) => MessengerError.is(e, 'INVALID_QUERY'))
})

test('a blocked contact: nothing from them is stored, shown or receipted; after unblock their messages arrive again', async (t) => {
  const { a, b, close } = await twoMessengers()
  t.after(close)
  const view = await a.core.setBlocked(a.contactId, true)
  assert.equal(view.blocked, true)
  const events: string[] = []
  a.core.subscribe((e) => { if (e.type === 'message') events.push(e.message.id) })
  const spam = await b.core.send(b.contactId, 'buy now')
  // Bob's envelope was taken (handed over directly), yet nothing of it is kept or acknowledged.
  await waitFor(() => b.net.delivered.length > 0, 'bob hands it over')
  await waitFor(() => b.history.message(b.contactId, 'out', spam.id)?.state === 'sent', 'sent state')
  assert.equal(a.history.message(a.contactId, 'in', spam.id), undefined)
  assert.deepEqual(events, [])
  assert.equal(b.history.message(b.contactId, 'out', spam.id)?.state, 'sent', 'no delivered receipt from a blocking device')
  await a.core.setBlocked(a.contactId, false)
  const hello = await b.core.send(b.contactId, 'sorry, hello')
  await inMessage(a, hello.id)
  await stateReached(b, hello.id, 'delivered')
  // The receipt for the later message came; the blocked one's never does (it is not even stored).
  assert.equal(b.history.message(b.contactId, 'out', spam.id)?.state, 'sent')
  assert.equal(a.history.message(a.contactId, 'in', spam.id), undefined)
})

test('deleting a contact removes it, its conversation and its mailbox; pending invites are reused, listed and revoked', async (t) => {
  const { a, b, close } = await twoMessengers()
  t.after(close)
  const m = await a.core.send(a.contactId, 'bye')
  await inMessage(b, m.id)
  const before = b.core.inboundMailboxes().length
  await b.core.deleteContact(b.contactId)
  assert.deepEqual(await b.core.contacts(), [])
  assert.equal(b.core.inboundMailboxes().length, before - 1, 'its mailbox is no longer listed (not fetched)')
  assert.deepEqual(await b.core.search('bye'), [])
  await assert.rejects(b.core.messages(b.contactId), (e) => MessengerError.is(e, 'UNKNOWN_CONTACT'))
  // Invites: the same pending one is handed out again until answered; `fresh` makes another.
  const first = await a.core.createInvite()
  assert.equal((await a.core.createInvite()).link, first.link)
  const second = await a.core.createInvite({ fresh: true })
  assert.notEqual(second.link, first.link)
  const listed = await a.core.pendingInvites()
  assert.equal(listed.length, 2)
  const revoked = listed.find((p) => p.link === first.link)
  assert.ok(revoked !== undefined)
  await a.core.revokeInvite(revoked.id)
  assert.deepEqual((await a.core.pendingInvites()).map((p) => p.link), [second.link])
  await assert.rejects(a.core.revokeInvite(revoked.id), (e) => E2eeError.is(e, 'UNKNOWN_INVITE'))
  // The revoked invite's answer is refused by the inviter: its mailbox and one-time keys are gone.
  const accepted = await b.device.acceptInvite(first.link, { card: { relays: [], addresses: [] } })
  await assert.rejects(a.core.receiveEnvelope(accepted.envelope, 'mailbox'), (e) => E2eeError.is(e, 'UNKNOWN_MAILBOX'))
})

test('a blocked contact\'s receipts for my messages still apply (my outbox empties); sending to it is refused with BLOCKED', async (t) => {
  const { a, b, close } = await twoMessengers()
  t.after(close)
  const m = await a.core.send(a.contactId, 'before the quarrel')
  // Blocked while the message is on its way: Bob's receipt comes from a blocked contact.
  await a.core.setBlocked(a.contactId, true)
  await inMessage(b, m.id)
  await stateReached(a, m.id, 'delivered')
  await assert.rejects(a.core.send(a.contactId, 'hello?'), (e) => {
    assert.ok(MessengerError.is(e, 'BLOCKED'))
    assert.match(e.message, /unblock/)
    return true
  })
  // Their texts are still dropped.
  const spam = await b.core.send(b.contactId, 'buy now')
  await waitFor(() => b.history.message(b.contactId, 'out', spam.id)?.state === 'sent', 'bob hands it over')
  assert.equal(a.history.message(a.contactId, 'in', spam.id), undefined)
})
