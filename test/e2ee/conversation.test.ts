import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import fc from 'fast-check'
import { Device } from '../../src/e2ee/device.ts'
import { E2eeError } from '../../src/e2ee/errors.ts'
import { signalUuidFromIdentityKey } from '../../src/identity/account-id.ts'
import { pair, tempDir, text } from './helpers.ts'

test('1,000 messages both ways, interleaved, every one decrypts once and in full', async (t) => {
  const p = await pair(t)
  let aSeq = 0
  let bSeq = 0
  for (let i = 0; i < 500; i++) {
    // Bursts of 1–3 in each direction, so both ratchets turn often and chains also run long.
    for (let k = 0; k <= i % 3; k++) {
      const m = text(++aSeq, `a→b ${aSeq} ${'x'.repeat(aSeq % 50)}`)
      const got = await p.bob.openEnvelope(await p.alice.seal(p.aliceToBob, m))
      assert.deepEqual(got.payload, m)
    }
    const m = text(++bSeq, `b→a ${bSeq}`)
    const got = await p.alice.openEnvelope(await p.bob.seal(p.bobToAlice, m))
    assert.deepEqual(got.payload, m)
  }
  assert.ok(aSeq + bSeq >= 1000)
})

test('property: random reordering, duplication and loss; each arriving message decrypts once, copies are DUPLICATE, session unharmed', async (t) => {
  const p = await pair(t)
  let seqA = 0
  let seqB = 0
  // One run = a batch per direction: n messages sealed, then delivered in a random order with some
  // dropped and some repeated. Afterwards one more message each way must still go through.
  const delivery = fc.record({
    n: fc.integer({ min: 1, max: 12 }),
    order: fc.array(fc.nat(), { minLength: 12, maxLength: 12 }),
    lost: fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
    copies: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 12, maxLength: 12 })
  })
  await fc.assert(fc.asyncProperty(delivery, delivery, async (da, db) => {
    for (const [d, from, to, fromId, toContact, next] of [
      [da, p.alice, p.bob, p.aliceToBob, p.bobToAlice, () => ++seqA],
      [db, p.bob, p.alice, p.bobToAlice, p.aliceToBob, () => ++seqB]
    ] as const) {
      const sent: Array<{ m: ReturnType<typeof text>, env: Uint8Array }> = []
      for (let i = 0; i < d.n; i++) {
        const m = text(next(), `m${i}`)
        sent.push({ m, env: await from.seal(fromId, m) })
      }
      const arrivals: number[] = []
      for (let i = 0; i < d.n; i++) {
        if (d.lost[i] === true) continue
        for (let c = 0; c < (d.copies[i] ?? 1); c++) arrivals.push(i)
      }
      // Shuffle by the generated keys (stable and shrinkable).
      arrivals.sort((x, y) => ((d.order[x] ?? 0) - (d.order[y] ?? 0)) || x - y)
      const opened = new Set<number>()
      for (const i of arrivals) {
        const s = sent[i]
        assert.ok(s !== undefined)
        try {
          const got = await to.openEnvelope(s.env)
          assert.ok(!opened.has(i), 'a copy decrypted twice')
          opened.add(i)
          assert.deepEqual(got.payload, s.m)
          assert.equal(got.contact.id, toContact)
        } catch (err) {
          assert.ok(E2eeError.is(err, 'DUPLICATE'), `expected DUPLICATE, got ${String(err)}`)
          assert.ok(opened.has(i))
        }
      }
      assert.equal(opened.size, new Set(arrivals).size)
    }
    const check = text(++seqA, 'still fine')
    assert.deepEqual((await p.bob.openEnvelope(await p.alice.seal(p.aliceToBob, check))).payload, check)
    const back = text(++seqB, 'and back')
    assert.deepEqual((await p.alice.openEnvelope(await p.bob.seal(p.bobToAlice, back))).payload, back)
  }), { numRuns: 60, seed: 20240601 })
})

test('a flipped bit anywhere in an envelope is a typed error and the session still works', async (t) => {
  const p = await pair(t)
  const m = text(1, 'flip me')
  const env = await p.alice.seal(p.aliceToBob, m)
  const codes = new Set<string>()
  for (let bit = 0; bit < env.length * 8; bit++) {
    const bad = Uint8Array.from(env)
    bad[bit >> 3] = (bad[bit >> 3] as number) ^ (1 << (bit & 7))
    await assert.rejects(p.bob.openEnvelope(bad), (err) => {
      assert.ok(E2eeError.is(err), `bit ${bit}: ${String(err)}`)
      codes.add(err.code)
      return true
    })
  }
  assert.deepEqual([...codes].sort(), ['MALFORMED', 'TAMPERED', 'UNKNOWN_MAILBOX'])
  // Truncated and extended envelopes too.
  await assert.rejects(p.bob.openEnvelope(env.subarray(0, env.length - 1)), (err) => E2eeError.is(err, 'MALFORMED'))
  await assert.rejects(p.bob.openEnvelope(new Uint8Array([...env, 0])), (err) => E2eeError.is(err, 'MALFORMED'))
  // The original still opens, and the conversation goes on in both directions.
  assert.deepEqual((await p.bob.openEnvelope(env)).payload, m)
  const r = text(1, 'reply')
  assert.deepEqual((await p.alice.openEnvelope(await p.bob.seal(p.bobToAlice, r))).payload, r)
})

test('a flipped bit in a sealed first envelope is a typed error and the invite still completes', async (t) => {
  const dir = tempDir(t)
  const alice = await Device.create(join(dir, 'a'), { name: 'A' })
  const bob = await Device.create(join(dir, 'b'), { name: 'B' })
  t.after(() => { alice.close(); bob.close() })
  const inv = await alice.createInvite({ relays: [], addresses: [] })
  const { envelope } = await bob.acceptInvite(inv.link, { card: { relays: [], addresses: [] } })
  for (let i = 0; i < 200; i++) {
    const bad = Uint8Array.from(envelope)
    const bit = (i * 163) % (envelope.length * 8)
    bad[bit >> 3] = (bad[bit >> 3] as number) ^ (1 << (bit & 7))
    await assert.rejects(alice.openEnvelope(bad), (err) => E2eeError.is(err))
  }
  assert.equal(alice.contacts().length, 0)
  const got = await alice.openEnvelope(envelope)
  assert.equal(got.newContact, true)
  await assert.rejects(alice.openEnvelope(envelope), (err) => E2eeError.is(err, 'DUPLICATE'))
})

test('close and reopen both stores mid-conversation: the conversation continues', async (t) => {
  const p = await pair(t)
  for (let i = 1; i <= 5; i++) await p.bob.openEnvelope(await p.alice.seal(p.aliceToBob, text(i, `before ${i}`)))
  // One message in flight across the restart, in each direction.
  const inFlightA = text(6, 'in flight a→b')
  const envA = await p.alice.seal(p.aliceToBob, inFlightA)
  const inFlightB = text(1, 'in flight b→a')
  const envB = await p.bob.seal(p.bobToAlice, inFlightB)
  p.alice.close()
  p.bob.close()
  p.alice = await Device.open(join(p.dir, 'alice'))
  p.bob = await Device.open(join(p.dir, 'bob'))
  assert.deepEqual((await p.bob.openEnvelope(envA)).payload, inFlightA)
  assert.deepEqual((await p.alice.openEnvelope(envB)).payload, inFlightB)
  await assert.rejects(p.bob.openEnvelope(envA), (err) => E2eeError.is(err, 'DUPLICATE'))
  for (let i = 7; i <= 10; i++) {
    const m = text(i, `after ${i}`)
    assert.deepEqual((await p.bob.openEnvelope(await p.alice.seal(p.aliceToBob, m))).payload, m)
    const r = text(i, `reply ${i}`)
    assert.deepEqual((await p.alice.openEnvelope(await p.bob.seal(p.bobToAlice, r))).payload, r)
  }
  assert.equal(p.alice.contact(p.aliceToBob)?.name, 'Bob Example')
})

function contains (hay: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(hay).indexOf(Buffer.from(needle)) !== -1
}

test('relay-visible envelope bytes hold no account id, identity key, address or name', async (t) => {
  const p = await pair(t)
  const dir = tempDir(t)
  const carol = await Device.create(join(dir, 'c'), { name: 'Carol Visible' })
  t.after(() => { carol.close() })
  const inv = await carol.createInvite({ relays: [], addresses: [] })
  const first = await p.alice.acceptInvite(inv.link, { card: { relays: [], addresses: [] } })
  await carol.openEnvelope(first.envelope)
  const envelopes = [first.envelope]
  for (let i = 1; i <= 20; i++) {
    envelopes.push(await p.alice.seal(p.aliceToBob, text(i, `text ${i} Alice Example`)))
    envelopes.push(await p.bob.seal(p.bobToAlice, text(i, `text ${i} Bob Example`)))
    envelopes.push(await p.bob.seal(p.bobToAlice, p.bob.myCard(p.bobToAlice, { relays: ['/dns4/relay/tcp/1'], addresses: [] })))
  }
  for (const d of [p.alice, p.bob]) {
    const key = d.identityKey()
    const secrets = [
      Buffer.from(d.accountId), Buffer.from(d.accountId.replaceAll('-', '')), Buffer.from(d.displayName()),
      Buffer.from(key), Buffer.from(key.subarray(1)), Buffer.from(signalUuidFromIdentityKey(key)),
      Buffer.from(signalUuidFromIdentityKey(key).replaceAll('-', ''), 'hex')
    ]
    for (const env of envelopes) {
      for (const s of secrets) assert.ok(!contains(env, s), 'an envelope leaks an identifier')
    }
  }
  // The mailbox id is the only identifier in clear, and the sizes are buckets.
  for (const env of envelopes) assert.ok([1024, 4096, 16384, 65536].includes(env.length))
})
