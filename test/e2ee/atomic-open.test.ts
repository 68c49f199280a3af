// Opening an envelope and storing what it carried are one transaction: if the caller's writes fail
// (as a crash between the two would), the ratchet does not advance and the same envelope opens again.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { pair, text } from './helpers.ts'

test('a failed store of an opened message leaves the session as it was; the envelope opens again', async (t) => {
  const { alice, bob, aliceToBob, bobToAlice } = await pair(t)
  const envelope = await alice.seal(aliceToBob, text(1, 'kept whatever happens'))
  await assert.rejects(bob.openEnvelope(envelope, { store: () => { throw new Error('disk full') } }), /disk full/)
  const seen: string[] = []
  const opened = await bob.openEnvelope(envelope, { store: ({ contactId, payload }) => { seen.push(`${contactId}:${payload.kind}`) } })
  assert.equal(opened.payload.kind === 'text' ? opened.payload.text : '', 'kept whatever happens')
  assert.deepEqual(seen, [`${bobToAlice}:text`])
  // And the conversation goes on both ways.
  const reply = await bob.seal(bobToAlice, text(1, 'got it'))
  const back = await alice.openEnvelope(reply)
  assert.equal(back.payload.kind === 'text' ? back.payload.text : '', 'got it')
})
