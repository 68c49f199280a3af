// File transfers (issue 12): encrypt a file into padded secretstream chunks, announce it inside the conversation,
// then stream the chunks straight to the contact on a direct (or hole-punched) connection, or park them on the
// contact's relays for it to fetch. Both ends keep chunk-level progress, so an interrupted transfer continues from
// the last confirmed chunk. Chunks stay encrypted in the data directory (files/); the key is only in the store.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { constants, mkdirSync } from 'node:fs'
import { open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { Readable } from 'node:stream'
import type { Connection, Stream } from '@libp2p/interface'
import { E2eeError } from '../../e2ee/errors.ts'
import { FileOpener, FileSealer, newFileKey } from '../../e2ee/file-crypto.ts'
import { hashFile, isSourceChanged, readFull, SealJob, writeFull, type SealSpec } from './sealing.ts'
import type { BlobChannel, BlobRef } from '../../net/blob-client.ts'
import { NetError } from '../../net/errors.ts'
import { FrameStream } from '../../net/frame-stream.ts'
import type { Logger } from '../../platform/logger.ts'
import type { Database } from '../../store/db.ts'
import { decodeBlobClientFrame, encodeBlobServerFrame, fileDurableApart, fileWindow, MAX_BLOB_FRAME_BYTES, type BlobServerFrame } from '../../wire/blob.ts'
import { WireError } from '../../wire/errors.ts'
import {
  BLOB_CAPABILITY_BYTES, blobIdOf, chunkCount, FILE_CHUNK_BYTES, FILE_CIPHER_CHUNK_BYTES, MAX_FILE_NAME_BYTES, MAX_FILE_TYPE_BYTES,
  type FileDescriptor
} from '../../wire/file.ts'
import { MAX_RELAYS, type FileCancelReason } from '../../wire/payload.ts'
import { EarlyCancels } from './early-cancels.ts'
import { StopGuard } from './stop-guard.ts'
import { MessengerError } from '../errors.ts'
import type { ContactPort } from '../ports.ts'
import type { MessageView, MessengerEvent } from '../types.ts'
import { FileStore, type TransferRow } from './store.ts'
import type { FilesPort, FileView } from './types.ts'
import { guessType, PREVIEW_TYPES } from './media-type.ts'
import { fetchToken, groupFileOwner, groupFileRelays, groupOfOwner, groupOwnerPrefix, memberKey, presentsCapability, senderOfOwner } from './group-files.ts'
import type { GroupMessageView, Groups } from '../groups/types.ts'

/** Inbound direct file streams served at once on this device, from all peers together: each may buffer its window
 * (4 MiB) before its first frame is checked, so 8 bound that to 32 MiB. A sender refused here uses its relays. */
export const MAX_FILE_STREAMS_SERVED = 8
/** The default largest file (issue 12: 100 MB); `maxFileBytes` (host option, `--max-file-mb`) changes it. */
export const DEFAULT_MAX_FILE_BYTES = 100 * 1024 * 1024
/** Relays a file is parked on when the contact has them: one may die or lose the blob before the contact comes. */
export const FILE_RELAY_COPIES = 2
/** How long the sender keeps trying the direct path (the announcement opens the connection and must arrive first)
 * before it parks the chunks on relays. */
export const DIRECT_WAIT_MS = 6_000
const DIRECT_POLL_MS = 300
/** The first wait before asking a contact again whether it has opened the announcement (then doubling up to
 * DIRECT_POLL_MS): it usually comes a few ms after the stream opens, and a fixed 300 ms wait cost a 50 MB direct
 * transfer a quarter of its time. */
const DIRECT_FIRST_POLL_MS = 10
/** A /0m1/file/1.2.0 receiver answers puts before they are durable and syncs in the background: one fdatasync once
 * this much was taken since the last began (4 MiB: a 50 MB file costs about a dozen, each well under the time the
 * wire takes to bring the next 4 MiB, so the syncs overlap the transfer and the last one, which the file's delivery
 * waits for, is short). */
export const FILE_SYNC_EVERY_BYTES = 4 * 1024 * 1024
/** ... or this long after the first chunk no sync covers yet, whichever comes first: a slow or paused sender still
 * sees its chunks confirmed (its resume point and progress move) within about this. */
export const FILE_SYNC_AFTER_MS = 50
/** Bytes a 1.2.0 receiver lets stand written but not yet durable on one stream before it stops answering (the
 * sender's window then fills and it waits): 16 MiB, so a disk slower than the wire cannot let dirty pages of one
 * file grow without bound (MAX_FILE_STREAMS_SERVED streams: 128 MiB at most), and a sender killed or cut off never
 * has more than this (plus its window) sent again from its last durable confirmation. */
export const MAX_FILE_UNSYNCED_BYTES = 16 * 1024 * 1024
const SYNC_EVERY_CHUNKS = Math.floor(FILE_SYNC_EVERY_BYTES / FILE_CIPHER_CHUNK_BYTES)
const MAX_UNSYNCED_CHUNKS = Math.floor(MAX_FILE_UNSYNCED_BYTES / FILE_CIPHER_CHUNK_BYTES)
/** Gets in flight per relay download: keeps a relay link busy without buffering more than 512 KiB. */
export const DOWNLOAD_PREFETCH = 8
/** Retry delays while nothing can move (relays unreachable or full, blob not parked yet): 0.5 s doubling to 15 s. */
export const FILE_RETRY_MIN_MS = 500
export const FILE_RETRY_MAX_MS = 15_000
/** How often the sender asks the relays whether a parked file was fetched: 1 s doubling to 5 min (and at once
 * when the announcement's state changes). */
export const FETCHED_CHECK_MIN_MS = 1_000
export const FETCHED_CHECK_MAX_MS = 300_000
/** Chunks an upload reads from its chunk file at once (1 MiB, the put window), with the next block read ahead. */
const READ_AHEAD_CHUNKS = 16
/** Progress events at most this often per transfer (and at every state change). */
const PROGRESS_EVENT_MS = 200
/** The directory under the data directory that holds encrypted chunks. */
export const FILES_DIR = 'files'
/** Bytes sent through sendBytes are staged under this name in FILES_DIR until sealed (a restart seals from them). */
const STAGED_PREFIX = 'upload-'

export interface FileNet {
  withBlobStore: <T>(relayAddr: string, slot: 'send' | 'fetch', fn: (ch: BlobChannel) => Promise<T>, o?: { signal?: AbortSignal }) => Promise<T>
  openFileStream: (peerId: string, o?: { signal?: AbortSignal }) => Promise<BlobChannel | undefined>
}

export interface FileCore {
  send: (contactId: string, text: string, o: { file: FileDescriptor }) => Promise<MessageView>
  subscribe: (listener: (e: MessengerEvent) => void) => () => void
  publish: (e: MessengerEvent) => void
  messages: (contactId: string, o?: { limit?: number }) => Promise<MessageView[]>
  /** Tells the contact a file announced to it will not come (the file-cancel control, inside the session). */
  cancelFile?: (contactId: string, messageId: string, reason: FileCancelReason) => Promise<void>
  /** Issue 12 in groups: the group announcement goes out as a group message (src/messenger/files/group-files.ts). */
  readonly groups?: Pick<Groups, 'get' | 'send'> | undefined
}

export interface FileTransfersOptions {
  readonly db: Database
  readonly dataDir: string
  readonly maxBytes?: number | undefined
  readonly net: () => FileNet | undefined
  readonly contact: (id: string) => ContactPort | undefined
  readonly core: FileCore
  readonly logger: Logger
  readonly now?: () => number
}

/** What a test can count about one transfer in this process (resumption and refetch assertions). */
export interface TransferStats {
  /** Outgoing: chunks put on the direct stream, and on relays. */
  sentDirect: number
  sentRelay: number
  /** Incoming: chunks fetched from relays and received direct, the chunk this run resumed at, chunks refused as bad. */
  fetched: number
  receivedDirect: number
  resumedAt: number
  /** Outgoing: sealing runs this process started again after a restart cut one short. */
  resealed: number
  badChunks: number
  /** Incoming, direct: the fdatasyncs the stream's answers waited for, and their total wall time (ms). On 1.1.0 and
   * 1.0.0 each answer waits for one (chunks durable before they are confirmed), so on a slow or shared disk these,
   * not the CPU, set the pace of a direct transfer; on 1.2.0 only a status, and puts past MAX_FILE_UNSYNCED_BYTES not
   * yet durable (backpressure), wait. The benchmark prints them (bench/product/files.ts). */
  answerSyncs: number
  answerSyncMs: number
  /** Incoming, direct 1.2.0: the fdatasyncs no answer waited for (run beside the transfer), and their wall time. */
  backgroundSyncs: number
  backgroundSyncMs: number
  /** Incoming: the last fdatasync, before the hash check and 'delivered' (every version waits for it). */
  finalSyncMs: number
  /** Incoming: chunks an fdatasync has covered (on disk), from the first. */
  durableChunks: number
  /** Incoming, direct 1.2.0: the most chunks seen verified and not yet durable at once (the backpressure bound is
   * MAX_FILE_UNSYNCED_BYTES, plus the puts already read ahead when it holds the answers back). */
  maxUnsyncedChunks: number
  /** Outgoing: the highest count the contact confirmed durable on a direct stream (the resume point it gave). */
  confirmedDirect: number
}

interface Incoming {
  row: TransferRow
  fh: FileHandle
  opener: FileOpener
  hash: ReturnType<typeof createHash>
  direct: number
  /** A direct stream for it has ended (#serveStream): #runIncoming's wait for one is over even if it had not begun. */
  directEnded?: boolean
  lock: Promise<unknown>
  finished: boolean
  /** Group durability for the direct stream: the fdatasync running now, and the one queued behind it. */
  syncing: Promise<void> | undefined
  syncQueued: Promise<void> | undefined
  /** An answer waits for the queued sync (its time counts as answerSyncMs, not backgroundSyncMs). */
  syncWaited: boolean
  /** Chunks (from the first) an fdatasync has covered: on disk. Never above row.done. */
  synced: number
  /** Chunk writes issued and not yet done (verification runs in order; the writes overlap with it). */
  writes: Set<Promise<void>>
  /** The first write or fdatasync that failed: the chunk file no longer holds what row.done says (after a failed
   * fdatasync not even what the page cache shows: Linux marks the pages clean though the disk lacks them, and a
   * later fdatasync succeeds without them); nothing more is taken, and nothing counted durable past `synced`. */
  writeError: Error | undefined
  /** Every fdatasync of the chunk file in turn (#datasync): one that follows a failed one must not succeed. */
  syncLock: Promise<void>
  /** Verified chunks not yet handed to the file system, from chunk `batchFirst` on: written together (one writev). */
  batch: Uint8Array[]
  batchFirst: number
  /** Each chunk's plaintext, only hashed: one buffer for all (a fresh 64 KiB per chunk fed the garbage collector). */
  plain: Buffer
}

/** Announced ids kept for their 'message' event (#announcedRow): far more than one batch commit records. */
const MAX_ANNOUNCED_PENDING = 1024

/** Batched writes a receiver lets run behind verification (relay downloads have no fdatasync to wait on): 2 MiB. */
const MAX_PENDING_WRITES = 2
/** Verified chunks a receiver gathers into one write (a write per chunk cost a thread-pool round trip each). */
const WRITE_BATCH_CHUNKS = 16

/** A transfer's run: progress events are throttled to one per PROGRESS_EVENT_MS, and one kept back (`kept`) is
 * stored and published at the end of its period. */
interface Run { start: number, startDone: number, lastEvent: number, kept?: NodeJS.Timeout | undefined }

/** 'received' answers a 1.2.0 receiver sends together (at most; fewer when fewer are queued): a quarter of the
 * sender's window (MAX_FILE_PUTS_IN_FLIGHT), so the sender keeps three quarters in flight while a batch forms. */
const ANSWER_BATCH = 16

/** One answer of a direct file stream, in request order: its frame once its work is done. */
interface AnswerSlot { readonly work: Promise<BlobServerFrame>, frame: BlobServerFrame | undefined }

function hex (b: Uint8Array): string { return Buffer.from(b).toString('hex') }

/** Plaintext bytes in chunk i of a file. */
function plainLength (f: FileDescriptor, i: number): number {
  return i === f.chunks - 1 ? f.size - i * FILE_CHUNK_BYTES : FILE_CHUNK_BYTES
}

function refOf (f: FileDescriptor): BlobRef { return { blobId: f.blobId, capability: f.capability } }

/** One transfer row: its direction, owner and message id (the store's key). */
function rowKey (row: { direction: string, contactId: string, messageId: string }): string {
  return `${row.direction}/${row.contactId}/${row.messageId}`
}

export class FileTransfers implements FilesPort {
  readonly maxBytes: number
  readonly #o: FileTransfersOptions
  readonly #store: FileStore
  readonly #dir: string
  readonly #log: Logger
  readonly #now: () => number
  readonly #running = new Map<string, Promise<void>>()
  readonly #incoming = new Map<string, Promise<Incoming>>()
  /** By blob id: the chunks the last good fdatasync covered before one failed. The next open cuts the chunk file
   * there before its replay: what lies past it may be in the page cache only. */
  readonly #syncFailedAt = new Map<string, number>()
  #failWritesForTest = 0
  /** File messages announced (#announcedRow) whose 'message' event has not come yet. */
  readonly #announced = new Set<string>()
  /** Incoming files announced over a direct connection: #runIncoming waits for the sender's stream first. */
  readonly #expectDirect = new Set<string>()
  #holdSealingForTest: number | undefined
  /** Test hook (holdIncomingForTest): incoming chunks from this index on wait for the stop. */
  #holdIncomingAt: number | undefined
  #releaseIncoming: (() => void) | undefined
  #incomingHeld: Promise<void> | undefined
  readonly #runs = new Map<string, Run>()
  readonly #stats = new Map<string, TransferStats>()
  readonly #wakers = new Map<string, () => void>()
  /** Outgoing files still being sealed into their chunk files, by blob id (src/messenger/files/sealing.ts). */
  readonly #jobs = new Map<string, SealJob>()
  /** Files deleted (the message deleted, for me or for everyone, or its contact deleted), by rowKey: their runs stop
   * at the next step and write nothing more. By owner too, not message id alone: senders choose ids, and another
   * sender's file deleted under the same id must not stop this one (group-files.ts). */
  readonly #gone = new Set<string>()

  #isGone (row: TransferRow): boolean { return this.#gone.has(rowKey(row)) }
  #unsubscribe: (() => void) | undefined
  #stopped = false
  /** Ends every stream and request a transfer has open when stop() comes (src/messenger/files/stop-guard.ts). */
  readonly #stopGuard = new StopGuard()
  /** Copies staged by this process (sendBytes) not yet dropped. */
  readonly #stagedHere = new Set<string>()
  /** Cancels (file-cancel) that came before their announcement, by contact and message: applied when it comes. */
  readonly #earlyCancels: EarlyCancels

  constructor (o: FileTransfersOptions) {
    this.#o = o
    this.maxBytes = o.maxBytes ?? DEFAULT_MAX_FILE_BYTES
    if (!Number.isSafeInteger(this.maxBytes) || this.maxBytes <= 0) throw new RangeError('maxBytes must be a positive integer')
    this.#store = new FileStore(o.db)
    this.#dir = resolve(o.dataDir, FILES_DIR)
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 })
    this.#log = o.logger
    this.#now = o.now ?? Date.now
    this.#earlyCancels = new EarlyCancels(this.#now)
  }

  /** Resumes unfinished transfers and starts downloads as announcements arrive. */
  start (): void {
    this.#unsubscribe = this.#o.core.subscribe((e) => {
      if (e.type === 'message' && e.message.direction === 'in') {
        const row = this.#announcedRow(e.message.contactId, e.message.id)
        if (row !== undefined && row.state !== 'failed' && row.state !== 'delivered') {
          if (e.message.path === 'direct') this.#expectDirect.add(rowKey(row))
          this.#kick(row)
        }
      } else if (e.type === 'group-message' && e.message.direction === 'in') {
        const row = this.#announcedRow(groupFileOwner(e.message.groupId, e.message.senderAccountId), e.message.id)
        if (row !== undefined && row.state !== 'failed' && row.state !== 'delivered') this.#kick(row)
      } else if (e.type === 'message-state' && e.message.deleted === true) {
        this.#background(this.#forget(this.#store.byMessage(e.message.id).filter((r) => r.contactId === e.message.contactId && r.direction === e.message.direction)))
      } else if (e.type === 'message-removed') {
        this.#background(this.#forget(this.#store.byMessage(e.id).filter((r) => r.contactId === e.contactId && r.direction === e.direction)))
      } else if (e.type === 'contact-removed') {
        this.#background(this.#forget(this.#store.list(e.contactId)))
      }
    })
    this.#background(this.#forget(this.#store.orphans()))
    this.#background(this.#dropStaleSources())
    for (const row of this.#store.deliveredOut()) this.#dropSent(row)
    for (const row of this.#store.unfinished()) this.#kick(row)
  }

  /** At start: sources no longer needed are forgotten (a row that ended while its source was kept, after a crash
   * between the two), and staged copies no row names any more (a crash between staging and announcing) removed. */
  async #dropStaleSources (): Promise<void> {
    const named = new Set<string>()
    for (const row of this.#store.withSource()) {
      if (row.state === 'failed' || row.state === 'delivered') await this.#dropSource(row)
      else if (row.source !== undefined) named.add(row.source)
    }
    for (const name of await readdir(this.#dir)) {
      const path = join(this.#dir, name)
      if (isStaged(path, this.#dir) && !named.has(path) && !this.#stagedHere.has(path)) await rm(path, { force: true })
    }
  }

  /** Delivered: the sender's encrypted copy has done its work (the sent file stays where the user had it). Images the
   * UI previews are kept, like received ones, so the sender still sees its photo; they go when the message does. */
  #dropSent (row: TransferRow): void {
    if (!PREVIEW_TYPES.has(row.file.type)) this.#background(rm(this.#chunkPath(row), { force: true }))
  }

  #background (work: Promise<void>): void {
    work.catch((err: unknown) => { this.#log.warn('file-forget-failed', { error: err instanceof Error ? err.name : typeof err }) })
  }

  /**
   * A deleted message's file goes with it: its transfer stops, its row and its chunk file go, and nothing serves it
   * again (the content route answers 404). The row goes first, so a direct stream that comes later finds nothing.
   */
  async #forget (rows: TransferRow[]): Promise<void> {
    // Synchronous up to the first await: a run kicked right after sees the row gone.
    for (const row of rows) {
      this.#gone.add(rowKey(row))
      if (row.direction === 'out') this.#jobs.get(hex(row.file.blobId))?.cancel()
      this.#store.remove(row)
      this.#wakers.get(`${row.direction}/${row.contactId}/${row.messageId}`)?.()
    }
    // A refused duplicate (announced) shares its blob id, and so its chunk file, with the file another row still holds.
    const shared = (row: TransferRow): boolean => row.direction === 'in' && this.#store.byBlob(row.file.blobId, 'in') !== undefined
    for (const row of rows) if (row.direction === 'out') await this.#jobs.get(hex(row.file.blobId))?.done.catch(() => {})
    for (const row of rows) if (!shared(row)) await rm(this.#chunkPath(row), { force: true })
    for (const row of rows) {
      const key = `${row.direction}/${row.contactId}/${row.messageId}`
      await this.#running.get(key)?.catch(() => {})
      if (shared(row)) continue
      if (row.direction === 'in') {
        const inc = this.#incoming.get(hex(row.file.blobId))
        this.#incoming.delete(hex(row.file.blobId))
        await inc?.then(async (i) => { i.finished = true; await i.lock; await this.#written(i).catch(() => {}); await i.fh.close() }, () => {})
      }
      // A run that was writing when the row went may have recreated it.
      await rm(this.#chunkPath(row), { force: true })
      // My parked copies need not wait for the relays' expiry (best effort, as after a fetch).
      const net = this.#o.net()
      if (row.direction === 'out' && net !== undefined) {
        for (const relay of row.file.relays.filter((r) => (row.relayCounts[r] ?? 0) > 0)) {
          net.withBlobStore(relay, 'send', async (ch) => { await ch.delete(refOf(row.file)) }).catch(() => {})
        }
      }
      // The receiver's delete: the copies it could still fetch go too (its capability allows it). A group's shared
      // copy stays for the other members (src/messenger/files/group-files.ts).
      if (row.direction === 'in' && net !== undefined && groupOfOwner(row.contactId) === undefined) {
        for (const relay of row.file.relays) {
          net.withBlobStore(relay, 'fetch', async (ch) => { await ch.delete(refOf(row.file)) }).catch(() => {})
        }
      }
    }
  }

  async stop (): Promise<void> {
    this.#stopped = true
    // First: nothing a remote peer does (or fails to do) can hold the stop up from here on (stop-guard.ts).
    this.#stopGuard.stop()
    for (const run of this.#runs.values()) clearTimeout(run.kept)
    this.#releaseIncoming?.()
    this.#unsubscribe?.()
    for (const w of this.#wakers.values()) w()
    // A file cut mid-seal keeps its source in its row: the next start seals it again (sealing.ts).
    for (const job of this.#jobs.values()) job.cancel()
    await Promise.allSettled([...this.#running.values(), ...[...this.#jobs.values()].map(async (j) => { await j.done })])
    // As #forget: no chunk is taken after the last queued one (a close waits for every file operation, and new ones
    // are let in while it waits: chunks still arriving kept it waiting until the file was whole).
    for (const p of this.#incoming.values()) await p.then(async (inc) => { inc.finished = true; await inc.lock; await this.#written(inc).catch(() => {}); await inc.fh.close() }, () => {})
    this.#incoming.clear()
  }

  /** Wakes waiting transfers (a contact came online, the network changed). */
  wake (): void {
    for (const w of this.#wakers.values()) w()
  }

  /** Stats are kept by rowKey (two files may share a message id): the first of this id (of this owner, if named). */
  statsForTest (messageId: string, owner?: string): TransferStats | undefined {
    for (const [key, s] of this.#stats) {
      if (key.endsWith(`/${messageId}`) && (owner === undefined || key.slice(key.indexOf('/') + 1) === `${owner}/${messageId}`)) return s
    }
    return undefined
  }

  /** Test hook: called as a contact confirms chunks durable on a direct stream (the sender's side). */
  #confirmedForTest: ((messageId: string, count: number) => void) | undefined
  onConfirmedForTest (fn: ((messageId: string, count: number) => void) | undefined): void { this.#confirmedForTest = fn }
  /** Test hook: a direct 1.2.0 receiver's background fdatasyncs wait (none starts) until released; backpressure and
   * the final sync still run. */
  holdBackgroundSyncsForTest (): () => void {
    let release: () => void = () => {}
    this.#syncsHeld = new Promise<void>((resolve) => { release = resolve })
    return () => { this.#syncsHeld = undefined; release() }
  }

  #syncsHeld: Promise<void> | undefined
  /** For tests: the descriptor of a file this device holds a row for (the relay-side checks need its blob id). */
  /** Test hook: the next chunk write (one batch) fails, as a full or failing disk would. */
  failNextWriteForTest (): void { this.#failWritesForTest++ }

  /** Test hook: the next file sent is sealed only up to about `chunks` (a whole block) until this messenger stops, as
   * a crash mid-seal would leave it. */
  holdSealingForTest (chunks: number): void { this.#holdSealingForTest = chunks }
  /** Test hook: every incoming file takes chunks up to `chunks` and waits there until this messenger stops, as a
   * device killed mid-download would leave it (the download's speed then cannot race the kill). */
  holdIncomingForTest (chunks: number): void {
    this.#holdIncomingAt = chunks
    // One hold per process: a chunk already waiting is released by the same stop.
    this.#incomingHeld ??= new Promise((resolve) => { this.#releaseIncoming = resolve })
  }

  /** Test hook: held sealing goes on. */
  releaseSealingForTest (): void { for (const job of this.#jobs.values()) job.release() }
  /** Test hook: file-cancel controls opened by this device (this process), whether they applied or not. */
  cancelsOpenedForTest (): number { return this.#cancelsOpened }
  /** Tests only: incoming files still marked as announced over a direct connection (#runIncoming takes them). */
  expectingDirectForTest (): number { return this.#expectDirect.size }
  #cancelsOpened = 0
  /** Test hook: the sealing job of an outgoing file, while it runs. */
  sealJobForTest (messageId: string): SealJob | undefined {
    const row = this.#store.byMessage(messageId).find((r) => r.direction === 'out')
    return row === undefined ? undefined : this.#jobs.get(hex(row.file.blobId))
  }

  descriptorForTest (messageId: string, owner?: string): FileDescriptor | undefined {
    return this.#row(messageId, owner)?.file
  }

  #statsOf (row: TransferRow): TransferStats {
    let s = this.#stats.get(rowKey(row))
    if (s === undefined) {
      s = { sentDirect: 0, sentRelay: 0, fetched: 0, receivedDirect: 0, resumedAt: 0, badChunks: 0, resealed: 0, answerSyncs: 0, answerSyncMs: 0, backgroundSyncs: 0, backgroundSyncMs: 0, finalSyncMs: 0, durableChunks: 0, maxUnsyncedChunks: 0, confirmedDirect: 0 }
      this.#stats.set(rowKey(row), s)
    }
    return s
  }

  // ---- the API -----------------------------------------------------------------------------------

  async sendBytes (contactId: string, name: string, bytes: Uint8Array, text = ''): Promise<{ message: MessageView, file: FileView }> {
    if (bytes.length > this.maxBytes) {
      throw new MessengerError('FILE_TOO_LARGE', `The file is ${mb(bytes.length)} MB and files may be at most ${mb(this.maxBytes)} MB; nothing was sent.`)
    }
    // Staged in the private files directory (0700) and kept until sealed (#sealed removes it): a restart mid-seal
    // seals it again from there.
    const staged = await this.#stage(bytes)
    try {
      return await this.send(contactId, staged, text, name)
    } catch (err) {
      await rm(staged, { force: true })
      throw err
    }
  }

  /** Writes bytes to send into a new staged file, durable (a restart may need them to seal the file again). */
  async #stage (bytes: Uint8Array): Promise<string> {
    const staged = join(this.#dir, `${STAGED_PREFIX}${randomBytes(8).toString('hex')}`)
    // Not a stale copy for a start-up sweep running meanwhile (#dropStaleSources).
    this.#stagedHere.add(staged)
    const fh = await open(staged, 'wx', 0o600)
    try {
      await writeFull(fh, bytes, 0)
      await fh.sync()
    } catch (err) {
      await fh.close().catch(() => {})
      await rm(staged, { force: true })
      throw err
    }
    await fh.close()
    return staged
  }

  async send (contactId: string, path: string, text = '', asName?: string): Promise<{ message: MessageView, file: FileView }> {
    if (this.#stopped) throw new MessengerError('STOPPED', 'The messenger is stopped.')
    const contact = this.#o.contact(contactId)
    if (contact === undefined) throw new MessengerError('UNKNOWN_CONTACT', 'No contact with that id.')
    let size: number
    try {
      const st = await stat(path)
      if (!st.isFile()) throw new Error('not a file')
      size = st.size
    } catch (err) {
      throw new MessengerError('FILE_UNREADABLE', 'That file could not be read; check the path.', { cause: err })
    }
    if (size > this.maxBytes) {
      throw new MessengerError('FILE_TOO_LARGE', `The file is ${mb(size)} MB and files may be at most ${mb(this.maxBytes)} MB; nothing was sent.`)
    }
    const name = fitUtf8(asName ?? basename(path), MAX_FILE_NAME_BYTES)
    const file = await this.#seal(path, size, name, guessType(name).slice(0, MAX_FILE_TYPE_BYTES), contact.theirRelays.slice(0, MAX_RELAYS))
    let message: MessageView
    try {
      message = await this.#o.core.send(contactId, text, { file })
    } catch (err) {
      // Refused (a blocked contact, a stopped messenger): the sealed chunks are of no use.
      await this.#dropSeal(file)
      throw err
    }
    const row: TransferRow = { contactId, messageId: message.id, direction: 'out', file, state: 'queued', path: undefined, done: 0, failure: undefined, relayCounts: {}, createdAt: this.#now(), source: resolve(path) }
    this.#store.insert(row, this.#now())
    // Sealed whole before the row was written (SealSpec.whole found no row): its source is forgotten in the store now.
    const job = this.#jobs.get(hex(file.blobId))
    if (job !== undefined && job.sealed === job.chunks) this.#store.sealed(row)
    this.#changed(row, true)
    this.#kick(row)
    // The chunks go out as they are sealed; send() returns once the file is read whole (the caller may then move or
    // delete it, as before).
    await this.#sealed(row)
    return { message, file: this.#view(row) }
  }

  list (contactId: string): FileView[] {
    return this.#store.list(contactId).map((r) => this.#view(r))
  }

  get (messageId: string, owner?: string): FileView | undefined {
    const row = this.#row(messageId, owner)
    return row === undefined ? undefined : this.#view(row)
  }

  /** The file of a message. Message ids are chosen by their senders: a group member (or a contact) may reuse another's
   * id, mine included (group-files.ts). Then the id alone names no file: `owner` (a FileView's contactId) must say
   * whose, never a guess that could hand out another sender's file. */
  #row (messageId: string, owner?: string): TransferRow | undefined {
    const rows = this.#store.byMessage(messageId).filter((r) => owner === undefined || r.contactId === owner)
    if (rows.length > 1) {
      throw new MessengerError('AMBIGUOUS_FILE', 'More than one file uses that message id (another sender reused it); name the file with its owner (the file\'s contactId: ?owner= in the API, --owner in the CLI).')
    }
    return rows[0]
  }

  async save (messageId: string, outPath: string, owner?: string): Promise<FileView> {
    const row = this.#held(messageId, owner)
    const tmp = `${outPath}.0m1-partial`
    let out: FileHandle
    try {
      // Exclusive: a file or symlink planted at the partial name is refused, never followed or overwritten.
      out = await open(tmp, 'wx', 0o600)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new MessengerError('FILE_UNREADABLE', `${tmp} is in the way (a file or link of that name exists); remove it and save again.`, { cause: err })
      }
      throw new MessengerError('FILE_UNREADABLE', 'The file could not be written there; check the path and permissions.', { cause: err })
    }
    try {
      try {
        // Chunk by chunk: at most one chunk of plaintext in memory, whatever the file's size.
        await this.#eachPlainChunk(row, async (plain) => { await out.write(plain) })
        await out.sync()
      } finally { await out.close() }
      await rename(tmp, outPath)
    } catch (err) {
      await rm(tmp, { force: true })
      if (MessengerError.is(err) || E2eeError.is(err)) throw err
      throw new MessengerError('FILE_UNREADABLE', 'The file could not be written there; check the path and permissions.', { cause: err })
    }
    return this.#view(row)
  }

  async read (messageId: string, owner?: string): Promise<{ file: FileView, bytes: Buffer }> {
    const row = this.#held(messageId, owner)
    // The preview's bytes (at most the file limit): the API answers with one buffer.
    const bytes = Buffer.alloc(row.file.size)
    let at = 0
    await this.#eachPlainChunk(row, (plain) => { plain.copy(bytes, at); at += plain.length })
    return { file: this.#view(row), bytes }
  }

  /** The row of a complete file this device still holds, or why not. */
  #held (messageId: string, owner: string | undefined): TransferRow {
    const row = this.#row(messageId, owner)
    if (row === undefined) throw new MessengerError('UNKNOWN_FILE', 'No file in that message.')
    if (row.direction === 'in' && row.state !== 'delivered') throw new MessengerError('FILE_NOT_READY', 'That file has not been received completely yet.')
    return row
  }

  /** The plaintext as a stream of chunks (the API's /content): one chunk in memory at a time. The hash is checked at
   * the end: a stored file altered since it was verified ends the stream with an error (the response is cut short). */
  async stream (messageId: string, owner?: string): Promise<{ file: FileView, body: Readable }> {
    const row = this.#held(messageId, owner)
    // Checked now, so a missing file is a 404 before any header; opened by the stream's first read (a stream
    // destroyed unread then holds nothing open).
    await (await this.#openChunks(row)).close()
    return { file: this.#view(row), body: Readable.from(this.#plainChunks(row)) }
  }

  async #openChunks (row: TransferRow): Promise<FileHandle> {
    // The sender's own copy (an image it previews) while it is still being sealed.
    if (row.direction === 'out') await this.#jobs.get(hex(row.file.blobId))?.done.catch(() => {})
    try {
      return await open(this.#chunkPath(row), 'r')
    } catch (err) {
      // The sender's encrypted copy goes once the contact has the file; the original stays where it was sent from.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new MessengerError('UNKNOWN_FILE', 'This device no longer keeps that file (a sent file is kept only until it is delivered).', { cause: err })
      throw err
    }
  }

  /** Decrypts a file's chunks in order, then checks the whole against its hash again (the chunks at rest could have
   * been altered): a consumer writing as it goes must discard its output when this throws. */
  async * #plainChunks (row: TransferRow): AsyncGenerator<Buffer> {
    const f = row.file
    const fh = await this.#openChunks(row)
    try {
      const opener = new FileOpener(f.key, f.header, f.chunks)
      const hash = createHash('sha256')
      const buf = Buffer.alloc(FILE_CIPHER_CHUNK_BYTES)
      for (let i = 0; i < f.chunks; i++) {
        await readFull(fh, buf, i * FILE_CIPHER_CHUNK_BYTES)
        const plain = opener.open(buf).subarray(0, plainLength(f, i))
        hash.update(plain)
        yield plain
      }
      if (!timingSafeEqual(hash.digest(), f.sha256)) throw new E2eeError('BAD_CHUNK', 'The stored file does not match its hash.')
    } finally {
      await fh.close()
    }
  }

  async #eachPlainChunk (row: TransferRow, use: (plain: Buffer) => Promise<void> | void): Promise<void> {
    for await (const plain of this.#plainChunks(row)) await use(plain)
  }

  // ---- sending -----------------------------------------------------------------------------------

  #chunkPath (row: { direction: 'in' | 'out', file: FileDescriptor }): string {
    return join(this.#dir, `${row.direction}-${hex(row.file.blobId)}.chunks`)
  }

  /**
   * Hashes the file and starts sealing it into its chunk file (sealing.ts), returning its descriptor at once: the
   * announcement leaves, and the first chunks follow it, while the rest is sealed.
   */
  async #seal (path: string, size: number, name: string, type: string, relays: string[]): Promise<FileDescriptor> {
    const { sha256, stamp } = await hashFile(path, size)
    const key = newFileKey()
    const capability = new Uint8Array(randomBytes(BLOB_CAPABILITY_BYTES))
    // The relays create the blob only under this id (src/relay/blob-store.ts): no member can claim it first.
    const blobId = blobIdOf(capability)
    const sealer = new FileSealer(key)
    const file: FileDescriptor = { name, type, size, sha256: new Uint8Array(sha256), key: new Uint8Array(key), header: new Uint8Array(sealer.header), chunks: chunkCount(size), blobId, capability, relays }
    const holdAt = this.#holdSealingForTest
    this.#holdSealingForTest = undefined
    this.#jobs.set(hex(blobId), await SealJob.start({ ...this.#sealSpec(path, file), stamp, holdAt }, sealer))
    return file
  }

  #sealSpec (source: string, file: FileDescriptor): SealSpec {
    return {
      source, target: this.#chunkPath({ direction: 'out', file }), key: file.key, header: file.header, size: file.size, sha256: file.sha256,
      // Forgotten before the last chunk goes (sealing.ts): a restart never seals a file again that may be out whole.
      whole: () => { this.#store.sealedBlob(file.blobId) }
    }
  }

  /** A sealed file whose announcement was refused: its job stops and its chunks go. */
  async #dropSeal (file: FileDescriptor): Promise<void> {
    const job = this.#jobs.get(hex(file.blobId))
    job?.cancel()
    await job?.done.catch(() => {})
    this.#jobs.delete(hex(file.blobId))
    await rm(this.#chunkPath({ direction: 'out', file }), { force: true })
  }

  /** An outgoing row's file still to be sealed after a restart: sealed again from its source (sealing.ts). */
  #resumeSeal (row: TransferRow): void {
    const key = hex(row.file.blobId)
    if (row.source === undefined || this.#jobs.has(key)) return
    this.#jobs.set(key, SealJob.resume(this.#sealSpec(row.source, row.file)))
    this.#statsOf(row).resealed++
    this.#background(this.#sealed(row))
  }

  /** Waits for a row's sealing to end: its source is then forgotten (and removed, if it was staged here); a source
   * that changed or went away fails the transfer with the reason. A stop leaves it to the next start. */
  async #sealed (row: TransferRow): Promise<void> {
    const key = hex(row.file.blobId)
    const job = this.#jobs.get(key)
    if (job === undefined || row.source === undefined) return
    try {
      await job.done
    } catch (err) {
      // Every chunk released: the contact may hold the file whole, so it is never failed nor cancelled (sealing.ts
      // releases the last chunk only once the chunk file is durable; this is the guard for any later failure).
      if (job.sealed === job.chunks) {
        await this.#dropSource(row)
        if (this.#jobs.get(key) === job) this.#jobs.delete(key)
        return
      }
      if (MessengerError.is(err, 'STOPPED') || this.#stopped || this.#isGone(row)) {
        if (this.#jobs.get(key) === job) this.#jobs.delete(key)
        // Deleted: a staged copy is of no more use (a stop keeps it for the next start).
        if (this.#isGone(row)) await this.#dropSource(row)
        return
      }
      this.#log.warn('file-seal-failed', { error: MessengerError.is(err) ? err.code : (err as Error).name })
      // The contact (each member of a group) has the announcement and would wait for the chunks for ever: it is
      // told, inside the pairwise session. The cancel is queued (in the durable outbox) BEFORE the row is failed and
      // its source dropped: a crash between, or a cancel refused at a stop, leaves the row as it was, so the next
      // start seals it again, fails again and queues the cancel again (a second one changes nothing at the contact).
      const reason = isSourceChanged(err) ? 'changed' : 'unreadable'
      const groupId = groupOfOwner(row.contactId)
      const to = groupId === undefined ? [row.contactId] : (await this.#groupMembers(groupId).catch(() => [])).map((m) => m.id)
      for (const contactId of to) {
        try {
          await this.#o.core.cancelFile?.(contactId, row.messageId, reason)
        } catch (e) {
          this.#log.warn('file-cancel-failed', { error: MessengerError.is(e) ? e.code : e instanceof Error ? e.name : typeof e })
          if (MessengerError.is(e, 'STOPPED')) {
            if (this.#jobs.get(key) === job) this.#jobs.delete(key)
            return
          }
        }
      }
      // Failed before the job goes, so a reader never finds an unsealed file without its job (#chunkReader).
      this.#set(row, { state: 'failed', failure: MessengerError.is(err) ? err.message : 'The file could not be read; send it again.' })
      if (this.#jobs.get(key) === job) this.#jobs.delete(key)
      this.wake()
      await this.#dropSource(row)
      return
    }
    await this.#dropSource(row)
    if (this.#jobs.get(key) === job) this.#jobs.delete(key)
  }

  /** A row's source is no longer needed (sealed whole, or failed): forgotten, and removed if it was staged here. */
  async #dropSource (row: TransferRow): Promise<void> {
    const source = row.source
    if (source === undefined) return
    row.source = undefined
    if (!this.#isGone(row)) this.#store.sealed(row)
    if (isStaged(source, this.#dir)) { await rm(source, { force: true }); this.#stagedHere.delete(source) }
  }

  #kick (row: TransferRow): void {
    const key = `${row.direction}/${row.contactId}/${row.messageId}`
    if (this.#stopped || this.#running.has(key)) return
    const run = (row.direction === 'out' ? (groupOfOwner(row.contactId) !== undefined ? this.#runGroupOutgoing(row) : this.#runOutgoing(row)) : this.#runIncoming(row))
      .catch((err: unknown) => { this.#log.warn('file-transfer-crashed', { error: err instanceof Error ? err.name : typeof err }) })
      .finally(() => { this.#running.delete(key); this.#wakers.delete(key) })
    this.#running.set(key, run)
  }

  async #sleep (row: TransferRow, ms: number): Promise<void> {
    // stop() woke the sleepers it found; a run that comes here after it (a failed park) must not sleep its backoff.
    if (this.#stopped) return
    const key = `${row.direction}/${row.contactId}/${row.messageId}`
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, ms)
      t.unref()
      function done (): void { clearTimeout(t); resolve() }
      this.#wakers.set(key, done)
    })
  }

  /**
   * Reads chunks for one upload, in order from any start: READ_AHEAD_CHUNKS at a time, the next block read while the
   * current one goes out (a read per chunk cost a thread-pool round trip each, on the upload's critical path).
   */
  #chunkReader (fh: FileHandle, row: TransferRow): (i: number) => Promise<Uint8Array> {
    interface Block { readonly first: number, readonly count: number, readonly buf: Buffer }
    const readBlock = async (first: number): Promise<Block> => {
      // A file still being sealed: its chunks are read once released (the last once the source checked out); a
      // failed job rejects. A row with a source and no job was never sealed whole (its job failed or was not
      // resumed): nothing of it is read.
      const job = this.#jobs.get(hex(row.file.blobId))
      if (job !== undefined) await job.waitFor(first + READ_AHEAD_CHUNKS)
      else if (row.source !== undefined || row.state === 'failed') throw unsealed()
      const buf = Buffer.allocUnsafe(READ_AHEAD_CHUNKS * FILE_CIPHER_CHUNK_BYTES)
      const got = await readFull(fh, buf, first * FILE_CIPHER_CHUNK_BYTES)
      // Only whole chunks are handed out (the rest of an unsafe buffer is never read).
      return { first, count: Math.floor(got / FILE_CIPHER_CHUNK_BYTES), buf }
    }
    let cur: Block | undefined
    let next: Promise<Block> | undefined
    return async (i) => {
      // Deleted mid-transfer: the upload stops here (putFrom fails and the run ends).
      if (this.#isGone(row)) throw new NetError('NOT_FOUND', 'That file was deleted.')
      if (row.state === 'failed') throw unsealed()
      if (cur === undefined || i < cur.first || i >= cur.first + cur.count) {
        const ahead = next === undefined ? undefined : await next
        next = undefined
        cur = ahead !== undefined && i >= ahead.first && i < ahead.first + ahead.count ? ahead : await readBlock(i)
        if (cur.count > 0) { next = readBlock(cur.first + cur.count); next.catch(() => {}) }
      }
      // A chunk file cut short (it was sealed whole and synced, so only a disk fault): nothing is made up.
      if (i >= cur.first + cur.count) throw new MessengerError('FILE_UNREADABLE', 'The encrypted copy of this file is cut short; send it again.')
      const at = (i - cur.first) * FILE_CIPHER_CHUNK_BYTES
      return cur.buf.subarray(at, at + FILE_CIPHER_CHUNK_BYTES)
    }
  }

  /** The chunk file of an outgoing row, once it exists (a restart cut its sealing short: sealed again first);
   * undefined if its source is gone or changed (#sealed then marks the transfer failed). */
  async #openOutChunks (row: TransferRow): Promise<FileHandle | undefined> {
    this.#resumeSeal(row)
    try { await this.#jobs.get(hex(row.file.blobId))?.ready } catch { return undefined }
    return await open(this.#chunkPath(row), 'r')
  }

  async #runOutgoing (row: TransferRow): Promise<void> {
    const fh = await this.#openOutChunks(row)
    if (fh === undefined) return
    const stats = this.#statsOf(row)
    try {
      let delay = FILE_RETRY_MIN_MS
      while (!this.#stopped && !this.#isGone(row) && row.state !== 'delivered' && row.state !== 'failed') {
        if (row.state === 'on-relay' && this.#copies(row) >= this.#wanted(row)) { await this.#watchFetched(row); return }
        // 1. Straight to the contact, when a direct connection is (or soon is) open.
        if (row.state !== 'on-relay' && await this.#tryDirect(row, fh, stats)) return
        // A stop ended the direct try: no relay is dialled (nor a fresh identity started) during shutdown.
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() may run during the awaits
        if (this.#stopped) return
        // 2. Parked on the contact's relays.
        const progressed = await this.#park(row, fh, stats)
        if (this.#copies(row) >= this.#wanted(row)) { await this.#watchFetched(row); return }
        if (progressed) delay = FILE_RETRY_MIN_MS
        await this.#sleep(row, delay)
        delay = Math.min(FILE_RETRY_MAX_MS, delay * 2)
      }
    } finally {
      await fh.close()
    }
  }

  /**
   * A parked file is delivered once the contact fetched it: it then deletes the blob from the relays, so the sender
   * asks them (the status of its own blob) now and then, and at once when the announcement's state changes (the
   * contact came online). Gone from every relay that held it: delivered. Costs one small request per relay per
   * check; the relay sees the uploader's short-lived identity ask about its blob (docs/threat-model.md).
   */
  async #watchFetched (row: TransferRow): Promise<void> {
    const key = `${row.direction}/${row.contactId}/${row.messageId}`
    const off = this.#o.core.subscribe((e) => { if (e.type === 'message-state' && e.message.id === row.messageId) this.#wakers.get(key)?.() })
    try {
      let delay = FETCHED_CHECK_MIN_MS
      // A deleted message's transfer (#forget) ends here too: its cleanup waits for this run.
      while (!this.#stopped && !this.#isGone(row)) {
        await this.#sleep(row, delay)
        delay = Math.min(FETCHED_CHECK_MAX_MS, delay * 2)
        const net = this.#o.net()
        // stop() or a delete may have come during the sleep (the compiler narrows #stopped as if not).
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
        if (net === undefined || this.#stopped || this.#isGone(row)) continue
        const holders = row.file.relays.filter((r) => row.relayCounts[r] === row.file.chunks)
        let gone = 0
        for (const relay of holders) {
          try {
            await net.withBlobStore(relay, 'send', async (ch) => { await ch.status(refOf(row.file)) }, { signal: this.#stopGuard.signal })
          } catch (err) {
            if (NetError.is(err, 'NOT_FOUND')) gone++
          }
        }
        if (holders.length > 0 && gone === holders.length) {
          this.#set(row, { state: 'delivered', path: 'relay', done: row.file.chunks })
          return
        }
      }
    } finally {
      off()
    }
  }

  #wanted (row: TransferRow): number { return Math.min(FILE_RELAY_COPIES, row.file.relays.length) }
  #copies (row: TransferRow): number { return row.file.relays.filter((r) => row.relayCounts[r] === row.file.chunks).length }

  /** The chunks a contact holds, asked again on the same stream while it answers NOT_FOUND (the announcement is
   * still on its way) until `until`: DIRECT_FIRST_POLL_MS doubling to DIRECT_POLL_MS. */
  async #directStatus (row: TransferRow, ch: BlobChannel, until: number): Promise<number> {
    let delay = DIRECT_FIRST_POLL_MS
    for (;;) {
      try {
        return await ch.status(refOf(row.file))
      } catch (err) {
        if (!NetError.is(err, 'NOT_FOUND') || this.#stopped || this.#isGone(row) || this.#now() + delay >= until) throw err
      }
      await this.#sleep(row, delay)
      delay = Math.min(DIRECT_POLL_MS, delay * 2)
    }
  }

  /** Streams the chunks the contact has not confirmed on a direct connection; true once all are confirmed. */
  async #tryDirect (row: TransferRow, fh: FileHandle, stats: TransferStats): Promise<boolean> {
    const peerId = this.#o.contact(row.contactId)?.theirPeerId
    if (peerId === undefined) return false
    const until = this.#now() + DIRECT_WAIT_MS
    while (!this.#stopped && this.#now() < until) {
      const net = this.#o.net()
      const ch = await net?.openFileStream(peerId, { signal: this.#stopGuard.signal }).catch(() => undefined)
      if (ch === undefined) {
        // The announcement went to the contact's mailbox: it is not reachable now, so no connection is coming.
        const m = (await this.#o.core.messages(row.contactId, { limit: 64 })).find((x) => x.id === row.messageId && x.direction === 'out')
        if (m?.state === 'stored' || m?.path === 'mailbox') return false
        await this.#sleep(row, DIRECT_POLL_MS)
        continue
      }
      try {
        const from = await this.#directStatus(row, ch, until)
        this.#set(row, { state: 'uploading', path: 'direct', done: Math.max(row.done, from), failure: undefined })
        this.#startRun(row)
        const read = this.#chunkReader(fh, row)
        // Confirmed means durable at the contact (blob-client.ts putFrom): only then does the resume point (row.done,
        // what #park parks from) move.
        await ch.putFrom(refOf(row.file), row.file.chunks, from, async (i) => { const c = await read(i); stats.sentDirect++; return c }, (n) => {
          stats.confirmedDirect = Math.max(stats.confirmedDirect, n)
          this.#confirmedForTest?.(row.messageId, n)
          if (n > row.done) { row.done = n; this.#progress(row) }
        })
        this.#set(row, { state: 'delivered', path: 'direct', done: row.file.chunks })
        return true
      } catch (err) {
        // NOT_FOUND: the announcement has not been opened there yet; anything else: the stream broke (the contact
        // went away) and the rest goes by relay, from what it confirmed.
        this.#store.update(row, this.#now())
        if (!NetError.is(err, 'NOT_FOUND')) { this.#log.debug('file-direct-failed', { error: NetError.is(err) ? err.code : (err as Error).name }); return false }
        await this.#sleep(row, DIRECT_POLL_MS)
      } finally {
        await ch.close()
      }
    }
    return false
  }

  /** Uploads to the contact's relays until FILE_RELAY_COPIES hold it; true if any chunk moved. */
  async #park (row: TransferRow, fh: FileHandle, stats: TransferStats): Promise<boolean> {
    const f = row.file
    const net = this.#o.net()
    if (net === undefined || f.relays.length === 0) {
      this.#set(row, { failure: 'Waiting: the contact is not reachable directly and has no relay to park the file on.' })
      return false
    }
    let progressed = false
    const reasons: string[] = []
    for (const relay of f.relays) {
      // A seal that failed meanwhile: nothing more goes out (#chunkReader refuses too); nor after a stop.
      if (this.#stopped || row.state === 'failed' || this.#copies(row) >= this.#wanted(row)) break
      if (row.relayCounts[relay] === f.chunks) continue
      try {
        await net.withBlobStore(relay, 'send', async (ch) => {
          let from: number
          try {
            from = await ch.status(refOf(f))
          } catch (err) {
            if (!NetError.is(err, 'NOT_FOUND')) throw err
            from = row.done // nothing there yet: park only what the contact has not confirmed
          }
          if (row.state !== 'on-relay') this.#set(row, { state: 'uploading', path: 'relay' })
          this.#startRun(row)
          const read = this.#chunkReader(fh, row)
          await ch.putFrom(refOf(f), f.chunks, from, async (i) => { const c = await read(i); stats.sentRelay++; return c }, (n) => {
            row.relayCounts[relay] = n
            progressed = true
            this.#progress(row)
          })
          row.relayCounts[relay] = f.chunks
        }, { signal: this.#stopGuard.signal })
        this.#set(row, { state: 'on-relay', path: 'relay', failure: undefined })
      } catch (err) {
        const reason = NetError.is(err, 'REFUSED') ? err.message : 'a relay could not be reached'
        reasons.push(reason)
        this.#log.debug('file-park-failed', { reason: NetError.is(err) ? (err.reason ?? err.code) : (err as Error).name })
        this.#store.update(row, this.#now())
      }
    }
    if (this.#copies(row) === 0 && row.state !== 'failed') this.#set(row, { state: 'queued', failure: `Waiting to retry: ${reasons[0] ?? 'no relay took the file'}` })
    return progressed
  }

  // ---- receiving ---------------------------------------------------------------------------------

  /**
   * Called inside the commit that stores an incoming file message (src/messenger/messenger.ts #record). Returns what
   * puts back what it took from memory (an early cancel), for the core to call if that commit rolls back.
   */
  announced (contactId: string, messageId: string, file: FileDescriptor, now: number, from?: string): (() => void) | undefined {
    // A contact's file under the message id of one of my own files in the same chat: both rows would share owner and
    // id, so neither could be named any more (AMBIGUOUS_FILE, and ?owner= cannot tell them apart). My ids are random
    // (message-id.ts), so only a hostile or broken sender collides: its file is not taken, mine stays nameable.
    if (this.#store.get(contactId, messageId, 'out') !== undefined) { this.#log.warn('file-reused-own-id', {}); return undefined }
    this.#announced.add(`${contactId}/${messageId}`)
    // A commit rolled back after this leaves its id here: the oldest go past the bound.
    for (const old of this.#announced) { if (this.#announced.size <= MAX_ANNOUNCED_PENDING) break; this.#announced.delete(old) }
    // This device's own limit, not only the wire's: a file over it is never fetched (nor accepted on a direct stream).
    const tooLarge = file.size > this.maxBytes
    // Issue 12 review: the chunk file and the transfer in progress are named by blob id, and every member of a group
    // knows a group file's blob id. A second announcement reusing one (a hostile member's, with another key) would
    // replay the first file's chunks under the wrong key and truncate them, so it is refused and never fetched.
    const dup = this.#store.byBlob(file.blobId, 'in')
    const duplicate = dup !== undefined && (dup.contactId !== contactId || dup.messageId !== messageId)
    // A group file's cancel is held under the member that sent it (`from`, the announcing member), not the group.
    const early = this.#earlyCancels.take(groupOfOwner(contactId) !== undefined ? (from ?? '') : contactId, messageId)
    const failure = duplicate
      ? 'duplicate file id: another received file already uses it; it was not downloaded.'
      : tooLarge ? `The file is too large: over this device's limit of ${mb(this.maxBytes)} MB; it was not downloaded.`
        : early !== undefined ? cancelText(early.reason) : undefined
    if (duplicate) this.#log.warn('file-duplicate-id', {})
    try {
      this.#store.insert({
        contactId, messageId, direction: 'in', file, state: failure !== undefined ? 'failed' : 'queued', path: undefined, done: 0,
        failure,
        relayCounts: {}, createdAt: now
      }, now)
    } catch (err) {
      // The insert itself failed (a full store): the commit rolls back before the core could hold the restore.
      early?.restore()
      throw err
    }
    return early?.restore
  }

  /** The row of a file message announced in this process and not yet looked up; undefined for any other message
   * (a text is not looked up in file_transfers at all: one query per incoming text, on the messaging hot path). */
  #announcedRow (owner: string, messageId: string): TransferRow | undefined {
    if (!this.#announced.delete(`${owner}/${messageId}`)) return undefined
    return this.#store.get(owner, messageId, 'in')
  }

  /**
   * Called inside the commit that opens a file-cancel control: the contact gave up a file it announced to me (its
   * source changed or could not be read while it was sealed). Only the contact's own file is looked up. The file is
   * failed with the reason, its transfer stops and its partial chunks go; one already complete stays.
   */
  cancelled (contactId: string, messageId: string, reason: FileCancelReason, now: number): void {
    this.#cancelsOpened++
    // A group file counts only if that contact announced it: its row is owned by the contact's account
    // (group-files.ts), never another member's row that shares the id, nor a row of mine (issue 12 review).
    const sender = this.#o.contact(contactId)?.accountId
    const rows = [this.#store.get(contactId, messageId, 'in'), ...this.#store.byMessage(messageId).filter((r) =>
      r.direction === 'in' && sender !== undefined && groupOfOwner(r.contactId) !== undefined && senderOfOwner(r.contactId) === sender)]
      .filter((r) => r !== undefined)
    if (rows.length === 0) {
      // The cancel overtook its announcement (another path): applied when that comes (this process only).
      this.#earlyCancels.hold(contactId, messageId, reason)
      return
    }
    // The same sender may have used one id in two of its conversations: each is its own file to give up.
    for (const row of rows) this.#cancelRow(row, reason, now)
  }

  #cancelRow (row: TransferRow, reason: FileCancelReason, now: number): void {
    if (row.state === 'delivered' || row.state === 'failed') return
    // Every chunk already here (the sender's cancel raced its own last chunk): the hash check decides, as for any
    // complete file (#runIncoming, at once or at the next start).
    if (row.done === row.file.chunks) { this.#log.info('file-cancel-after-complete', { reason }); return }
    row.state = 'failed'
    row.failure = cancelText(reason)
    this.#store.update(row, now)
    this.#log.info('file-cancelled-by-sender', { reason })
    // After the commit: the live transfer (if any) stops, then the change is published.
    setImmediate(() => { this.#background(this.#stopCancelled(row)) })
  }

  async #stopCancelled (row: TransferRow): Promise<void> {
    const key = hex(row.file.blobId)
    const p = this.#incoming.get(key)
    if (p !== undefined) {
      const inc = await p.catch(() => undefined)
      if (inc !== undefined && !inc.finished && inc.row.done === inc.row.file.chunks) {
        // Whole by now (the stored count lagged): not failed; the stored row gets the live one back and the hash
        // check (#complete) decides.
        this.#store.update(inc.row, this.#now())
        return
      }
      if (inc !== undefined && !inc.finished) {
        inc.row.state = row.state
        inc.row.failure = row.failure
        inc.finished = true
        // The live row is what later writes store: failed there too (a throttled progress write must not put its
        // old state back).
        this.#store.update(inc.row, this.#now())
        if (this.#incoming.get(key) === p) this.#incoming.delete(key)
        await inc.lock
        await this.#written(inc).catch(() => {})
        await inc.fh.close().catch(() => {})
      }
    }
    this.#wakers.get(`in/${row.contactId}/${row.messageId}`)?.()
    await this.#running.get(`in/${row.contactId}/${row.messageId}`)?.catch(() => {})
    // Completed (hash checked) between the cancel's commit and now: the file stays, chunks included.
    if (this.#store.get(row.contactId, row.messageId, 'in')?.state === 'delivered') return
    await rm(this.#chunkPath(row), { force: true })
    if (!this.#stopped && !this.#isGone(row)) this.#o.core.publish({ type: 'file', file: this.#view(row) })
  }

  #openIncoming (row: TransferRow): Promise<Incoming> {
    const key = hex(row.file.blobId)
    let p = this.#incoming.get(key)
    if (p === undefined) {
      p = this.#loadIncoming(row)
      this.#incoming.set(key, p)
      p.catch(() => { this.#incoming.delete(key) })
    }
    return p
  }

  /** Opens the chunk file and replays what it holds: the chunks that verify are the confirmed ones. */
  async #loadIncoming (row: TransferRow): Promise<Incoming> {
    const f = row.file
    const path = this.#chunkPath(row)
    // Read-write, created if missing, never truncated or appended to: one open (an 'a+' open, a close and an 'r+'
    // open were three thread-pool round trips before a direct stream's first answer).
    const fh = await open(path, constants.O_RDWR | constants.O_CREAT, 0o600)
    const opener = new FileOpener(f.key, f.header, f.chunks)
    const hash = createHash('sha256')
    let size = (await fh.stat()).size
    const key = hex(f.blobId)
    const good = this.#syncFailedAt.get(key)
    if (good !== undefined && size > good * FILE_CIPHER_CHUNK_BYTES) {
      // After a failed fdatasync: only what the last good one covered is known to be on disk.
      await fh.truncate(good * FILE_CIPHER_CHUNK_BYTES)
      size = good * FILE_CIPHER_CHUNK_BYTES
    }
    this.#syncFailedAt.delete(key)
    const whole = Math.min(f.chunks, Math.floor(size / FILE_CIPHER_CHUNK_BYTES))
    const buf = Buffer.alloc(FILE_CIPHER_CHUNK_BYTES)
    let done = 0
    for (; done < whole; done++) {
      await readFull(fh, buf, done * FILE_CIPHER_CHUNK_BYTES)
      try { hash.update(opener.open(buf).subarray(0, plainLength(f, done))) } catch { break }
    }
    if (size !== done * FILE_CIPHER_CHUNK_BYTES) await fh.truncate(done * FILE_CIPHER_CHUNK_BYTES)
    row.done = done
    this.#statsOf(row).resumedAt = done
    // synced 0: the chunks replayed may be only in the page cache (a process that died before its sync); the first
    // status answer syncs them before it counts them.
    return { row, fh, opener, hash, direct: 0, lock: Promise.resolve(), finished: false, syncing: undefined, syncQueued: undefined, syncWaited: false, synced: 0, writes: new Set(), writeError: undefined, syncLock: Promise.resolve(), batch: [], batchFirst: 0, plain: Buffer.alloc(FILE_CHUNK_BYTES) }
  }

  /**
   * Resolves once every chunk verified before the call is on disk (inc.synced covers it), unless the transfer
   * finished meanwhile (stopped, cancelled: then inc.synced says what is). Callers share syncs: one queued behind the
   * running one covers everyone who asks meanwhile (16 chunks in flight cost about one fdatasync, not 16). `waited`:
   * an answer waits for it (answerSyncMs), not only the background cadence (backgroundSyncMs).
   */
  async #durable (inc: Incoming, waited: boolean): Promise<void> {
    if (inc.synced >= inc.row.done) return
    if (waited) inc.syncWaited = true
    inc.syncQueued ??= (inc.syncing ?? Promise.resolve()).catch(() => {}).then(async () => {
      inc.syncQueued = undefined
      const answer = inc.syncWaited
      inc.syncWaited = false
      // The writes issued so far (verified chunks) must be in the file before the fdatasync can cover them; the
      // chunks verified up to now are exactly those (#append writes and counts a chunk in one step).
      const upto = inc.row.done
      const p = this.#written(inc).then(async () => {
        if (inc.finished || inc.synced >= upto) return
        const t0 = performance.now()
        await this.#datasync(inc)
        const stats = this.#statsOf(inc.row)
        if (answer) { stats.answerSyncs++; stats.answerSyncMs += performance.now() - t0 } else { stats.backgroundSyncs++; stats.backgroundSyncMs += performance.now() - t0 }
        this.#syncedTo(inc, upto)
      })
      inc.syncing = p
      await p
    })
    await inc.syncQueued
  }

  /**
   * One fdatasync of the chunk file, after those before it. A failure is the transfer's (inc.writeError): never
   * swallowed, since a later fdatasync would succeed without the pages this one lost ("fsyncgate"), and every sync
   * after it fails too.
   */
  async #datasync (inc: Incoming): Promise<void> {
    const run = inc.syncLock.then(async () => {
      if (inc.writeError !== undefined) throw inc.writeError
      try {
        await inc.fh.datasync()
      } catch (err) {
        throw this.#failIncoming(inc, err instanceof Error ? err : new Error('fdatasync failed'), inc.synced)
      }
    })
    inc.syncLock = run.catch(() => {})
    await run
  }

  /** The chunk file failed a write or an fdatasync: this transfer takes nothing more; the next open replays the
   * file (cut to `goodChunks` after a failed fdatasync) and continues from what it really holds. */
  #failIncoming (inc: Incoming, err: Error, goodChunks?: number): Error {
    if (inc.writeError !== undefined) return inc.writeError
    inc.writeError = err
    this.#log.warn(goodChunks === undefined ? 'file-chunk-write-failed' : 'file-chunk-sync-failed', { error: err.name })
    const key = hex(inc.row.file.blobId)
    if (goodChunks !== undefined) this.#syncFailedAt.set(key, Math.min(goodChunks, this.#syncFailedAt.get(key) ?? goodChunks))
    void this.#incoming.get(key)?.then((cur) => { if (cur === inc) this.#incoming.delete(key) }, () => {})
    void inc.lock.then(async () => { await Promise.allSettled([...inc.writes]) }).then(async () => { await inc.syncLock }).then(async () => { await inc.fh.close() }).catch(() => {})
    return err
  }

  #syncedTo (inc: Incoming, count: number): void {
    // After a failed fdatasync nothing more is durable (a later one that succeeded did not cover what it lost).
    if (count <= inc.synced || inc.writeError !== undefined) return
    inc.synced = count
    this.#statsOf(inc.row).durableChunks = count
  }

  /** Resolves once every chunk verified so far is written; throws if a write failed. */
  async #written (inc: Incoming): Promise<void> {
    this.#flush(inc)
    await Promise.all([...inc.writes])
    if (inc.writeError !== undefined) throw inc.writeError
  }

  /** Queues a verified chunk (the next in order) for writing, without holding up the next chunk's verification. */
  #write (inc: Incoming, index: number, cipher: Uint8Array): void {
    if (inc.batch.length === 0) inc.batchFirst = index
    inc.batch.push(cipher)
    if (inc.batch.length >= WRITE_BATCH_CHUNKS) this.#flush(inc)
  }

  /** Hands the gathered chunks to the file system in one write at their place. */
  #flush (inc: Incoming): void {
    if (inc.batch.length === 0) return
    const bufs = inc.batch
    inc.batch = []
    const fail = this.#failWritesForTest > 0
    if (fail) this.#failWritesForTest--
    const write = fail ? Promise.reject(new Error('injected write failure')) : inc.fh.writev(bufs, inc.batchFirst * FILE_CIPHER_CHUNK_BYTES)
    const w: Promise<void> = write.then(({ bytesWritten }) => {
      if (bytesWritten !== bufs.length * FILE_CIPHER_CHUNK_BYTES) throw new Error('short chunk write')
    }).then(() => {}, (err: unknown) => {
      void this.#failIncoming(inc, err instanceof Error ? err : new Error('chunk write failed'))
    }).finally(() => { inc.writes.delete(w) })
    inc.writes.add(w)
  }

  /** Verifies chunk `index` (the next one) and queues its write (#written; durable: #durable; a crash before loses
   * only chunks the replay then finds missing); chunks already held are ignored. */
  async #append (inc: Incoming, index: number, cipher: Uint8Array): Promise<void> {
    const run = inc.lock.then(async () => {
      const row = inc.row
      if (this.#isGone(row) || inc.finished) throw new NetError('NOT_FOUND', 'That file was deleted.')
      if (inc.writeError !== undefined) throw inc.writeError
      if (index < row.done) return
      if (index > row.done) throw new NetError('REFUSED', `Send chunk ${row.done} next.`, { reason: 'OUT_OF_ORDER' })
      if (this.#holdIncomingAt !== undefined && index >= this.#holdIncomingAt) {
        this.#changed(row, true) // the progress that reached the hold, whatever the event throttle says
        await this.#incomingHeld
        throw new MessengerError('STOPPED', 'The messenger is stopped.')
      }
      const plain = inc.opener.open(cipher, inc.plain)
      // Verified in order here; the write overlaps with the next chunks (a write per chunk in turn cost a thread
      // pool round trip each). A crash before the fdatasync loses only chunks the replay then finds missing.
      this.#write(inc, index, cipher)
      inc.hash.update(plain.subarray(0, plainLength(row.file, index)))
      row.done = index + 1
      if (row.done === row.file.chunks) await this.#complete(inc)
      else {
        this.#progress(row)
        if (inc.writes.size >= MAX_PENDING_WRITES) await Promise.race(inc.writes)
      }
    })
    inc.lock = run.catch(() => {})
    await run
  }

  async #complete (inc: Incoming): Promise<void> {
    const row = inc.row
    await this.#written(inc)
    const t0 = performance.now()
    // After any background sync (#datasync): if one failed, this throws and the file is not delivered.
    await this.#datasync(inc)
    this.#statsOf(row).finalSyncMs += performance.now() - t0
    this.#syncedTo(inc, row.done)
    inc.finished = true
    const ok = timingSafeEqual(inc.hash.digest(), row.file.sha256)
    if (!ok) {
      this.#set(row, { state: 'failed', failure: 'The file received does not match the hash its sender announced; it was discarded.' })
      await rm(this.#chunkPath(row), { force: true })
    } else {
      this.#set(row, { state: 'delivered', failure: undefined })
    }
    await inc.fh.close()
    this.#incoming.delete(hex(row.file.blobId))
    // The relays need not keep it any longer (best effort; they expire it anyway).
    const net = this.#o.net()
    // A group's shared copy stays: the other members fetch it too (src/messenger/files/group-files.ts).
    if (net !== undefined && ok && groupOfOwner(row.contactId) === undefined) {
      for (const relay of row.file.relays) {
        net.withBlobStore(relay, 'fetch', async (ch) => { await ch.delete(refOf(row.file)) }).catch(() => {})
      }
    }
  }

  async #runIncoming (row0: TransferRow): Promise<void> {
    let inc = await this.#openIncoming(row0)
    const row = inc.row
    const stats = this.#statsOf(row)
    // Taken before any return, so no id is left behind.
    const expectDirect = this.#expectDirect.delete(rowKey(row))
    if (row.done === row.file.chunks) { if (!inc.finished) await inc.lock.then(async () => { if (!inc.finished) await this.#complete(inc) }); return }
    // Announced over a direct connection: its sender streams the file straight within moments, and parks it on
    // relays only after DIRECT_WAIT_MS without a stream, so the relays are not asked before then (a fetch begun at
    // once found nothing and cost a relay stream in the middle of the direct transfer). A direct stream that ends
    // early wakes this (#serveStream); one that ended before this wait began leaves directEnded (its wake-up came
    // before the waker).
    if (expectDirect && inc.direct === 0 && inc.directEnded !== true) await this.#sleep(row, DIRECT_WAIT_MS)
    let delay = FILE_RETRY_MIN_MS
    const badAt = new Map<string, number>()
    while (!this.#stopped && !inc.finished && !this.#isGone(row)) {
      // A chunk write failed: that transfer takes nothing more (#flush dropped it). Reopen, replaying the chunk file
      // from disk, once the old one's writes have settled; else every later chunk met the stored error until restart.
      if (inc.writeError !== undefined) inc = await this.#reopenIncoming(inc, row0)
      if (inc.direct > 0) { await this.#sleep(row, FILE_RETRY_MAX_MS); continue }
      let progressed = false
      const net = this.#o.net()
      for (const relay of row.file.relays) {
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() may run during the awaits
        if (this.#stopped || inc.finished || inc.direct > 0 || net === undefined) break
        if (badAt.get(relay) === row.done) continue
        try {
          await net.withBlobStore(relay, 'fetch', async (ch) => {
            const ahead = new Map<number, Promise<Uint8Array>>()
            while (!inc.finished && inc.direct === 0 && !this.#stopped && !this.#isGone(row)) {
              const i = row.done
              for (let j = i; j < Math.min(row.file.chunks, i + DOWNLOAD_PREFETCH); j++) {
                if (!ahead.has(j)) { const g = ch.get(refOf(row.file), j); g.catch(() => {}); ahead.set(j, g) }
              }
              const data = await (ahead.get(i) as Promise<Uint8Array>)
              ahead.delete(i)
              stats.fetched++
              if (row.state !== 'downloading') { this.#set(row, { state: 'downloading', path: 'relay', failure: undefined }); this.#startRun(row) }
              try {
                await this.#append(inc, i, data)
              } catch (err) {
                if (E2eeError.is(err, 'BAD_CHUNK')) { stats.badChunks++; badAt.set(relay, i); this.#log.warn('file-chunk-refused', { from: 'relay' }) }
                throw err
              }
              progressed = true
            }
          }, { signal: this.#stopGuard.signal })
        } catch (err) {
          this.#log.debug('file-fetch-stopped', { error: NetError.is(err) ? err.code : E2eeError.is(err) ? err.code : (err as Error).name })
        }
      }
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
      if (inc.finished || this.#stopped) return
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
      if (progressed) delay = FILE_RETRY_MIN_MS
      await this.#sleep(row, delay)
      delay = Math.min(FILE_RETRY_MAX_MS, delay * 2)
    }
  }

  async #reopenIncoming (old: Incoming, row0: TransferRow): Promise<Incoming> {
    await old.lock
    await Promise.allSettled([...old.writes])
    const key = hex(row0.file.blobId)
    const cur = this.#incoming.get(key)
    if (cur !== undefined && await cur.catch(() => undefined) === old) this.#incoming.delete(key)
    return await this.#openIncoming(row0)
  }

  /** Serves an inbound /0m1/file/1.0.0 stream: the contact streams the chunks of a file it announced. */
  readonly handleStream = (stream: Stream, _connection: Connection): void => {
    // Each stream may hold its window of frames read ahead (4 MiB at 1.1.0) before its first frame is checked, and
    // any peer with a direct connection can open them: a bound for the whole device, not per connection.
    if (this.#streamsServed >= MAX_FILE_STREAMS_SERVED) { stream.abort(new NetError('REFUSED', 'Too many file streams at once.')); return }
    // A stop aborts it (it took chunks, and kept stop()'s close of the chunk file waiting, until the sender ended).
    const served = this.#stopGuard.serve(stream)
    if (served === undefined) return
    this.#streamsServed++
    this.#serveStream(stream).catch((err: unknown) => {
      this.#log.debug('file-stream-error', { error: (err as Error).name })
      stream.abort(err instanceof Error ? err : new Error('file stream failed'))
    }).finally(() => { this.#streamsServed--; served() })
  }

  #streamsServed = 0

  async #serveStream (stream: Stream): Promise<void> {
    const window = fileWindow(stream.protocol)
    // 1.2.0: a put is answered 'received' once checked and its write queued; durability is confirmed apart, by
    // 'durable' frames after background fdatasyncs (FILE_SYNC_EVERY_BYTES, FILE_SYNC_AFTER_MS). 1.1.0 and 1.0.0: each
    // put is answered 'stored' once an fdatasync covers it.
    const apart = fileDurableApart(stream.protocol)
    // Frames cut from the stream as they come (src/net/frame-stream.ts), not lpStream's byte-at-a-time reads.
    const lp = new FrameStream(stream, MAX_BLOB_FRAME_BYTES, window * (MAX_BLOB_FRAME_BYTES + 8))
    let inc: Incoming | undefined
    const notFound = (reqId: number): BlobServerFrame => ({ type: 'error', reqId, reason: 'NOT_FOUND', message: 'No such file, or the capability does not match.' })
    // Answers go out in request order; puts overlap (write, then a shared fdatasync on 1.1.0) up to the sender's
    // window. The answers ready together go out together: one stream write (one muxer frame, one noise message) for
    // the batch, not one per chunk, with a 'durable' frame (1.2.0) when a sync covered more since the last one sent.
    const queue: AnswerSlot[] = []
    let writing = false
    let written: Promise<void> = Promise.resolve()
    let failed: Error | undefined
    let wake: (() => void) | undefined
    let durableSent = 0
    // A background sync that ended wakes the writer even while it waits for an answer (1.2.0).
    let synced: (() => void) | undefined
    const durableDue = (): boolean => apart && inc !== undefined && inc.synced > durableSent
    const writeAnswers = async (): Promise<void> => {
      try {
        while (queue.length > 0 || durableDue()) {
          const first = queue[0]
          // A sync that ended while this writer was busy (in lp.send, or its wait below) left no wake-up: its 'durable'
          // goes now, not after the next answer is ready.
          if (first !== undefined && first.frame === undefined && !durableDue()) {
            // 1.2.0: answers go ANSWER_BATCH at a time (or all those queued, if fewer): one write per chunk cost both
            // ends a muxer frame and a noise message each. Checks finish in order, so the last of them is the one to
            // wait for.
            const last = queue[Math.min(queue.length, ANSWER_BATCH) - 1] as AnswerSlot
            await (apart ? Promise.race([last.work, new Promise<void>((resolve) => { synced = resolve })]) : first.work)
            synced = undefined
            // The others ready at the same time (one fdatasync's, or one burst's checks) settle in this turn of the
            // event loop: wait it out. An answer alone in the queue (a status, the sender's first question) goes at once.
            if (queue.length > 1) await new Promise<void>((resolve) => { setImmediate(resolve) })
          }
          const batch: Uint8Array[] = []
          for (let slot = queue[0]; slot?.frame !== undefined; slot = queue[0]) { queue.shift(); batch.push(encodeBlobServerFrame(slot.frame)) }
          // After the answers: a sender learns of a chunk received before it learns it durable.
          if (durableDue() && inc !== undefined) { durableSent = inc.synced; batch.push(encodeBlobServerFrame({ type: 'durable', reqId: 0, count: durableSent })) }
          if (batch.length > 0) await lp.send(batch)
          wake?.()
        }
      } catch (err) {
        failed ??= err instanceof Error ? err : new Error('file answer failed')
        // The read loop may sit in lp.next() (the sender waits for answers that will not come): end the stream now,
        // not at the sender's deadline.
        stream.abort(failed)
      } finally {
        // Synchronously with the empty-queue check: an answer queued from here on starts a new writer.
        writing = false
        wake?.()
      }
    }
    const kick = (): void => {
      if (writing) return
      writing = true
      written = writeAnswers()
    }
    // A sync ended: its 'durable' goes now, not after the answer the writer waits for (which may wait for the next).
    const syncEnded = (): void => { if (writing) synced?.(); else kick() }
    const answer = (work: Promise<BlobServerFrame>): void => {
      const slot: AnswerSlot = { work, frame: undefined }
      work.then((f) => { slot.frame = f }, () => {})
      queue.push(slot)
      kick()
    }
    const answered = async (): Promise<void> => { while (writing) await written }
    // 1.2.0's background syncs: one once SYNC_EVERY_CHUNKS were taken since the last was asked for, or
    // FILE_SYNC_AFTER_MS after the first chunk none covers, whichever first; each that ends sends 'durable'.
    let asked = 0
    let timer: NodeJS.Timeout | undefined
    const syncInBackground = (cur: Incoming): void => {
      clearTimeout(timer)
      timer = undefined
      asked = cur.row.done
      void (async () => {
        await this.#syncsHeld
        await this.#durable(cur, false)
      })().then(() => { if (cur.synced > durableSent) syncEnded() }, () => {})
    }
    const cadence = (cur: Incoming): void => {
      if (cur.finished) return
      if (cur.row.done - asked >= SYNC_EVERY_CHUNKS) syncInBackground(cur)
      else if (timer === undefined && cur.row.done > cur.synced) {
        timer = setTimeout(() => { timer = undefined; if (!cur.finished) syncInBackground(cur) }, FILE_SYNC_AFTER_MS)
        timer.unref()
      }
    }
    try {
      for (;;) {
        while (queue.length >= window && failed === undefined) await new Promise<void>((resolve) => { wake = resolve })
        if (failed !== undefined) throw failed
        const raw = await lp.next()
        // Frames read ahead before the stop's abort are still handed out: none may open or write a chunk file after it.
        if (this.#stopped) throw new MessengerError('STOPPED', 'The messenger is stopped.')
        if (raw === undefined) { await answered(); await stream.close().catch(() => {}); return }
        let f
        try { f = decodeBlobClientFrame(raw) } catch (err) {
          if (!WireError.is(err)) throw err
          await answered()
          await lp.send([encodeBlobServerFrame({ type: 'error', reqId: 0, reason: 'BAD_FRAME', message: err.message })])
          await stream.close().catch(() => {})
          return
        }
        const row = inc?.row ?? this.#store.byBlob(f.blobId, 'in')
        // A group's member holds the fetch token; its sender presents the capability (group-files.ts).
        const capOk = row !== undefined && (groupOfOwner(row.contactId) !== undefined ? presentsCapability(row.file.capability, f.capability) : timingSafeEqual(row.file.capability, f.capability))
        if (row === undefined || row.state === 'failed' || this.#isGone(row) || !timingSafeEqual(row.file.blobId, f.blobId) || !capOk || f.type === 'get' || f.type === 'delete') {
          answer(Promise.resolve(notFound(f.reqId)))
          continue
        }
        if (inc === undefined) {
          inc = await this.#openIncoming(row)
          inc.direct++
        }
        const cur = inc
        const reqId = f.reqId
        if (f.type === 'status') {
          if (cur.row.state !== 'delivered') { this.#set(cur.row, { state: 'downloading', path: 'direct', failure: undefined }); this.#startRun(cur.row) }
          // The count a sender resumes from: only chunks on disk (a replay after a crash may hold more, in the page
          // cache only), so it is synced first.
          answer(this.#durable(cur, true).then((): BlobServerFrame => {
            asked = Math.max(asked, cur.synced)
            return { type: 'have', reqId, count: cur.synced, chunks: cur.row.file.chunks }
          }))
          continue
        }
        const index = f.index
        const refused = (err: unknown): BlobServerFrame => {
          if (E2eeError.is(err, 'BAD_CHUNK')) this.#statsOf(cur.row).badChunks++
          return { type: 'error', reqId, reason: NetError.is(err, 'REFUSED') ? 'OUT_OF_ORDER' : 'BAD_FRAME', message: 'The chunk was refused; send it again.' }
        }
        if (apart) {
          answer(this.#append(cur, index, f.data).then(async (): Promise<BlobServerFrame> => {
            const stats = this.#statsOf(cur.row)
            stats.receivedDirect++
            stats.maxUnsyncedChunks = Math.max(stats.maxUnsyncedChunks, cur.row.done - cur.synced)
            cadence(cur)
            // Backpressure: past the bound of bytes not yet durable, the answer waits for a sync (the sender's window
            // then fills), so a disk slower than the wire holds the sender back instead of filling the page cache.
            if (cur.row.done - cur.synced > MAX_UNSYNCED_CHUNKS) await this.#durable(cur, true)
            return { type: 'received', reqId, index }
          }, refused))
          continue
        }
        answer(this.#append(cur, index, f.data).then(async (): Promise<BlobServerFrame> => {
          await this.#durable(cur, true)
          // A stop or cancel ended the transfer before a sync covered the chunk: never answered 'stored'.
          if (cur.synced <= index) throw new MessengerError('STOPPED', 'The chunk was not made durable.')
          this.#statsOf(cur.row).receivedDirect++
          return { type: 'stored', reqId, index }
        }, refused))
      }
    } finally {
      clearTimeout(timer)
      if (inc !== undefined) {
        inc.direct--
        inc.directEnded = true
        // The relay path takes over where the stream stopped.
        if (!inc.finished) { this.#kick(inc.row); this.wake() }
      }
    }
  }

  // ---- groups (src/messenger/files/group-files.ts) ----

  async sendToGroup (groupId: string, path: string, text = '', asName?: string): Promise<{ message: GroupMessageView, file: FileView }> {
    if (this.#stopped) throw new MessengerError('STOPPED', 'The messenger is stopped.')
    const groups = this.#o.core.groups
    if (groups === undefined) throw new MessengerError('UNKNOWN_GROUP', 'There is no group with that id.')
    const g = await groups.get(groupId)
    if (!g.member) throw new MessengerError('NOT_MEMBER', 'You are not a member of this group any more.')
    const size = await fileSize(path)
    if (size > this.maxBytes) {
      throw new MessengerError('FILE_TOO_LARGE', `The file is ${mb(size)} MB and files may be at most ${mb(this.maxBytes)} MB; nothing was sent.`)
    }
    const name = fitUtf8(asName ?? basename(path), MAX_FILE_NAME_BYTES)
    const members = await this.#groupMembers(groupId)
    const file = await this.#seal(path, size, name, guessType(name).slice(0, MAX_FILE_TYPE_BYTES), groupFileRelays(members))
    let message: GroupMessageView
    try {
      // Members get the fetch token, not the capability: they can fetch the relay copy but never delete it.
      message = await groups.send(groupId, text, { file: { ...file, capability: fetchToken(file.capability) } })
    } catch (err) {
      await this.#dropSeal(file)
      throw err
    }
    const row: TransferRow = { contactId: groupFileOwner(groupId, ''), messageId: message.id, direction: 'out', file, state: 'queued', path: undefined, done: 0, failure: undefined, relayCounts: {}, createdAt: this.#now(), source: resolve(path) }
    this.#store.insert(row, this.#now())
    // Sealed whole before the row was written (SealSpec.whole found no row): its source is forgotten in the store now.
    const job = this.#jobs.get(hex(file.blobId))
    if (job !== undefined && job.sealed === job.chunks) this.#store.sealed(row)
    this.#changed(row, true)
    this.#kick(row)
    await this.#sealed(row)
    return { message, file: this.#view(row) }
  }

  async sendBytesToGroup (groupId: string, name: string, bytes: Uint8Array, text = ''): Promise<{ message: GroupMessageView, file: FileView }> {
    if (bytes.length > this.maxBytes) {
      throw new MessengerError('FILE_TOO_LARGE', `The file is ${mb(bytes.length)} MB and files may be at most ${mb(this.maxBytes)} MB; nothing was sent.`)
    }
    // Kept until sealed, as for sendBytes.
    const staged = await this.#stage(bytes)
    try {
      return await this.sendToGroup(groupId, staged, text, name)
    } catch (err) {
      await rm(staged, { force: true })
      throw err
    }
  }

  listGroup (groupId: string): FileView[] {
    return this.#store.listPrefix(groupOwnerPrefix(groupId)).map((r) => this.#view(r))
  }

  /** The other members of a group, as contacts (a member met through the group is one too). */
  async #groupMembers (groupId: string): Promise<ContactPort[]> {
    const g = await this.#o.core.groups?.get(groupId)
    return (g?.members ?? []).filter((m) => !m.me && m.contactId !== undefined).map((m) => this.#o.contact(m.contactId as string)).filter((c) => c !== undefined)
  }

  /**
   * A group file: straight to each member with a direct connection (from what that member confirmed), and one copy
   * parked on relays (FILE_RELAY_COPIES of the members' relays) for every member that was not reached. Delivered
   * when every member confirmed it directly; otherwise it stays on-relay: members fetch it when they come, and the
   * sender cannot see them do it (members hold only the fetch token and cannot delete it; group-files.ts).
   */
  async #runGroupOutgoing (row: TransferRow): Promise<void> {
    const groupId = groupOfOwner(row.contactId) as string
    const fh = await this.#openOutChunks(row)
    if (fh === undefined) return
    const stats = this.#statsOf(row)
    try {
      let delay = FILE_RETRY_MIN_MS
      while (!this.#stopped && !this.#isGone(row) && row.state !== 'delivered' && row.state !== 'failed') {
        let waiting = 0
        for (const m of await this.#groupMembers(groupId)) {
          if (row.relayCounts[memberKey(m.id)] === row.file.chunks) continue
          if (!await this.#directToMember(row, m, fh, stats)) waiting++
        }
        if (waiting === 0) { this.#set(row, { state: 'delivered', path: 'direct', done: row.file.chunks, failure: undefined }); return }
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() may run during the awaits
        if (this.#stopped) return
        const progressed = this.#copies(row) >= this.#wanted(row) ? false : await this.#park(row, fh, stats)
        if (this.#copies(row) >= this.#wanted(row)) { this.#set(row, { state: 'on-relay', path: 'relay', failure: undefined }); return }
        if (progressed) delay = FILE_RETRY_MIN_MS
        await this.#sleep(row, delay)
        delay = Math.min(FILE_RETRY_MAX_MS, delay * 2)
      }
    } finally {
      await fh.close()
    }
  }

  /** Streams a group file to one member on a direct connection; false when there is none (or it broke). */
  async #directToMember (row: TransferRow, member: ContactPort, fh: FileHandle, stats: TransferStats): Promise<boolean> {
    const peerId = member.theirPeerId
    if (peerId === undefined) return false
    const key = memberKey(member.id)
    const until = this.#now() + DIRECT_WAIT_MS
    while (!this.#stopped && !this.#isGone(row) && this.#now() < until) {
      const ch = await this.#o.net()?.openFileStream(peerId, { signal: this.#stopGuard.signal }).catch(() => undefined)
      if (ch === undefined) return false
      try {
        const from = await this.#directStatus(row, ch, until)
        if (row.state === 'queued') { this.#set(row, { state: 'uploading', path: 'direct', failure: undefined }); this.#startRun(row) }
        const read = this.#chunkReader(fh, row)
        await ch.putFrom(refOf(row.file), row.file.chunks, from, async (i) => { const c = await read(i); stats.sentDirect++; return c }, (n) => {
          row.relayCounts[key] = n
          this.#progress(row)
        })
        row.relayCounts[key] = row.file.chunks
        this.#store.update(row, this.#now())
        return true
      } catch (err) {
        // NOT_FOUND: the announcement has not been opened there yet; anything else: the stream broke.
        this.#store.update(row, this.#now())
        if (!NetError.is(err, 'NOT_FOUND')) return false
        await this.#sleep(row, DIRECT_POLL_MS)
      } finally {
        await ch.close()
      }
    }
    return false
  }

  // ---- state and events --------------------------------------------------------------------------

  #startRun (row: TransferRow): void {
    clearTimeout(this.#runs.get(rowKey(row))?.kept)
    this.#runs.set(rowKey(row), { start: this.#now(), startDone: row.done, lastEvent: 0 })
  }

  #set (row: TransferRow, patch: Partial<Pick<TransferRow, 'state' | 'path' | 'done' | 'failure'>>): void {
    // An outgoing file fails only when its source could not be sealed (#sealed), an incoming one when its hash did not
    // match or its sender cancelled it (cancelled): final, whatever a run still says.
    if (row.state === 'failed') return
    if ('state' in patch && patch.state !== undefined) row.state = patch.state
    if ('path' in patch) row.path = patch.path
    if ('done' in patch && patch.done !== undefined) row.done = patch.done
    if ('failure' in patch) row.failure = patch.failure
    this.#changed(row, true)
    if (row.direction === 'out' && patch.state === 'delivered') this.#dropSent(row)
  }

  #progress (row: TransferRow): void {
    this.#changed(row, false)
  }

  #changed (row: TransferRow, force: boolean): void {
    const run = this.#runs.get(rowKey(row))
    const now = this.#now()
    if (!force && run !== undefined && now - run.lastEvent < PROGRESS_EVENT_MS) {
      // Kept back, not dropped: stored and published at the period's end. A transfer that stalls right after (a
      // receiver that stopped confirming; a fast transfer reaching a hold) otherwise showed, and kept in the store,
      // the count of up to a period before the stall for as long as it lasted.
      if (run.kept === undefined) {
        run.kept = setTimeout(() => { run.kept = undefined; if (this.#runs.get(rowKey(row)) === run) this.#changed(row, true) }, Math.min(PROGRESS_EVENT_MS, run.lastEvent + PROGRESS_EVENT_MS - now))
        run.kept.unref()
      }
      return
    }
    if (run !== undefined) { run.lastEvent = now; clearTimeout(run.kept); run.kept = undefined }
    if (this.#stopped || this.#isGone(row)) return
    this.#store.update(row, now)
    this.#o.core.publish({ type: 'file', file: this.#view(row) })
  }

  #view (row: TransferRow): FileView {
    const f = row.file
    // A group's direct upload counts per member (group-files.ts memberKey): the furthest member shows the progress.
    const groupDirect = row.direction === 'out' && row.path === 'direct' && groupOfOwner(row.contactId) !== undefined
    const done = row.direction === 'out' && row.path === 'relay' ? Math.max(0, ...f.relays.map((r) => row.relayCounts[r] ?? 0))
      : groupDirect ? Math.max(row.done, ...Object.entries(row.relayCounts).filter(([k]) => !k.startsWith('/')).map(([, n]) => n)) : row.done
    const bytes = Math.min(f.size, done * FILE_CHUNK_BYTES)
    const run = this.#runs.get(rowKey(row))
    const elapsed = run === undefined ? 0 : (this.#now() - run.start) / 1000
    const active = row.state === 'uploading' || row.state === 'downloading'
    const speed = active && run !== undefined && elapsed > 0 ? Math.round(Math.max(0, done - run.startDone) * FILE_CHUNK_BYTES / elapsed) : 0
    return {
      messageId: row.messageId,
      contactId: row.contactId,
      ...(groupOfOwner(row.contactId) !== undefined ? { groupId: groupOfOwner(row.contactId) } : {}),
      ...(senderOfOwner(row.contactId) ? { senderAccountId: senderOfOwner(row.contactId) } : {}),
      direction: row.direction,
      name: f.name,
      type: f.type,
      size: f.size,
      state: row.state,
      ...(row.path !== undefined ? { path: row.path } : {}),
      chunks: f.chunks,
      doneChunks: done,
      bytes,
      percent: f.chunks === 0 ? 100 : Math.floor(done * 100 / f.chunks),
      speed,
      ...(row.failure !== undefined ? { failure: row.failure } : {}),
      relayCopies: this.#copies(row),
      at: row.createdAt
    }
  }
}

/** What the receiver shows for a file its sender cancelled. */
function cancelText (reason: FileCancelReason): string {
  switch (reason) {
    case 'changed': return 'The sender stopped sending this file: it changed or went away on their device before it was sent whole.'
    case 'unreadable': return 'The sender stopped sending this file: it could not be read on their device.'
    default: return 'The sender stopped sending this file.'
  }
}

/** A chunk asked for that was never sealed (its seal failed, or was cut short and not resumed): never read. */
function unsealed (): MessengerError {
  return new MessengerError('FILE_UNREADABLE', 'This file was not sealed whole; nothing more of it is sent.')
}

/** A copy of bytes sendBytes staged in the files directory for sealing (removed once sealed). */
function isStaged (source: string, dir: string): boolean {
  return resolve(dirname(source)) === dir && basename(source).startsWith(STAGED_PREFIX)
}

function mb (bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(bytes < 10 * 1024 * 1024 ? 1 : 0)
}

/** The size of a regular file, or FILE_UNREADABLE. */
async function fileSize (path: string): Promise<number> {
  try {
    const st = await stat(path)
    if (!st.isFile()) throw new Error('not a file')
    return st.size
  } catch (err) {
    throw new MessengerError('FILE_UNREADABLE', 'That file could not be read; check the path.', { cause: err })
  }
}

/** Cuts a name to at most `max` UTF-8 bytes without splitting a character. */
function fitUtf8 (s: string, max: number): string {
  let out = s.length === 0 ? 'file' : s
  while (Buffer.byteLength(out, 'utf8') > max) out = out.slice(0, -1)
  return out
}
