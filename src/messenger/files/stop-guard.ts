// What a stop of the file transfers must end at once rather than wait for: every network operation a transfer has
// open with a peer or a relay. A stop is what a user closing the app does mid-download, so it must not wait on the
// remote side: a direct stream that keeps delivering chunks (their writes kept the chunk file's close waiting, and
// a sender's put loop ran to the file's last chunk, direct or to a relay), a request waiting for its deadline, or a
// write waiting for a muxer drain from a peer that stopped reading (a frozen process keeps its connection open: the
// put loop gave up only at a request's deadline, 20 s, and its channel's close then waited 2 s more).
import { setMaxListeners } from 'node:events'
import type { Stream } from '@libp2p/interface'
import { MessengerError } from '../errors.ts'

export class StopGuard {
  readonly #ctl = new AbortController()
  readonly #streams = new Set<Stream>()

  constructor () {
    // Every open channel listens on this one signal (a dozen photos at once passed Node's default of 10 listeners
    // and printed a leak warning); each removes its listener when it ends.
    setMaxListeners(0, this.#ctl.signal)
  }

  /** Aborted by stop(): given to every dial, relay stream and direct stream a transfer opens (BlobChannel aborts its
   * stream on it). */
  get signal (): AbortSignal { return this.#ctl.signal }

  /**
   * An inbound file stream, aborted by stop() while it is served; the returned function ends that (call it once the
   * stream is served). After the stop a new stream is aborted at once and undefined returned.
   */
  serve (stream: Stream): (() => void) | undefined {
    if (this.#ctl.signal.aborted) { stream.abort(stopping()); return undefined }
    this.#streams.add(stream)
    return () => { this.#streams.delete(stream) }
  }

  /** Aborts everything tracked and everything given the signal: their waits fail now, whatever the remote does. */
  stop (): void {
    this.#ctl.abort(stopping())
    for (const s of this.#streams) s.abort(stopping())
    this.#streams.clear()
  }
}

function stopping (): MessengerError { return new MessengerError('STOPPED', 'The messenger is stopped.') }
