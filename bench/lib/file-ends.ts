// The file row's work at each end, inside a device's own process (bench/children/person.ts): waiting for a file
// to be delivered, and the raw libp2p stream it is compared with, on the same connection between the same two
// processes.
import { randomBytes } from 'node:crypto'
import { lpStream } from '@libp2p/utils'
import type { FileTransfers } from '../../src/messenger/files/transfers.ts'
import type { FilePath } from '../../src/messenger/files/types.ts'
import type { DeviceNode } from '../../src/net/node.ts'
import { pathOf } from '../../src/net/path.ts'
import type { Person } from '../../test/helpers/testnet.ts'
import { nowMs } from '../harness.ts'

export const SINK = '/0m1-bench/sink/1.0.0'
/** The raw stream's write size (the file path's chunks are of the same order). */
export const WRITE_BYTES = 64 * 1024
/** The raw stream's first frame: the total it will send, so the sink knows when to answer. */
const HEADER_BYTES = 8
/** How long a file may take to be delivered before the wait gives up (the benchmark's own timeout is shorter). */
const FILE_TIMEOUT_MS = 300_000

/** An incoming direct file's fdatasyncs (TransferStats): `syncs`, `syncMs` those its answers waited for; `bgSyncs`,
 * `bgSyncMs` those that ran beside the transfer (file 1.2.0); `finalSyncMs` the last, before 'delivered'. */
interface Reached { at: number, path?: FilePath, failure?: string, syncs?: number, syncMs?: number, bgSyncs?: number, bgSyncMs?: number, finalSyncMs?: number }

/** Resolves when a file (either direction) reaches 'delivered' here, from the messenger's 'file' events, which are
 * watched from the start so none is missed and the time is when it got there, not when someone asked; an incoming
 * file is delivered once complete with its hash checked. No polling: listing files reads the store, CPU spent in the
 * process being measured. */
export function fileWaiter (p: Person): (messageId: string) => Promise<Reached> {
  const reached = new Map<string, Reached>()
  const waiting = new Map<string, (r: Reached) => void>()
  p.m().subscribe((e) => {
    if (e.type !== 'file' || reached.has(e.file.messageId)) return
    if (e.file.state !== 'delivered' && e.file.state !== 'failed') return
    const stats = (p.m().files as FileTransfers | undefined)?.statsForTest(e.file.messageId)
    const r: Reached = { at: nowMs(), ...(e.file.path !== undefined ? { path: e.file.path } : {}), ...(e.file.state === 'failed' ? { failure: e.file.failure ?? 'failed' } : {}), ...(stats !== undefined ? { syncs: stats.answerSyncs, syncMs: stats.answerSyncMs, bgSyncs: stats.backgroundSyncs, bgSyncMs: stats.backgroundSyncMs, finalSyncMs: stats.finalSyncMs } : {}) }
    reached.set(e.file.messageId, r)
    waiting.get(e.file.messageId)?.(r)
  })
  return async (messageId) => {
    const r = reached.get(messageId) ?? await new Promise<Reached>((resolve, reject) => {
      const t = setTimeout(() => { waiting.delete(messageId); reject(new Error(`file not delivered within ${FILE_TIMEOUT_MS} ms`)) }, FILE_TIMEOUT_MS)
      waiting.set(messageId, (x) => { clearTimeout(t); waiting.delete(messageId); resolve(x) })
    })
    if (r.failure !== undefined) throw new Error(`file failed: ${r.failure}`)
    return r
  }
}

let serving = false

/** A protocol that reads a stream's announced total in 64 KiB frames, discards it, and answers one byte. */
export async function serveSink (node: DeviceNode): Promise<void> {
  if (serving) return
  serving = true
  await node.libp2p.handle(SINK, (stream) => {
    void (async () => {
      const lp = lpStream(stream, { maxDataLength: 2 * WRITE_BYTES })
      const head = (await lp.read()).subarray()
      if (head.byteLength !== HEADER_BYTES) throw new Error('bad sink header')
      const total = Number(new DataView(head.buffer, head.byteOffset, HEADER_BYTES).getBigUint64(0))
      let got = 0
      while (got < total) got += (await lp.read()).byteLength
      await lp.write(new Uint8Array([1]))
      await stream.close()
    })().catch(() => {})
  })
}

/** Milliseconds to write `bytes` as 64 KiB length-prefixed frames to `peerId`'s sink over the open direct
 * connection, until the sink has read them all. */
export async function rawSend (node: DeviceNode, peerId: string, bytes: number): Promise<number> {
  const conn = node.libp2p.getConnections().find((c) => c.remotePeer.toString() === peerId && c.status === 'open' && pathOf(c.remoteAddr) === 'direct')
  if (conn === undefined) throw new Error('no direct connection between the two devices')
  const stream = await conn.newStream(SINK)
  const lp = lpStream(stream, { maxDataLength: 2 * WRITE_BYTES })
  const head = new Uint8Array(HEADER_BYTES)
  new DataView(head.buffer).setBigUint64(0, BigInt(bytes))
  const chunk = randomBytes(WRITE_BYTES)
  const t0 = nowMs()
  await lp.write(head)
  for (let sent = 0; sent < bytes; sent += WRITE_BYTES) await lp.write(chunk)
  await lp.read()
  const ms = nowMs() - t0
  await stream.close()
  return ms
}
