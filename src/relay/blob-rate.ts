// Per-peer upload budget of the blob store (issue 12): bytes of chunks one uploading peer may park on this relay
// per window. The blob quotas bound what the store holds; this bounds how fast one peer can fill it (and the disk
// writes it costs), so one sender cannot take the whole store in a burst and shut out everyone else. Counted in
// memory only (the relay stores nothing about who uploaded), so a restart forgets it. A device uploads from its
// short-lived 'send' identity, which it replaces by age: the budget is per identity, and a device that changes
// identity gets a fresh one. Fresh ids cost nothing, so blob-service.ts keeps a second instance keyed by network
// prefix (ipPrefix, as the mailbox admission) which bounds what fresh ids from one network can take.

/** Peers tracked at most; past it, expired windows are dropped at once (one entry is ~100 bytes). */
export const MAX_TRACKED_UPLOADERS = 50_000

export interface UploadBudget {
  /** Bytes one peer may upload per window (short-invite parking, src/relay/parked-invites.ts, counts parks instead). */
  readonly bytesPerWindow: number
  readonly windowMs: number
}

export class UploadRate {
  readonly #windows = new Map<string, { start: number, bytes: number }>()

  constructor (private readonly budget: UploadBudget) {}

  /** Counts `bytes` for `peer` if they fit its window's budget; false (nothing counted) when they do not. */
  take (peer: string, bytes: number, now: number): boolean {
    let w = this.#windows.get(peer)
    if (w === undefined || now - w.start >= this.budget.windowMs) {
      if (w === undefined && this.#windows.size >= MAX_TRACKED_UPLOADERS) this.#prune(now)
      w = { start: now, bytes: 0 }
      this.#windows.set(peer, w)
    }
    if (w.bytes + bytes > this.budget.bytesPerWindow) return false
    w.bytes += bytes
    return true
  }

  /** Gives back bytes counted by `take` that were not used after all (another budget refused them). */
  refund (peer: string, bytes: number): void {
    const w = this.#windows.get(peer)
    if (w !== undefined) w.bytes = Math.max(0, w.bytes - bytes)
  }

  /** Peers tracked now (tests, metrics). */
  get size (): number { return this.#windows.size }

  #prune (now: number): void {
    for (const [peer, w] of this.#windows) if (now - w.start >= this.budget.windowMs) this.#windows.delete(peer)
    // Still full of live windows (a flood of fresh identities): forget the oldest half; each gets a fresh budget,
    // which the per-blob and total quotas still bound.
    if (this.#windows.size >= MAX_TRACKED_UPLOADERS) {
      let drop = this.#windows.size / 2
      for (const peer of this.#windows.keys()) { if (drop-- <= 0) break; this.#windows.delete(peer) }
    }
  }
}
