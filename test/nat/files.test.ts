// A file across two real NATs (issue 12): two devices, each behind its own endpoint-independent home router
// (network namespaces, test/helpers/netns.ts), hole-punch a WebRTC link through the relay; then A sends B a
// file of a few MB. It must travel over the hole-punched link: the transfer code records the path ('direct'
// on both sides, never parked on the relay), the link stays hole-punched, and the bytes left A's LAN as UDP
// (the relay's circuit is TCP, so a relayed or parked copy would not show there). B's saved copy hashes to
// the original's SHA-256.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { requireNetns } from '../helpers/netns.ts'
import { linkOf, setup, until } from '../helpers/nat-messenger.ts'

/** "A few MB": 64 chunks, enough that a relay fallback or a circuit would show in the UDP count. */
const FILE_BYTES = 4 * 1024 * 1024
/** A transfer of a few MB over a loopback-speed WebRTC link takes seconds; generous for a loaded 2-core box. */
const TRANSFER_MS = 120_000
/** WebRTC (SCTP over DTLS over UDP) packets carry at most ~1,200 bytes of data: the file alone needs
 * FILE_BYTES / 1,200 of them; a bar at FILE_BYTES / 1,500 leaves room for header guesses but not for a
 * transfer that went another way (then only control traffic would be UDP). */
const MIN_UDP_PACKETS = Math.floor(FILE_BYTES / 1500)

interface FileRow { messageId: string, state: string, path?: string, relayCopies: number, doneChunks: number, chunks: number }

test('nat: a file goes over the hole-punched link, not the relay, and arrives whole', { timeout: 300_000 }, async (t) => {
  if (!requireNetns(t)) return
  const s = await setup(t)
  await until(async () => (await linkOf(s.a)) === 'hole-punched' && (await linkOf(s.b)) === 'hole-punched' ? true : undefined, 30_000, 'a hole-punched link both ways')

  const bytes = randomBytes(FILE_BYTES)
  const src = join(s.dir, 'photo.bin')
  writeFileSync(src, bytes)
  const udpBefore = s.topo.udpOut(s.topo.routers[0])
  const t0 = Date.now()
  const sent = await s.a.request<{ message: { id: string } }>('sendFile', { contactId: s.aContact, path: src }, 60_000)
  const id = sent.message.id
  await s.b.waitEvent((e) => e.event === 'file' && e.messageId === id && (e.state === 'delivered' || e.state === 'failed'), TRANSFER_MS)
  const ms = Date.now() - t0
  await s.a.waitEvent((e) => e.event === 'file' && e.messageId === id && (e.state === 'delivered' || e.state === 'failed'), TRANSFER_MS)
  const udp = s.topo.udpOut(s.topo.routers[0]) - udpBefore

  const inB = (await s.b.request<FileRow[]>('files', { contactId: s.bContact })).find((f) => f.messageId === id)
  const outA = (await s.a.request<FileRow[]>('files', { contactId: s.aContact })).find((f) => f.messageId === id)
  const aStates = s.a.events.filter((e) => e.event === 'file' && e.messageId === id)
  const bStates = s.b.events.filter((e) => e.event === 'file' && e.messageId === id)
  const links = [await linkOf(s.a), await linkOf(s.b)]
  console.log(`nat(file): ${FILE_BYTES / 1024 / 1024} MB in ${ms} ms (${(FILE_BYTES / 1024 / 1024 / (ms / 1000)).toFixed(1)} MB/s); A ${JSON.stringify(outA)}; B ${JSON.stringify(inB)}; links ${JSON.stringify(links)}; UDP packets out of A's LAN during the transfer ${udp}`)

  assert.equal(inB?.state, 'delivered', JSON.stringify(inB))
  assert.equal(outA?.state, 'delivered', JSON.stringify(outA))
  // The path the transfer code recorded, at every step on both sides: direct, never parked on the relay.
  assert.equal(inB.path, 'direct')
  assert.equal(outA.path, 'direct')
  assert.equal(outA.relayCopies, 0, 'no copy was parked on the relay')
  assert.ok(aStates.every((e) => e.state !== 'on-relay' && (e.path === undefined || e.path === 'direct')), JSON.stringify(aStates))
  assert.ok(bStates.every((e) => e.path === undefined || e.path === 'direct'), JSON.stringify(bStates))
  // The only direct link between two NATed devices is the hole-punched one, and it carried the bytes as UDP.
  assert.deepEqual(links, ['hole-punched', 'hole-punched'])
  assert.ok(udp >= MIN_UDP_PACKETS, `only ${udp} UDP packets left A's LAN for a ${FILE_BYTES}-byte file`)

  // B's copy is the file A sent (B checked the announced hash before 'delivered'; this checks it again here).
  const out = join(s.dir, 'received.bin')
  await s.b.request('saveFile', { messageId: id, out }, 60_000)
  assert.equal(createHash('sha256').update(readFileSync(out)).digest('hex'), createHash('sha256').update(bytes).digest('hex'))
  await Promise.all([s.a.stop(), s.b.stop(), s.relay.stop()])
})
