// src/messenger/message-id.ts: ids of texts made later sort later (so both stores append them in order), carry
// their time in the first 6 bytes, and stay unique within one millisecond.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MESSAGE_ID_TIME_BYTES, newMessageId } from '../../src/messenger/message-id.ts'
import { PAYLOAD_ID_BYTES } from '../../src/wire/payload.ts'
import { twoMessengers } from '../helpers/two-messengers.ts'

test('message ids sort by creation time, start with it, and are unique within a millisecond', () => {
  const t0 = Date.UTC(2026, 10, 28)
  const ids = Array.from({ length: 1000 }, (_, i) => newMessageId(t0 + Math.floor(i / 10)))
  for (const id of ids) assert.equal(id.length, PAYLOAD_ID_BYTES)
  const hexes = ids.map((id) => id.toString('hex'))
  assert.equal(new Set(hexes).size, ids.length, 'unique, ten per millisecond')
  for (let i = 10; i < hexes.length; i += 10) {
    assert.ok((hexes[i - 1] as string) < (hexes[i] as string), `an id of a later millisecond sorts after (${i})`)
  }
  assert.equal((ids[0] as Buffer).readUIntBE(0, MESSAGE_ID_TIME_BYTES), t0)
  assert.equal((ids[999] as Buffer).readUIntBE(0, MESSAGE_ID_TIME_BYTES), t0 + 99)
  // The random part is not constant.
  assert.notEqual((ids[0] as Buffer).subarray(MESSAGE_ID_TIME_BYTES).toString('hex'), (ids[1] as Buffer).subarray(MESSAGE_ID_TIME_BYTES).toString('hex'))
})

test('the messenger gives its texts time-ordered ids (what the stores append by)', async (t) => {
  const w = await twoMessengers()
  t.after(w.close)
  const before = Date.now()
  const sent = [await w.a.core.send(w.a.contactId, 'one'), await w.a.core.send(w.a.contactId, 'two')]
  const after = Date.now()
  for (const m of sent) {
    const at = Buffer.from(m.id, 'hex').readUIntBE(0, MESSAGE_ID_TIME_BYTES)
    assert.ok(at >= before && at <= after, `the id starts with its creation time (${at} in ${before}..${after})`)
  }
})
